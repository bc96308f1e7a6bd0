from datetime import date, timedelta

from sqlalchemy import Engine

from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches
from tests.triggers.plans import query_plan

RUN = local("2026-09-30 09:00")
TODAY = RUN.date()
TRIGGER = "at_risk"


def _rhythm(shop: ShopFactory, name: str, last: date, gaps: list[int]) -> str:
    """A customer whose last order is on `last`, each earlier one `gaps` days before the next."""
    customer = shop.customer(name)
    day = last
    for gap in [0, *gaps]:
        day -= timedelta(days=gap)
        shop.order(customer, local(f"{day} 12:00"))
    return customer


def _days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def test_fires_exactly_on_the_threshold_day(engine: Engine, shop: ShopFactory) -> None:
    # given a 10-day rhythm (factor 2: a 20-day threshold) silent for 19, 20 and 21 days
    for days in (19, 20, 21):
        _rhythm(shop, f"silent-{days}", _days_ago(days), [10, 10])
    shop.refresh_stats(TODAY)
    # when at_risk runs with its defaults (no days of grace)
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then only the customer whose threshold day is the run date is at risk
    assert set(found) == {"silent-20"}
    moment = found["silent-20"]
    assert moment["occasion"] == "at_risk:2026-09-10"
    assert moment["last_order_on"] == "2026-09-10"
    assert moment["mean_gap_days"] == 10.0
    assert moment["days_since_last_order"] == 20


def test_grace_days_catch_up_a_missed_run(engine: Engine, shop: ShopFactory) -> None:
    # given thresholds crossed 0, 7 and 8 days before the run date
    for days in (20, 27, 28):
        _rhythm(shop, f"silent-{days}", _days_ago(days), [10, 10])
    shop.refresh_stats(TODAY)
    # when at_risk runs with 7 days of grace
    found = matches(engine, TRIGGER, shop.run(RUN), grace_days=7)
    # then thresholds crossed in [D - 7, D] are found, with the silence as of the run date
    assert set(found) == {"silent-20", "silent-27"}
    assert found["silent-27"]["days_since_last_order"] == 27


def test_threshold_rounds_up_in_exact_arithmetic(engine: Engine, shop: ShopFactory) -> None:
    # given gaps whose factor multiple is fractional (2.5 x 7 = 17.5) or exact (1.1 x 10 = 11,
    # which floating point computes as 11.000000000000002)
    _rhythm(shop, "rhythm-7-at-18", _days_ago(18), [7])
    _rhythm(shop, "rhythm-7-at-17", _days_ago(17), [7])
    _rhythm(shop, "rhythm-10-at-11", _days_ago(11), [10])
    _rhythm(shop, "rhythm-10-at-12", _days_ago(12), [10])
    shop.refresh_stats(TODAY)
    run = shop.run(RUN)
    # when at_risk runs with those factors, no floor and no grace
    at_2_5 = matches(engine, TRIGGER, run, factor=2.5, min_orders=2, min_days=1)
    at_1_1 = matches(engine, TRIGGER, run, factor=1.1, min_orders=2, min_days=1)
    # then the threshold is the ceiling of factor x mean gap: 18 and 11 days
    assert set(at_2_5) == {"rhythm-7-at-18"}
    assert set(at_1_1) == {"rhythm-10-at-11"}


def test_mean_gap_is_rounded_to_one_decimal(engine: Engine, shop: ShopFactory) -> None:
    # given mean gaps of 10/3 and 5/2 days, silent long enough for the 14-day floor
    _rhythm(shop, "thirds", _days_ago(14), [3, 3, 4])
    _rhythm(shop, "halves", _days_ago(14), [2, 3])
    shop.refresh_stats(TODAY)
    # when at_risk runs
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then the context carries the mean gap to one decimal, halves rounded up
    assert found["thirds"]["mean_gap_days"] == 3.3
    assert found["halves"]["mean_gap_days"] == 2.5


def test_min_days_floor_and_max_days_cap(engine: Engine, shop: ShopFactory) -> None:
    # given a daily rhythm silent for 2 and 14 days, and a 200-day rhythm silent for a year
    _rhythm(shop, "daily-2", _days_ago(2), [1, 1])
    _rhythm(shop, "daily-14", _days_ago(14), [1, 1])
    _rhythm(shop, "slow-365", _days_ago(365), [200, 200])
    _rhythm(shop, "slow-364", _days_ago(364), [200, 200])
    shop.refresh_stats(TODAY)
    # when at_risk runs with the default floor (14) and cap (365)
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then a daily buyer waits for the floor, and a year's silence is at risk whatever the rhythm
    assert set(found) == {"daily-14", "slow-365"}


