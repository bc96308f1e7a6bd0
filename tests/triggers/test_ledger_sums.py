"""The loyalty triggers read a customer's sums from their summary when it holds the entries
booked since the previous run, else from the ledger: the answer must be the same either
way. Sixty daily runs over a random shop (orders before and after the run hour, bonus
points, spends, cancellations learned later, expiries, a 30-day window), each evaluated
with the summaries as the daily run leaves them (some stale on purpose) and with none."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, update

from campaigns.config import Settings
from shop.models import Customer, CustomerStats, LedgerEntry
from shop.stats import refresh_customer_stats
from tests.factories import ShopFactory, local
from tests.triggers.ledger import book, cancel, expire_through
from triggers import TRIGGERS
from triggers.base import RunContext
from triggers.ledger_sums import booked_since_previous_run, summary_holds

CHECKED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("milestone", {"thresholds": [150, 400, 900]}),
    ("reward_available", {}),
    ("tier_change", {"direction": "up"}),
    ("tier_change", {"direction": "down"}),
    ("tier_change", {"direction": "both"}),
)
FIRST_DAY, DAYS = date(2026, 3, 1), 60  # across the change to summer time


@pytest.mark.parametrize("actions_count", [False, True])
def test_summaries_and_ledger_give_the_same_moments(
    engine: Engine, settings: Settings, actions_count: bool
) -> None:
    # given a small program: a 30-day window, low tiers and rewards, bonus points
    loyalty = {
        "points_expire_days": 30, "reward_points": 100, "actions_count_toward_tiers": actions_count,
        "tiers": {"bronze": 0, "silver": 150, "gold": 400},
    }  # fmt: skip
    settings = Settings(database={"url": settings.database.url}, loyalty=loyalty)
    shop = ShopFactory(engine, settings)
    customers = [shop.customer(f"c{n}") for n in range(24)]
    rng = random.Random(12 + actions_count)
    orders: list[str] = []
    summarized = found = 0
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        run = shop.run(local(f"{day} 09:00"))
        # when the day's entries before the run are booked, the daily run books expiries
        # and refreshes the summaries of most customers, and more entries come after that
        _book_day(shop, settings, rng, customers, orders, day, hours=(0, 9))
        expire_through(engine, settings, day)
        with engine.begin() as connection:
            kept = rng.sample(customers, k=20)  # the other four stay as they were
            refresh_customer_stats(connection, settings.loyalty, day, _ids(kept))
        _book_day(shop, settings, rng, customers, orders, day, hours=(8, 9), count=2)
        # then every trigger finds the same moments from summaries as from the ledger
        for trigger, params in CHECKED:
            with_summaries = _moments(engine, trigger, run, params, summaries=True)
            assert with_summaries == _moments(engine, trigger, run, params, summaries=False)
            found += len(with_summaries)
        summarized += _summarized(engine, run)
        _book_day(shop, settings, rng, customers, orders, day, hours=(9, 24))
    # and both paths were taken, with moments to compare
    assert summarized > 200 and found > 100


def test_a_replay_of_a_past_day_reads_the_ledger(engine: Engine, shop: ShopFactory) -> None:
    # given a customer whose summary was refreshed after a later order
    ana = shop.customer("ana")
    shop.order(ana, local("2026-10-14 12:00"), total_cents=120_000)
    shop.order(ana, local("2026-10-20 12:00"), total_cents=120_000)
    shop.refresh_stats(date(2026, 10, 20))
    # when the run of 15 October is replayed
    run = shop.run(local("2026-10-15 09:00"))
    # then the summary (which holds the later order) is not used, and the moments are those
    # of that day: 1,200 points earned, a milestone of 1,000, silver reached, 12 rewards
    assert _summarized(shop.engine, run) == 0
    milestone = _moments(shop.engine, "milestone", run, {}, summaries=True)
    assert milestone == [("ana", "milestone:1000", 1000, 1200)]
    tier = _moments(shop.engine, "tier_change", run, {}, summaries=True)
    assert [(row[0], row[2], row[3]) for row in tier] == [("ana", "bronze", "silver")]
    reward = _moments(shop.engine, "reward_available", run, {}, summaries=True)
    assert [(row[0], row[2], row[3]) for row in reward] == [("ana", 1200, 12)]


def test_a_reversal_dated_on_the_day_leaving_the_window(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 600 points dated 15 October 2025, the day that leaves the window on the run of
    # 15 October 2026, cancelled yesterday evening, and 100 points earned yesterday
    ana = shop.customer("ana")
    old = shop.order(ana, local("2025-10-15 12:00"), total_cents=60_000)
    shop.order(ana, local("2026-10-14 12:00"), total_cents=10_000)
    cancel(engine, settings, old, local("2026-10-14 20:00"))
    shop.refresh_stats(date(2026, 10, 15))
    # when today's run looks for tier changes down, with her summary and without
    run = shop.run(local("2026-10-15 09:00"))
    assert _summarized(engine, run) == 1
    found = _moments(engine, "tier_change", run, {"direction": "down"}, summaries=True)
    # then yesterday's window held the 600 points (the reversal came after the run), and
    # today's holds 100: silver to bronze, either way
    assert [(row[0], row[2], row[3], row[4]) for row in found] == [("ana", "silver", "bronze", 100)]
    assert found == _moments(engine, "tier_change", run, {"direction": "down"}, summaries=False)


def _book_day(
    shop: ShopFactory,
    settings: Settings,
    rng: random.Random,
    customers: list[str],
    orders: list[str],
    day: date,
    hours: tuple[int, int],
    count: int = 6,
) -> None:
    """`count` random movements in the day's hours: orders, bonus, spends, cancellations."""
    for _ in range(count):
        at = _instant(rng, day, hours)
        customer = rng.choice(customers)
        roll = rng.random()
        if roll < 0.6:
            orders.append(shop.order(customer, at, total_cents=rng.randrange(1_000, 15_000)))
        elif roll < 0.75:
            book(shop.engine, settings, customer, "bonus", rng.choice([10, 40]), at)
        elif roll < 0.9:
            _spend(shop.engine, settings, customer, rng.randrange(10, 120), at)
        elif orders:
            order = orders.pop(rng.randrange(len(orders)))
            cancel(shop.engine, settings, order, at)


