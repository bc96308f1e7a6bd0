"""Two `leal run` at the same instant: both end cleanly, and the ledger holds each message once.

Each run has its own engine (its own connections), as two processes would; a barrier starts
them together. On SQLite the run's transaction reads before it writes, and a deferred BEGIN
that does so fails at once with `database is locked` when the other run wrote first (the
busy timeout does not apply to that lock upgrade); on PostgreSQL the second run waits on the
first one's outbox keys and then finds them taken.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import Engine, func, select

from campaigns.config import Settings
from campaigns.daily import RunResult, daily_run
from campaigns.loader import Config
from campaigns.plan import ALREADY_IN_OUTBOX
from shop.db import make_engine
from shop.models import LedgerEntry, OutboxMessage
from tests.factories import ShopFactory, local

AT = local("2026-06-15 09:00")
CUSTOMERS = 40


def _config(settings: Settings) -> Config:
    birthday = {"trigger": "birthday", "channels": ["email", "sms"], "template": "birthday",
                "holdout_percent": 0, "offer": {"percent_off": 15, "valid_days": 30}}  # fmt: skip
    data = settings.model_dump() | {"campaigns": {"birthday": birthday}}
    return Config(Settings(**data), None)


def _two_runs_at_once(db_url: str, config: Config) -> list[RunResult | BaseException]:
    """Both runs' results (or what each raised), started at the same instant."""
    start = threading.Barrier(2)
    results: list[RunResult | BaseException] = []

    def run() -> None:
        engine = make_engine(db_url)
        try:
            start.wait()
            results.append(daily_run(engine, config, AT))
        except BaseException as error:  # the test reports it
            results.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_two_overlapping_runs_both_end_cleanly_and_write_each_message_once(
    engine: Engine, db_url: str, settings: Settings, shop: ShopFactory
) -> None:
    # given customers with a birthday today, a quarter holding points that expire today
    for n in range(CUSTOMERS):
        customer = shop.customer(f"c{n:02d}", birth_date=date(1990, 6, 15), phone=None)
        if n % 4 == 0:
            shop.order(customer, AT - timedelta(days=365), total_cents=5000)
    config = _config(settings)
    # when two runs start at the same instant, three times (the race is timing-dependent)
    trials = [_two_runs_at_once(db_url, config) for _ in range(3)]
    # then no run failed
    errors = [r for results in trials for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    runs = [r for results in trials for r in results if isinstance(r, RunResult)]
    assert len(runs) == 6
    # and between them each message was written once, and reported by the others
    assert sum(len(r.plan.planned) for r in runs) == CUSTOMERS
    skipped = [m for r in runs for m in r.plan.messages if m.reason == ALREADY_IN_OUTBOX]
    assert len(skipped) == 5 * CUSTOMERS
    # and the expiring points were booked once, and counted by the run that booked them
    assert sum(r.expired_lots for r in runs) == CUSTOMERS // 4
    with engine.connect() as connection:
        in_outbox = connection.scalar(select(func.count()).select_from(OutboxMessage))
        expiries = connection.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "expire")
        )
    assert (in_outbox, expiries) == (CUSTOMERS, CUSTOMERS // 4)
