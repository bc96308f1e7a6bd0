from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from campaigns.config import LoyaltySettings, Settings
from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches
from tests.triggers.ledger import book, cancel
from tests.triggers.plans import query_plan
from triggers.milestone import MilestoneParams

RUN = local("2026-10-15 09:00")


def test_a_threshold_crossed_since_the_previous_run_fires_once(
    engine: Engine, shop: ShopFactory
) -> None:
    # given 900 points earned in 2025 and an order yesterday afternoon worth 150 more
    ana = shop.customer("ana")
    shop.order(ana, local("2025-02-01 12:00"), total_cents=90_000)
    shop.order(ana, local("2026-10-14 17:00"), total_cents=15_000)
    # and a customer who crossed before yesterday's run, and one who crosses after today's
    early, late = shop.customer("early"), shop.customer("late")
    shop.order(early, local("2026-10-14 08:59"), total_cents=100_000)
    shop.order(late, local("2026-10-15 09:00:01"), total_cents=100_000)
    # when the daily runs happen
    found = matches(engine, "milestone", shop.run(RUN))
    # then today's run congratulates ana on 1,000 points, with her lifetime 1,050
    assert set(found) == {"ana"}
    row = found["ana"]
    assert (row["occasion"], row["threshold"], row["points_earned"]) == (
        "milestone:1000", 1000, 1050,
    )  # fmt: skip
    # and each of the others in the run that followed their order
    assert set(matches(engine, "milestone", shop.run(RUN - timedelta(days=1)))) == {"early"}
    assert set(matches(engine, "milestone", shop.run(RUN + timedelta(days=1)))) == {"late"}


def test_a_threshold_crossed_by_two_orders_in_one_day_is_one_moment(
    engine: Engine, shop: ShopFactory
) -> None:
    # given 940 points, then two orders of 40 points on 14 October: one before that day's
    # run (980, below), one after it (1,020)
    ana = shop.customer("ana")
    shop.order(ana, local("2026-01-10 12:00"), total_cents=94_000)
    shop.order(ana, local("2026-10-14 08:00"), total_cents=4_000)
    shop.order(ana, local("2026-10-14 20:00"), total_cents=4_000)
    # and a customer whose two orders both came after the run of the 14th
    bo = shop.customer("bo")
    shop.order(bo, local("2026-01-10 12:00"), total_cents=94_000)
    shop.order(bo, local("2026-10-14 10:00"), total_cents=4_000)
    shop.order(bo, local("2026-10-14 11:00"), total_cents=4_000)
    # when the runs of the 14th and the 15th happen
    runs = [matches(engine, "milestone", shop.run(RUN + timedelta(days=d))) for d in (-1, 0, 1)]
    # then each crosses 1,000 in the run of the 15th only, once
    assert [set(found) for found in runs] == [set(), {"ana", "bo"}, set()]
    assert runs[1]["bo"]["points_earned"] == 1_020


def test_two_thresholds_in_one_run_fire_the_highest_only(engine: Engine, shop: ShopFactory) -> None:
    # given a first order worth 5,200 points, and a customer reaching 1,000 next to it
    big, small = shop.customer("big"), shop.customer("small")
    shop.order(big, local("2026-10-14 18:00"), total_cents=520_000)
    shop.order(small, local("2026-10-14 18:00"), total_cents=100_000)
    # when the run looks at thresholds 1,000, 5,000 and 10,000 (given unsorted)
    found = matches(engine, "milestone", shop.run(RUN), thresholds=[5000, 1000, 10000])
    # then the big spender is congratulated on 5,000 (never later on 1,000), the other on 1,000
    assert {c: row["occasion"] for c, row in found.items()} == {
        "big": "milestone:5000", "small": "milestone:1000",
    }  # fmt: skip


def test_cancelled_orders_do_not_count_and_bonus_points_count_when_the_program_says(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 990 points from orders by the previous run; yesterday one of them (100 points)
    # cancelled, a 50-point review bonus and an order of 60 points: 950 from orders
    ana = shop.customer("ana")
    shop.order(ana, local("2026-03-01 12:00"), total_cents=89_000)
    refunded = shop.order(ana, local("2026-04-01 12:00"), total_cents=10_000)
    cancel(engine, settings, refunded, local("2026-10-14 15:00"))
    book(engine, settings, ana, "bonus", 50, local("2026-10-14 16:00"))
    shop.order(ana, local("2026-10-14 17:00"), total_cents=6_000)
    # when the run counts orders only (the default), then actions too
    orders_only = matches(engine, "milestone", shop.run(RUN))
    with_actions = ShopFactory(
        engine,
        settings.model_copy(update={"loyalty": LoyaltySettings(actions_count_toward_tiers=True)}),
    )
    found = matches(engine, "milestone", with_actions.run(RUN))
    # then the cancelled order's points are gone: only the review bonus makes 1,000
    assert orders_only == {}
    assert found["ana"]["points_earned"] == 1_000


def test_thresholds_are_positive_and_unique() -> None:
    assert MilestoneParams(thresholds=[5000, 1000]).thresholds == [1000, 5000]
    assert MilestoneParams().thresholds == [1000]
    for bad in ([], [0], [1000, 1000]):
        with pytest.raises(ValidationError):
            MilestoneParams(thresholds=bad)


def test_the_query_reads_the_ledger_through_its_indexes(engine: Engine, shop: ShopFactory) -> None:
    plan = query_plan(engine, "milestone", shop.run(RUN))
    assert "ix_loyalty_ledger_at" in plan
    assert "ix_loyalty_ledger_customer_on" in plan
