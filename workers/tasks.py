"""Celery tasks. They carry outbox ids only, never personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import Engine

from campaigns.daily import daily_run, run_instant
from campaigns.loader import Config
from shop.db import make_engine
from templates.unsubscribe import Signer
from workers import ledger
from workers.celery_app import app
from workers.channels import make_channel
from workers.deliver import Deliverer


def _config() -> Config:
    config: Config = app.leal_config  # type: ignore[attr-defined]
    return config


@cache
def _engine() -> Engine:
    return make_engine(_config().settings.database.url)


@cache
def _deliverer() -> Deliverer:
    """One per worker process: its channel keeps its connection between tasks."""
    config = _config()
    return Deliverer(_engine(), config, make_channel(config), Signer.from_env())


@app.task(name="leal.deliver_batch")
def deliver_batch(ids: list[int]) -> dict[str, int]:
    """Deliver these outbox rows; rows another worker holds or finished are left alone."""
    return dict(_deliverer().deliver(ids, datetime.now(UTC)))


@app.task(name="leal.dispatch")
def dispatch() -> int:
    """Queue every due row, in batches; returns how many rows were queued."""
    batch = _config().settings.delivery.batch
    with _engine().connect() as connection:
        ids = ledger.due_ids(connection, datetime.now(UTC), limit=1_000_000)
    for start in range(0, len(ids), batch):
        deliver_batch.delay(ids[start : start + batch])
    return len(ids)


@app.task(name="leal.daily_run")
def scheduled_daily_run() -> int:
    """Beat's daily run: plan today at `daily_at`, write the ledger, dispatch."""
    config = _config()
    result = daily_run(_engine(), config, run_instant(config))
    dispatch.delay()
    return len(result.plan.planned)


@app.task(name="leal.recover")
def recover() -> int:
    """Give back rows whose worker died mid-send (claimed too long ago), then dispatch."""
    now = datetime.now(UTC)
    timeout = timedelta(minutes=_config().settings.delivery.claim_timeout_minutes)
    with _engine().begin() as connection:
        released = ledger.release_stale(connection, now - timeout, now)
    dispatch.delay()
    return released
