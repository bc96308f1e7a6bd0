"""A worker killed with kill -9 mid-batch: after recovery every email arrives exactly once.

The kill lands while the worker waits on the SMTP server in the middle of a message (before
the message's data was handed over), with other rows of its batch done and others not yet
started. The one moment no protocol can settle — a server that accepted the data but whose
reply never reached the client — is left to the stable Message-ID (docs/delivery.md).
"""

from __future__ import annotations

import signal
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine

from campaigns.daily import daily_run
from campaigns.loader import load_config
from tests.factories import ShopFactory, local
from tests.workers.helpers import count, start_worker, stop_worker, wait_for
from tests.workers.smtp_sink import smtp_sink
from tests.workers.test_celery import REDIS, _redis_or_skip
from workers import ledger
from workers.celery_config import make_app

AT = local("2026-06-15 09:00")


def _settings(tmp_path: Path, db_url: str, port: int) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(f"""
[database]
url = "{db_url}"
[shop]
url = "https://cafe-leal.eu"
postal_address = "Carrer Major 1, 08001 Barcelona"
[email]
from_address = "hola@cafe-leal.eu"
[web]
public_url = "https://leal.cafe-leal.eu"
[workers]
broker_url = "{REDIS}"
[delivery]
email = "smtp"
batch = 5
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
[campaigns.birthday]
trigger = "birthday"
channels = ["email"]
template = "birthday"
holdout_percent = 0
recommendations = 0
""", encoding="utf-8")  # fmt: skip
    return path


def test_kill_9_mid_batch_then_recovery_sends_each_email_once(
    engine: Engine, db_url: str, shop: ShopFactory, tmp_path: Path
) -> None:
    _redis_or_skip()
    for n in range(20):
        shop.customer(f"c{n:02d}", birth_date=date(1990, 6, 15))
    with smtp_sink() as (server, port):
        server.hold = "c07@example.com"  # the 8th email: mid-way through the second batch
        settings = _settings(tmp_path, db_url, port)
        config = load_config(settings)
        daily_run(engine, config, AT)
        producer = make_app(config)
        # when a worker delivers and is killed -9 while the server holds the 8th email
        first = start_worker(settings)
        producer.send_task("leal.dispatch")
        assert server.holding.wait(60), "the worker never reached the held email"
        stop_worker(first, signal.SIGKILL)
        before = count(engine, ledger.SENT)
        # and the ledger gives back what the dead worker held, and a new worker delivers
        with engine.begin() as connection:
            now = datetime.now(UTC)
            released = ledger.release_stale(connection, now, now)
        second = start_worker(settings)
        try:
            producer.send_task("leal.dispatch")
            after = wait_for(engine, 20)
        finally:
            stop_worker(second)
        # then the crash happened mid-batch, and the server holds every email exactly once
        assert 7 <= before < 20 and released >= 1
        assert after == 20
        assert sorted(server.recipients) == [f"c{n:02d}@example.com" for n in range(20)]
        assert len(server.messages) == 20
