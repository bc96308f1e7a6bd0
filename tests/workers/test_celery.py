"""A real Celery worker process against the local Redis delivers the ledger's rows once."""

from __future__ import annotations

import os
import subprocess
import sys
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
from workers import ledger
from workers.celery_app import make_app

REDIS = os.environ.get("LEAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
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
""",
        encoding="utf-8",
    )
    return path


def _wait_until_done(engine: Engine, expected: int, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            done = (
                connection.scalar(
                    select(func.count()).where(OutboxMessage.status.in_(ledger.FINAL))
                )
                or 0
            )
        if done >= expected:
            return done
        time.sleep(0.2)
    return done


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
    env = os.environ | {"LEAL_SETTINGS": str(settings_path), "LEAL_SECRET_KEY": "k" * 32}
    worker = subprocess.Popen(
        [sys.executable, "-m", "campaigns.cli", "worker", "-c", "2", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # when the due rows are dispatched twice (a task redelivered, or two runs)
        producer = make_app(config)
        producer.send_task("leal.dispatch")
        producer.send_task("leal.dispatch")
        done = _wait_until_done(engine, 10)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")
    # then every message went out exactly once
    assert done == 10, output[-3000:]
    with engine.connect() as connection:
        statuses = connection.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        ).all()
    assert statuses == [("sent", 10)]
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 10
    assert "c0@example.com" not in output  # logs carry ids, never addresses
