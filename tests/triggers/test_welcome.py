from datetime import date, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, update

from shop.models import Order
from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches
from tests.triggers.plans import query_plan
from triggers.welcome import WelcomeParams

RUN = local("2026-10-15 09:00")


def test_customers_who_joined_since_the_previous_run_are_welcomed(
    engine: Engine, shop: ShopFactory
) -> None:
    # given customers who joined at the previous run's instant, at 23:59 the day before,
    # at the run's instant and a second after it, and one with no join date
    joined = {
        "at_previous_run": "2026-10-14 09:00",
        "late_evening": "2026-10-14 23:59",
        "at_the_run": "2026-10-15 09:00",
        "after_the_run": "2026-10-15 09:00:01",
    }
    for customer, at in joined.items():
        shop.customer(customer, created_at=local(at))
    shop.customer("unknown", created_at=None)
    # when the runs of the 14th, 15th and 16th happen
    found = [matches(engine, "welcome", shop.run(RUN + timedelta(days=d))) for d in (-1, 0, 1)]
    # then each joiner is welcomed once, by the first run at or after they joined
    assert [set(rows) for rows in found] == [
        {"at_previous_run"}, {"late_evening", "at_the_run"}, {"after_the_run"},
    ]  # fmt: skip
    row = found[1]["late_evening"]
    assert (row["occasion"], row["step"], row["joined_at"]) == (
        "welcome:0", 0, "2026-10-14T21:59:00Z",
    )  # fmt: skip


def _series(engine: Engine, shop: ShopFactory, **params: object) -> dict[str, list[date]]:
    """customer -> the run dates of each step's moments, over daily runs in October."""
    days: dict[str, list[date]] = {}
    for offset in range(20):
        run = shop.run(local("2026-10-01 09:00") + timedelta(days=offset))
        for customer, row in matches(engine, "welcome", run, **params).items():
            assert row["occasion"] == f"welcome:{row['step']}"
            days.setdefault(customer, []).append(run.run_date)
    return days


def test_a_series_stops_once_the_customer_orders(engine: Engine, shop: ShopFactory) -> None:
    # given customers who joined on 5 October at noon: one orders on the 8th, one ordered
    # before joining, one placed an order that was cancelled, one never orders
    for customer in ("buyer", "earlier", "cancelled", "silent"):
        shop.customer(customer, created_at=local("2026-10-05 12:00"))
    shop.order("buyer", local("2026-10-08 10:00"))
    shop.order("earlier", local("2026-10-05 11:59"))
    order = shop.order("cancelled", local("2026-10-06 10:00"))
    with engine.begin() as connection:
        connection.execute(update(Order).where(Order.id == order).values(status="cancelled"))
    # when a series of 0, 2 and 5 days runs daily (as `days_after = [5, 0, 2]`)
    found = _series(engine, shop, days_after=[5, 0, 2])
    # then every step comes the day its run first covers the joining instant plus its
    # days, and the buyer gets no step after the order
    steps = [date(2026, 10, 6), date(2026, 10, 8), date(2026, 10, 11)]
    assert found == {
        "buyer": steps[:2], "earlier": steps, "cancelled": steps, "silent": steps,
    }  # fmt: skip
    # and without stop_on_order the buyer gets every step
    assert _series(engine, shop, days_after=[0, 2, 5], stop_on_order=False)["buyer"] == steps


def test_a_step_counts_calendar_days_across_dst(engine: Engine, shop: ShopFactory) -> None:
    # given a customer who joined at 08:30 on 28 March 2026, the eve of the spring-forward
    # night: 23.5 elapsed hours before the 09:00 run of the 29th, but before the 28th's run
    ana = shop.customer("ana", created_at=local("2026-03-28 08:30"))
    # when daily runs from 26 March to 3 April send steps 0 and 2
    days: dict[int, list[date]] = {0: [], 2: []}
    for offset in range(9):
        run = shop.run(local("2026-03-26 09:00") + timedelta(days=offset))
        for row in matches(engine, "welcome", run, days_after=[0, 2]).values():
            assert row["customer_id"] == ana
            days[row["step"]].append(run.run_date)
    # then step 0 comes on the 28th and step 2 two calendar days later, once each
    assert days == {0: [date(2026, 3, 28)], 2: [date(2026, 3, 30)]}


def test_steps_are_0_to_60_days_and_unique() -> None:
    assert WelcomeParams(days_after=[5, 0, 2]).days_after == [0, 2, 5]
    for bad in ([], [-1], [61], [2, 2]):
        with pytest.raises(ValidationError):
            WelcomeParams(days_after=bad)


def test_the_query_reads_the_join_date_index(engine: Engine, shop: ShopFactory) -> None:
    plan = query_plan(engine, "welcome", shop.run(RUN), days_after=[0, 3])
    assert "ix_customers_created_at" in plan