def test_min_orders(engine: Engine, shop: ShopFactory) -> None:
    # given a customer with two orders 10 days apart, silent for 20 days, and one with one order
    _rhythm(shop, "two-orders", _days_ago(20), [10])
    _rhythm(shop, "one-order", _days_ago(20), [])
    shop.refresh_stats(TODAY)
    run = shop.run(RUN)
    # when at_risk runs with min_orders 3 (default) and 2
    # then two orders make a rhythm only when allowed; one order never does
    assert matches(engine, TRIGGER, run) == {}
    assert set(matches(engine, TRIGGER, run, grace_days=0, min_orders=2)) == {"two-orders"}


def test_one_lapse_is_one_occasion(engine: Engine, shop: ShopFactory) -> None:
    # given a 10-day rhythm whose threshold day (20 days of silence) is the run date
    _rhythm(shop, "lapsing", _days_ago(20), [10, 10])
    shop.refresh_stats(TODAY)
    # when at_risk (7 days of grace) runs the day before, on the day, the last day of grace
    # and the day after
    days = {offset: shop.run(RUN + timedelta(days=offset)) for offset in (-1, 0, 7, 8)}
    found = {offset: matches(engine, TRIGGER, run, grace_days=7) for offset, run in days.items()}
    # then it fires from the threshold day through the grace, always with the same occasion
    assert found[-1] == {} and found[8] == {}
    assert found[0]["lapsing"]["occasion"] == found[7]["lapsing"]["occasion"]
    assert found[0]["lapsing"]["occasion"] == "at_risk:2026-09-10"


def test_ordering_again_resets_the_rhythm(engine: Engine, shop: ShopFactory) -> None:
    # given a customer past their threshold who orders again the day before the run
    customer = _rhythm(shop, "back", _days_ago(20), [10, 10])
    shop.order(customer, RUN - timedelta(days=1))
    shop.refresh_stats(TODAY)
    # when at_risk runs today, and on the new threshold day (mean gap (10+10+19)/3 = 13 days:
    # 26 days after the new last order)
    today = matches(engine, TRIGGER, shop.run(RUN), grace_days=7)
    later = matches(engine, TRIGGER, shop.run(RUN + timedelta(days=25)))
    # then today there is no lapse, and the next one is a new occasion
    assert today == {}
    assert later["back"]["occasion"] == "at_risk:2026-09-29"
    assert later["back"]["mean_gap_days"] == 13.0


def test_shop_local_order_dates(engine: Engine, shop: ShopFactory) -> None:
    # given a last order at 00:30 Madrid time on 10 Sep (22:30 UTC on 9 Sep)
    customer = _rhythm(shop, "late", _days_ago(30), [10])
    shop.order(customer, local("2026-09-10 00:30"))
    shop.refresh_stats(TODAY)
    # when the run date is 20 days after 10 Sep (mean gap (10 + 10) / 2 = 10 days)
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then the order counts on its Madrid date
    assert found["late"]["occasion"] == "at_risk:2026-09-10"


def test_a_replay_of_a_past_date_ignores_later_orders(engine: Engine, shop: ShopFactory) -> None:
    # given a customer at risk on the run date who ordered again 20 days later, and one whose
    # third order (making min_orders) came only after the run date
    came_back = _rhythm(shop, "came-back", _days_ago(20), [10, 10])
    shop.order(came_back, RUN + timedelta(days=20))
    third_later = _rhythm(shop, "third-later", _days_ago(20), [10])
    shop.order(third_later, RUN + timedelta(days=20))
    shop.refresh_stats(TODAY + timedelta(days=20))
    # when the run date is replayed, and the new order's date is run
    replay = matches(engine, TRIGGER, shop.run(RUN))
    after = matches(engine, TRIGGER, shop.run(RUN + timedelta(days=20)))
    # then the lapse is found as of that date, from the orders placed by then only
    assert set(replay) == {"came-back"}
    assert replay["came-back"]["occasion"] == "at_risk:2026-09-10"
    assert replay["came-back"]["mean_gap_days"] == 10.0
    assert after == {}


def test_reads_a_range_of_the_summary(engine: Engine, shop: ShopFactory) -> None:
    # given a shop with a summary (the plan, not the answer, is under test)
    _rhythm(shop, "c", _days_ago(20), [10, 10])
    shop.refresh_stats(TODAY)
    # when the query is planned
    plan = query_plan(engine, TRIGGER, shop.run(RUN))
    # then the customers come from a range of the last_order_on index
    assert "ix_customer_stats_last_order_on" in plan
