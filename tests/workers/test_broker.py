"""The broker is only a doorbell: lost or unreachable, the ledger still sends each row once."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
import redis
from kombu.exceptions import OperationalError
from sqlalchemy import Engine

from campaigns.daily import daily_run
from campaigns.loader import Config, load_config
from tests.factories import ShopFactory, local
from tests.workers.helpers import count, start_worker, stop_worker, wait_for
from tests.workers.test_celery import REDIS, _redis_or_skip, _settings_file
from workers import ledger
from workers.celery_config import make_app

AT = local("2026-06-15 09:00")


def _deliver_with_a_worker(engine: Engine, settings: Path, config: Config, expected: int) -> int:
    worker = start_worker(settings)
    try:
        make_app(config).send_task("leal.dispatch")
        return wait_for(engine, expected)
    finally:
        stop_worker(worker)


def test_tasks_flushed_from_the_broker_lose_nothing(
    engine: Engine, db_url: str, shop: ShopFactory, tmp_path: Path
) -> None:
    _redis_or_skip()
    for n in range(6):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15))
    settings = _settings_file(tmp_path, db_url)
    config = load_config(settings)
    daily_run(engine, config, AT)
    # given dispatched batches that the broker then loses (FLUSHDB) before any worker ran
    make_app(config).send_task("leal.dispatch")
    time.sleep(0.5)
    redis.Redis.from_url(REDIS).flushdb()
    # when a worker starts and the rows are dispatched again
    sent = _deliver_with_a_worker(engine, settings, config, 6)
    # then all six go out, once each
    assert sent == 6
    assert len(list((tmp_path / "outbox" / "email").glob("*.eml"))) == 6


def test_a_broker_that_is_down_delays_but_loses_nothing(
    engine: Engine, db_url: str, shop: ShopFactory, tmp_path: Path
) -> None:
    _redis_or_skip()
    for n in range(4):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15))
    settings = _settings_file(tmp_path, db_url)
    config = load_config(settings)
    daily_run(engine, config, AT)
    # given a broker nobody answers on
    down = Config(config.settings.model_copy(update={"workers": config.settings.workers.model_copy(
        update={"broker_url": "redis://127.0.0.1:1/0"})}), None)  # fmt: skip
    with pytest.raises(OperationalError):
        make_app(down).send_task("leal.dispatch", retry=False)
    assert count(engine, ledger.SENT) == 0
    # when the broker is back, the rows (still queued in the ledger) go out once
    assert _deliver_with_a_worker(engine, settings, config, 4) == 4
