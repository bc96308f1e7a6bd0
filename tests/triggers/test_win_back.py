from datetime import timedelta

from sqlalchemy import Engine

from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches

RUN = local("2026-09-30 09:00")


def test_last_order_between_min_and_max_days(engine: Engine, shop: ShopFactory) -> None:
    # given customers whose last order is 89, 90, 120 and 121 days before the run date
    for days in (89, 90, 120, 121):
        customer = shop.customer(f"d{days}")
        shop.order(customer, RUN - timedelta(days=days + 30))  # an older order too
        shop.order(customer, RUN - timedelta(days=days))
    shop.refresh_stats(RUN.date())
    # when win_back runs with the default 90..120 window
    found = matches(engine, "win_back", shop.run(RUN))
    # then the bounds are inclusive, and the occasion names the lapse
    assert set(found) == {"d90", "d120"}
    assert found["d90"]["occasion"] == "win_back:2026-07-02"
    assert found["d90"]["last_order_on"] == "2026-07-02"


def test_uses_shop_local_dates(engine: Engine, shop: ShopFactory) -> None:
    # given an order at 00:30 Madrid time on 2 July, which is 22:30 UTC on 1 July
    customer = shop.customer("late")
    shop.order(customer, local("2026-07-02 00:30"))
    shop.refresh_stats(RUN.date())
    # when the window ends exactly at 90 days (2 July)
    found = matches(engine, "win_back", shop.run(RUN), min_days=90, max_days=90)
    # then the order counts on its Madrid date
    assert set(found) == {"late"}


def test_a_replay_of_a_past_date_ignores_later_orders(engine: Engine, shop: ShopFactory) -> None:
    # given a customer who lapsed 100 days before the run date, then ordered again afterwards
    customer = shop.customer("came-back")
    shop.order(customer, RUN - timedelta(days=100))
    shop.order(customer, RUN + timedelta(days=20))
    shop.refresh_stats((RUN + timedelta(days=20)).date())
    # when the run date is replayed
    replay = matches(engine, "win_back", shop.run(RUN))
    today = matches(engine, "win_back", shop.run(RUN + timedelta(days=25)))
    # then the lapse is found as of that date, and not after the new order
    assert replay["came-back"]["occasion"] == "win_back:2026-06-22"
    assert today == {}
