"""The daily run: resolve the instant, plan every campaign, write the ledger once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import CompoundSelect, Engine, func, select, union, update

from campaigns.loader import Config
from campaigns.offers import issue_for_plan
from campaigns.outbox import record_run
from campaigns.personalize import recommend_for_plan
from campaigns.plan import Plan, make_plan
from campaigns.timings import Timings, maybe
from shop.db import writer
from shop.expiry import write_expiries
from shop.models import LedgerEntry, Run
from shop.stats import refresh_customer_stats
from triggers.base import RunContext
from triggers.tier_change import left_window_today

# A run that overlaps another waits for it (on SQLite for its write lock, on PostgreSQL for
# the outbox keys it wrote), then finds what it wrote `already_in_outbox`.
RUN_LOCK_WAIT = timedelta(minutes=15)


class RunInstantError(ValueError):
    """--at or --date could not be understood."""


def run_instant(config: Config, at: str | None = None, day: str | None = None) -> datetime:
    """--at ISO 8601 (naive means shop-local), else --date D (or today) at `daily_at`.

    Defaulting to today's `daily_at`, not to now, makes a manual re-run later in the day
    plan exactly what the scheduled run planned.
    """
    tz = config.settings.shop.tz
    if at is not None and day is not None:
        raise RunInstantError("give --at or --date, not both")
    if at is not None:
        try:
            instant = datetime.now(UTC) if at == "now" else datetime.fromisoformat(at)
        except ValueError:
            raise RunInstantError(f"--at {at!r} is not an ISO 8601 date-time") from None
        return instant if instant.tzinfo else instant.replace(tzinfo=tz)
    try:
        run_day = date.fromisoformat(day) if day else datetime.now(tz).date()
    except ValueError:
        raise RunInstantError(f"--date {day!r} is not a date (YYYY-MM-DD)") from None
    return datetime.combine(run_day, config.settings.schedule.daily_at, tzinfo=tz)


@dataclass
class RunResult:
    plan: Plan
    run_id: int | None  # None for a dry run
    expired_lots: int
    coupons: int  # moments of this plan holding a coupon


def daily_run(
    engine: Engine,
    config: Config,
    at: datetime,
    *,
    only: tuple[str, ...] = (),
    dry_run: bool = False,
    timings: Timings | None = None,
) -> RunResult:
    """Plan the campaigns at `at`; unless `dry_run`, book expiries and write the outbox.
    With `timings`, each phase's time and the process's peak memory are recorded there."""
    settings = config.settings
    run = RunContext(at=at, tz=settings.shop.tz, loyalty=settings.loyalty)
    started_at = datetime.now(UTC)
    if dry_run:
        with engine.connect() as connection:
            with maybe(timings, "plan"):
                plan = make_plan(connection, config, run, only)
            with maybe(timings, "recommendations"):
                recommend_for_plan(connection, config, plan)
            return RunResult(plan, None, 0, 0)
    with writer(engine, RUN_LOCK_WAIT).connect() as connection, connection.begin() as transaction:
        last_run_date = connection.scalar(
            select(func.max(Run.run_date)).where(Run.run_date < run.run_date)
        )
        ledger_before = connection.scalar(select(func.max(LedgerEntry.id))) or 0
        with maybe(timings, "expiries"):
            expired = write_expiries(
                connection, run.run_date, settings.shop.tz, settings.loyalty, since=last_run_date
            )
        with maybe(timings, "summaries"):
            moved = ledger_moved(run, ledger_before)
            refresh_customer_stats(connection, settings.loyalty, run.run_date, customers=moved)
        with maybe(timings, "plan"):
            plan = make_plan(connection, config, run, only)
        with maybe(timings, "recommendations"):
            recommend_for_plan(connection, config, plan)
        with maybe(timings, "ledger"):
            run_id = record_run(connection, plan, started_at)
        with maybe(timings, "coupons"):
            coupons = issue_for_plan(connection, config, plan)
        with maybe(timings, "commit"):
            connection.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(finished_at=datetime.now(UTC), summary=_summary(plan))
            )
            transaction.commit()
    return RunResult(plan, run_id, expired, coupons)


def ledger_moved(run: RunContext, ledger_before: int) -> CompoundSelect[str]:
    """Customers whose balance or tier window changed since the previous run: only their
    summaries need refreshing, so the run never rescans all orders. Entries this run wrote
    count whatever instant they carry: the first run after an import books lots that
    expired long ago, and those customers' balances drop all the same."""
    booked = select(LedgerEntry.customer_id).where(
        LedgerEntry.at > run.previous_run_at, LedgerEntry.at <= run.at
    )
    written = select(LedgerEntry.customer_id).where(LedgerEntry.id > ledger_before)
    return union(booked, written, left_window_today(run))


def _summary(plan: Plan) -> dict[str, Any]:
    return {campaign: dict(counts) for campaign, counts in plan.counts().items()}
