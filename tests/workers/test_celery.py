"""A real Celery worker process against the local Redis delivers the ledger's rows once."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select

from campaigns.daily import daily_run
from campaigns.loader import load_config
from shop.models import OutboxMessage
from tests.factories import ShopFactory, local
from tests.workers.helpers import start_worker, stop_worker, wait_for
from workers import ledger
from workers.celery_config import make_app

# A database per test session (1–15 by process id), flushed by the tests that use it: two
# suites at once (a developer's and CI's) do not take each other's tasks.
REDIS = os.environ.get("LEAL_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{1 + os.getpid() % 15}")
AT = local("2026-06-15 09:00")


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS).flushdb()
    except redis.exceptions.ConnectionError:
        if os.environ.get("LEAL_TEST_REQUIRE_POSTGRES") == "1":  # CI: services are required
            pytest.fail(f"Redis is required but unreachable at {REDIS}")
        pytest.skip(f"Redis unreachable at {REDIS}")


def _settings_file(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(
        f"""
[database]
url = "{db_url}"
[workers]
broker_url = "{REDIS}"
[delivery]
folder = "outbox"
batch = 3
[campaigns.birthday]
trigger = "birthday"
channels = ["email"]  # SMS waits for sending hours; the worker uses the real clock
template = "birthday"
holdout_percent = 0
""",
        encoding="utf-8",
    )
    return path


def test_a_worker_delivers_every_queued_row_once(
    engine: Engine, db_url: str, shop: ShopFactory, tmp_path: Path
) -> None:
    _redis_or_skip()
    # given 10 birthday emails planned into the ledger
    for n in range(10):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15))
    settings_path = _settings_file(tmp_path, db_url)
    config = load_config(settings_path)
    daily_run(engine, config, AT)
    worker = start_worker(settings_path, processes=2)  # two pool processes race for rows
    try:
        # when the due rows are dispatched twice (a task redelivered, or two runs)
        producer = make_app(config)
        producer.send_task("leal.dispatch")
        producer.send_task("leal.dispatch")
        done = wait_for(engine, 10, *ledger.FINAL)
    finally:
        stop_worker(worker)
    # then every message went out exactly once
    assert done == 10
    with engine.connect() as connection:
        statuses = connection.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    assert statuses == [("sent", 10)]
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 10


def test_run_says_the_workers_answered_and_exits_0(
    engine: Engine, db_url: str, shop: ShopFactory, tmp_path: Path
) -> None:
    import time

    from click.testing import CliRunner

    from campaigns.cli import main

    _redis_or_skip()
    # given a worker that listens on the broker
    shop.customer("ana", birth_date=date(1990, 6, 15))
    settings_path = _settings_file(tmp_path, db_url)
    worker = start_worker(settings_path)
    try:
        control, deadline = make_app(load_config(settings_path)).control, time.monotonic() + 30
        while not control.ping(timeout=0.5) and time.monotonic() < deadline:
            time.sleep(0.2)  # until it has booted
        # when a run dispatches
        args = ["--settings", str(settings_path), "run", "--date", "2026-06-15"]
        ran = CliRunner().invoke(main, args, env={"LEAL_SECRET_KEY": "k" * 32})
        # then it says a worker answered, exits 0, and the worker delivers the email
        assert ran.exit_code == 0, ran.output
        assert "Dispatched to the workers (1 answered)." in ran.output
        assert wait_for(engine, 1) == 1
    finally:
        stop_worker(worker)


def test_a_worker_whose_settings_cannot_make_working_links_delivers_nothing(
    engine: Engine, db_url: str, shop: ShopFactory, tmp_path: Path
) -> None:
    _redis_or_skip()
    # given SMTP delivery with the shipped default public_url (http://localhost:8000), so
    # every unsubscribe link would point at localhost, and three planned emails
    for n in range(3):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15))
    settings_path = _settings_file(tmp_path, db_url)
    text = settings_path.read_text(encoding="utf-8")
    text = text.replace('folder = "outbox"', 'folder = "outbox"\nemail = "smtp"')
    text += '\n[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n'
    settings_path.write_text(text, encoding="utf-8")
    config = load_config(settings_path)
    daily_run(engine, config, AT)
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = start_worker(settings_path, log=out)
        try:
            # when the due rows are dispatched to it
            make_app(config).send_task("leal.dispatch")
            deadline = time.monotonic() + 60
            while "NotReadyError" not in log.read_text(errors="replace"):
                assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
                time.sleep(0.2)
        finally:
            stop_worker(worker)
    # then its task failed on the readiness check, naming the setting, before any claim:
    # every row is still queued and no attempt was spent
    assert "public_url" in log.read_text(errors="replace")
    with engine.connect() as connection:
        rows = connection.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert sorted(tuple(row) for row in rows) == [("queued", 0)] * 3
