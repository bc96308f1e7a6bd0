from datetime import timedelta

from sqlalchemy import Engine

from campaigns.config import LoyaltySettings, Settings
from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches
from tests.triggers.ledger import book, cancel

RUN = local("2026-10-15 09:00")


def test_an_order_since_the_previous_run_moves_a_customer_up(
    engine: Engine, shop: ShopFactory
) -> None:
    # given 400 points earned in March and a 150 EUR order yesterday afternoon
    climber = shop.customer("climber")
    shop.order(climber, local("2026-03-10 12:00"), total_cents=40_000)
    shop.order(climber, local("2026-10-14 17:45"), total_cents=15_000)
    # and a customer who crossed before yesterday's run, and one who crosses after today's
    early = shop.customer("early")
    shop.order(early, local("2026-10-14 08:59"), total_cents=60_000)
    late = shop.customer("late")
    shop.order(late, local("2026-10-15 09:00:01"), total_cents=60_000)
    # when the daily run happens at 09:00
    found = matches(engine, "tier_change", shop.run(RUN))
    # then only the climber is new to silver, keyed by tier and date
    assert set(found) == {"climber"}
    row = found["climber"]
    assert (row["old_tier"], row["new_tier"], row["points_window"]) == ("bronze", "silver", 550)
    assert row["occasion"] == "tier:silver:2026-10-15"
    # and the early climber was found by yesterday's run
    assert set(matches(engine, "tier_change", shop.run(RUN - timedelta(days=1)))) == {"early"}


def test_expiry_moves_a_customer_down_on_the_anniversary(engine: Engine, shop: ShopFactory) -> None:
    # given 600 points earned on 15 October 2025 and 100 more in June 2026
    fading = shop.customer("fading")
    shop.order(fading, local("2025-10-15 18:00"), total_cents=60_000)
    shop.order(fading, local("2026-06-01 10:00"), total_cents=10_000)
    # when runs happen the day before, on and after the points' 365th day
    day_before = shop.run(RUN - timedelta(days=1))
    anniversary = shop.run(RUN)
    # then they count through 14 October 2026 and leave the window on 15 October
    assert matches(engine, "tier_change", day_before, direction="both") == {}
    down = matches(engine, "tier_change", anniversary, direction="down")
    assert down["fading"]["old_tier"] == "silver"
    assert down["fading"]["new_tier"] == "bronze"
    assert down["fading"]["points_window"] == 100
    assert matches(engine, "tier_change", anniversary, direction="up") == {}
    assert set(matches(engine, "tier_change", anniversary, direction="both")) == {"fading"}


def test_two_tiers_at_once_and_a_new_order_that_keeps_the_tier(
    engine: Engine, shop: ShopFactory
) -> None:
    # given a first order worth 1,600 points and a gold customer ordering again
    jumper = shop.customer("jumper")
    shop.order(jumper, local("2026-10-15 07:00"), total_cents=160_000)
    steady = shop.customer("steady")
    shop.order(steady, local("2026-05-01 07:00"), total_cents=200_000)
    shop.order(steady, local("2026-10-15 07:00"), total_cents=5_000)
    # when the run happens
    found = matches(engine, "tier_change", shop.run(RUN))
    # then the jumper goes from bronze to gold directly, the steady customer is not a change
    assert set(found) == {"jumper"}
    assert (found["jumper"]["old_tier"], found["jumper"]["new_tier"]) == ("bronze", "gold")


def test_previous_run_is_one_calendar_day_earlier_across_dst(
    engine: Engine, shop: ShopFactory
) -> None:
    # given an order at 08:30 on 28 March 2026: 24.5 h before the 09:00 run of the 29th
    # (clocks go forward that night), but before the 09:00 run of the 28th
    buyer = shop.customer("buyer")
    shop.order(buyer, local("2026-03-28 08:30"), total_cents=50_000)
    # when the runs of the 28th and of the 29th happen
    on_28 = matches(engine, "tier_change", shop.run(local("2026-03-28 09:00")))
    on_29 = matches(engine, "tier_change", shop.run(local("2026-03-29 09:00")))
    # then only the 28th reports it
    assert set(on_28) == {"buyer"}
    assert on_29 == {}


def test_a_cancelled_order_takes_its_points_out_of_the_window_when_leal_learns_it(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a silver customer: 400 points in March and 150 in October (550)
    ana = shop.customer("ana")
    shop.order(ana, local("2026-03-10 12:00"), total_cents=40_000)
    october = shop.order(ana, local("2026-10-01 12:00"), total_cents=15_000)
    # when the October order is cancelled, learned yesterday afternoon
    cancel(engine, settings, october, local("2026-10-14 15:00"))
    # then today's run sees her go down to bronze with 400 points, and only today's
    down = matches(engine, "tier_change", shop.run(RUN), direction="down")
    assert (down["ana"]["old_tier"], down["ana"]["new_tier"]) == ("silver", "bronze")
    assert down["ana"]["points_window"] == 400
    assert matches(engine, "tier_change", shop.run(RUN), direction="up") == {}
    tomorrow = shop.run(RUN + timedelta(days=1))
    assert matches(engine, "tier_change", tomorrow, direction="both") == {}


def test_points_for_actions_count_toward_tiers_only_when_the_program_says(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 450 points from orders and a 100-point referral bonus yesterday
    ana = shop.customer("ana")
    shop.order(ana, local("2026-05-10 12:00"), total_cents=45_000)
    book(engine, settings, ana, "bonus", 100, local("2026-10-14 16:00"))
    # when the run counts orders only (the default), then actions too
    orders_only = matches(engine, "tier_change", shop.run(RUN))
    counting = LoyaltySettings(actions_count_toward_tiers=True)
    with_actions = ShopFactory(engine, settings.model_copy(update={"loyalty": counting}))
    found = matches(engine, "tier_change", with_actions.run(RUN))
    # then the bonus lifts her to silver only in the second
    assert orders_only == {}
    assert (found["ana"]["new_tier"], found["ana"]["points_window"]) == ("silver", 550)
