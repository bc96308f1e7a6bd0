from datetime import timedelta

from sqlalchemy import Engine

from campaigns.config import Settings
from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches
from tests.triggers.ledger import book, cancel, expire_through
from tests.triggers.plans import query_plan

RUN = local("2026-10-15 09:00")


def test_a_balance_that_reached_the_reward_since_the_previous_run_fires(
    engine: Engine, shop: ShopFactory
) -> None:
    # given 80 points and an order of 30 more yesterday afternoon
    ana = shop.customer("ana")
    shop.order(ana, local("2026-06-01 12:00"), total_cents=8_000)
    shop.order(ana, local("2026-10-14 17:00"), total_cents=3_000)
    # and a customer already over 100 points who orders again, one who reached 250 points
    # with one order, and one who reaches 100 a second after the run
    rich, jump, late = shop.customer("rich"), shop.customer("jump"), shop.customer("late")
    shop.order(rich, local("2026-06-01 12:00"), total_cents=15_000)
    shop.order(rich, local("2026-10-14 17:00"), total_cents=3_000)
    shop.order(jump, local("2026-10-15 08:00"), total_cents=25_000)
    shop.order(late, local("2026-10-15 09:00:01"), total_cents=10_000)
    # when the daily run happens
    found = matches(engine, "reward_available", shop.run(RUN))
    # then the customers who crossed 100 points since the previous run have a reward, with
    # how many rewards their balance pays for
    assert set(found) == {"ana", "jump"}
    assert {c: (r["points_balance"], r["rewards"]) for c, r in found.items()} == {
        "ana": (110, 1), "jump": (250, 2),
    }  # fmt: skip
    assert found["ana"]["occasion"] == "reward:2026-10-15"
    assert set(matches(engine, "reward_available", shop.run(RUN + timedelta(days=1)))) == {"late"}


def test_a_customer_who_spends_below_the_reward_and_climbs_back_gets_a_new_moment(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a customer who reached 120 points on 10 October, spent 100 on the 12th and
    # earned 90 more on the 14th
    ana = shop.customer("ana")
    shop.order(ana, local("2026-10-10 08:00"), total_cents=12_000)
    book(engine, settings, ana, "reward", -100, local("2026-10-12 08:00"))
    shop.order(ana, local("2026-10-14 08:00"), total_cents=9_000)
    # when daily runs from the 9th to the 16th happen
    occasions = {
        row["occasion"]
        for day in range(9, 17)
        for row in matches(
            engine, "reward_available", shop.run(local(f"2026-10-{day:02d} 09:00"))
        ).values()
    }
    # then each crossing is a moment of its own
    assert occasions == {"reward:2026-10-10", "reward:2026-10-14"}


def test_points_taken_back_or_expired_do_not_make_a_reward(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 90 points and an order of 30 yesterday that was cancelled an hour later
    ana = shop.customer("ana")
    shop.order(ana, local("2026-06-01 12:00"), total_cents=9_000)
    order = shop.order(ana, local("2026-10-14 12:00"), total_cents=3_000)
    cancel(engine, settings, order, local("2026-10-14 13:00"))
    # and 60 + 30 points, the 60 expiring today, and 40 more this morning
    bo = shop.customer("bo")
    shop.order(bo, local("2025-10-15 12:00"), total_cents=6_000)
    shop.order(bo, local("2026-10-01 12:00"), total_cents=3_000)
    shop.order(bo, local("2026-10-15 08:00"), total_cents=4_000)
    # when the daily run books today's expiries and plans
    expire_through(engine, settings, RUN.date())
    found = matches(engine, "reward_available", shop.run(RUN))
    # then neither reached 100 points: 90 and 70
    assert found == {}


def test_the_query_reads_the_ledger_through_its_indexes(engine: Engine, shop: ShopFactory) -> None:
    plan = query_plan(engine, "reward_available", shop.run(RUN))
    assert "ix_loyalty_ledger_at" in plan
    assert "ix_loyalty_ledger_customer_on" in plan