def _spend(engine: Engine, settings: Settings, customer: str, points: int, at: datetime) -> None:
    """A redemption of at most the customer's balance."""
    with engine.connect() as connection:
        balance = connection.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
                LedgerEntry.customer_id == customer
            )
        )
    if balance and balance > 0:
        book(engine, settings, customer, "redeem", -min(points, balance), at)


def _instant(rng: random.Random, day: date, hours: tuple[int, int]) -> datetime:
    minute = rng.randrange(hours[0] * 60, hours[1] * 60)
    return local(f"{day} {minute // 60:02d}:{minute % 60:02d}")


def _ids(customers: list[str]) -> Any:
    return select(Customer.id).where(Customer.id.in_(customers))


def _moments(
    engine: Engine, trigger: str, run: RunContext, params: dict[str, Any], summaries: bool
) -> list[tuple[Any, ...]]:
    """The trigger's rows, sorted; without summaries, in a transaction rolled back after."""
    spec = TRIGGERS[trigger]
    query = spec.candidates(spec.params(**params), run)
    with engine.connect() as connection, connection.begin() as transaction:
        if not summaries:
            _forget_summaries(connection)
        rows = sorted(tuple(row) for row in connection.execute(query))
        transaction.rollback()
    return rows


def _forget_summaries(connection: Connection) -> None:
    connection.execute(update(CustomerStats).values(ledger_through=None, ledger_last_at=None))


def _summarized(engine: Engine, run: RunContext) -> int:
    """Customers moved in (P, T] whose summary the triggers use."""
    booked = booked_since_previous_run(run)
    query = (
        select(func.count())
        .select_from(booked)
        .join(CustomerStats, CustomerStats.customer_id == booked.c.customer_id)
        .where(summary_holds(booked, run))
    )
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)
