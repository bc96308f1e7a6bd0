"""Celery tasks. They carry outbox ids only, never personal data."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from sqlalchemy import Engine

from campaigns.daily import daily_run, run_instant
from campaigns.loader import Config
from shop.db import make_engine
from templates.unsubscribe import Signer
from workers import channel_health
from workers.celery_app import app
from workers.channels import Routed, make_channel
from workers.deliver import Deliverer
from workers.run import release_lost


class NotReadyError(RuntimeError):
    """The settings or secrets cannot make working messages: this worker delivers nothing."""


def _config() -> Config:
    config: Config = app.leal_config  # type: ignore[attr-defined]
    return config


@cache
def _engine() -> Engine:
    return make_engine(_config().settings.database.url)


@cache
def _channel() -> Routed:
    """One per worker process: it keeps its connection between tasks."""
    return make_channel(_config())


@cache
def _deliverer() -> Deliverer:
    config = _config()
    _refuse_if_not_ready(config)
    return Deliverer(_engine(), config, _channel(), Signer.from_env())


def _refuse_if_not_ready(config: Config) -> None:
    """Fail closed, as `leal run` does: links that cannot work never reach a customer."""
    from campaigns.readiness import delivery_problems

    problems = delivery_problems(config)
    if problems:  # the task fails before claiming: every row stays queued
        raise NotReadyError("; ".join(str(problem) for problem in problems))


@app.task(name="leal.deliver_batch")
def deliver_batch(ids: list[int]) -> dict[str, int]:
    """Deliver these outbox rows; rows another worker holds or finished are left alone."""
    return dict(_deliverer().deliver(ids, datetime.now(UTC)))


@app.task(name="leal.dispatch")
def dispatch() -> int:
    """Probe the paused channels that are due, then queue every due row (those of channels
    still paused wait), in batches; returns how many rows were queued."""
    batch = _config().settings.delivery.batch
    channel_health.probe_due(_engine(), _channel(), datetime.now(UTC))
    with _engine().connect() as connection:
        ids = channel_health.due_ids(connection, datetime.now(UTC), limit=1_000_000)
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
    released = release_lost(_engine(), _config(), datetime.now(UTC))
    dispatch.delay()  # which probes the paused channels
    return released
