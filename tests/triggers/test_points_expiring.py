import random
from collections import Counter
from datetime import date, timedelta

from sqlalchemy import Engine

from campaigns.config import Settings
from shop.loyalty import balance_on, entries_of
from tests.factories import MADRID, ShopFactory, local
from tests.triggers.helpers import matches
from tests.triggers.ledger import book, cancel, expire_through
from tests.triggers.plans import query_plan

RUN = local("2026-10-15 09:00")  # a 30-day warning here is for points expiring 14 November


def test_points_fire_on_their_warning_day_and_no_other(engine: Engine, shop: ShopFactory) -> None:
    # given lots earned on 13, 14 and 15 November 2025: they expire a year later
    before, due, after = shop.customer("before"), shop.customer("due"), shop.customer("after")
    shop.order(before, local("2025-11-13 23:59"), total_cents=5_000)
    shop.order(due, local("2025-11-14 00:00"), total_cents=12_000)
    shop.order(after, local("2025-11-15 00:00"), total_cents=7_000)
    # when the runs of 14, 15 and 16 October look 30 days ahead
    found = {
        day: matches(engine, "points_expiring", shop.run(RUN + timedelta(days=day)))
        for day in (-1, 0, 1)
    }
    # then each lot is found once, on the day 30 days before its expiry
    assert {day: set(rows) for day, rows in found.items()} == {
        -1: {"before"}, 0: {"due"}, 1: {"after"},
    }  # fmt: skip
    row = found[0]["due"]
    assert (row["occasion"], row["points"], row["expires_on"]) == (
        "expiring:2026-11-14", 120, "2026-11-14",
    )  # fmt: skip


def test_points_expiring_on_the_run_date_are_gone_and_tomorrows_are_the_last_call(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a lot expiring on the run date (15 October) and one expiring the day after
    today, tomorrow = shop.customer("today"), shop.customer("tomorrow")
    shop.order(today, local("2025-10-15 10:00"), total_cents=4_000)
    shop.order(tomorrow, local("2025-10-16 10:00"), total_cents=6_000)
    # when the daily run books today's expiries and looks one day ahead
    expire_through(engine, settings, RUN.date())
    found = matches(engine, "points_expiring", shop.run(RUN), days_before=1)
    # then only tomorrow's points are announced: today's expired at midnight
    assert set(found) == {"tomorrow"}
    assert found["tomorrow"]["points"] == 60


def test_a_lot_redeemed_before_it_expires_has_no_moment_and_a_partly_spent_one_its_rest(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given two customers with 100 points earned on 14 November 2025
    spent, partly = shop.customer("spent"), shop.customer("partly")
    for customer in (spent, partly):
        shop.order(customer, local("2025-11-14 12:00"), total_cents=10_000)
    # and a later lot each, then redemptions, which take the oldest points first
    for customer in (spent, partly):
        shop.order(customer, local("2026-05-01 12:00"), total_cents=20_000)
    book(engine, settings, spent, "redeem", -100, local("2026-06-01 12:00"))
    book(engine, settings, partly, "redeem", -30, local("2026-06-01 12:00"))
    # when the run looks 30 days ahead
    found = matches(engine, "points_expiring", shop.run(RUN))
    # then the spent lot has nothing left to lose, the other its 70 points
    assert set(found) == {"partly"}
    assert found["partly"]["points"] == 70


def test_spends_consume_older_lots_and_expiries_before_the_lot_in_the_window(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 50 points from June 2025 (expired in June 2026 with 20 unspent), 100 points from
    # 14 November 2025, and 30 + 40 points spent before and after the older lot expired
    ana = shop.customer("ana")
    shop.order(ana, local("2025-06-01 12:00"), total_cents=5_000)
    shop.order(ana, local("2025-11-14 12:00"), total_cents=10_000)
    book(engine, settings, ana, "redeem", -30, local("2026-03-01 12:00"))
    expire_through(engine, settings, date(2026, 7, 1))
    book(engine, settings, ana, "redeem", -40, local("2026-08-01 12:00"))
    # when the run looks 30 days ahead
    found = matches(engine, "points_expiring", shop.run(RUN))
    # then the older lot took the first 30 and its 20 expired; the later 40 came from
    # November's lot, which keeps 60
    assert found["ana"]["points"] == 60


def test_two_lots_of_one_day_are_one_moment_and_bonus_points_count(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given two orders and a review bonus on 14 November 2025, and an order cancelled later
    ana = shop.customer("ana")
    shop.order(ana, local("2025-11-14 09:00"), total_cents=5_000)
    shop.order(ana, local("2025-11-14 19:00"), total_cents=7_000)
    book(engine, settings, ana, "bonus", 50, local("2025-11-14 20:00"))
    cancelled = shop.order(ana, local("2026-09-01 12:00"), total_cents=4_000)
    cancel(engine, settings, cancelled, local("2026-09-03 12:00"))
    # when the run looks 30 days ahead
    found = matches(engine, "points_expiring", shop.run(RUN))
    # then one moment holds the day's 170 points, less the 40 taken back (a spend, FIFO)
    assert found["ana"]["points"] == 130
    assert found["ana"]["occasion"] == "expiring:2026-11-14"


def test_min_points_keeps_small_remainders_quiet(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 100 points expiring in 30 days, 95 of them spent
    ana = shop.customer("ana")
    shop.order(ana, local("2025-11-14 12:00"), total_cents=10_000)
    book(engine, settings, ana, "redeem", -95, local("2026-01-10 12:00"))
    # when campaigns ask for at least 5 and at least 6 points
    # then 5 points are worth a warning for the first only
    assert matches(engine, "points_expiring", shop.run(RUN), min_points=5)["ana"]["points"] == 5
    assert matches(engine, "points_expiring", shop.run(RUN), min_points=6) == {}


def test_a_30_day_and_a_7_day_campaign_each_fire_once_per_lot(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given lots expiring on several days of November 2026
    for number, day in enumerate((10, 14, 14, 20, 28)):
        customer = shop.customer(f"c{number}")
        shop.order(customer, local(f"2025-11-{day:02d} 15:00"), total_cents=3_000)
    # when daily runs from October to December look 30 and 7 days ahead
    fired: dict[int, Counter[tuple[str, str]]] = {30: Counter(), 7: Counter()}
    when: dict[tuple[int, str], date] = {}
    for offset in range(80):
        run = shop.run(local("2026-10-01 09:00") + timedelta(days=offset))
        for days_before in fired:
            for customer, row in matches(
                engine, "points_expiring", run, days_before=days_before
            ).items():
                fired[days_before][(customer, row["occasion"])] += 1
                when[(days_before, customer)] = run.run_date
    # then every lot is warned once by each campaign, 30 and 7 days before it expires
    for days_before, counts in fired.items():
        assert sorted(counts.values()) == [1] * 5
        expiry = {customer: date.fromisoformat(occasion[9:]) for customer, occasion in counts}
        for customer, expires_on in expiry.items():
            assert when[(days_before, customer)] == expires_on - timedelta(days=days_before)


def test_lots_of_a_dst_day_are_bounded_by_its_local_midnights(
    engine: Engine, shop: ShopFactory
) -> None:
    # given lots on either side of the local midnights of 30 March 2025 (clocks went forward
    # that night at 02:00): their expiry days are 29, 30 and 31 March 2026
    times = {
        "eve": "2025-03-29 23:30",  # 22:30 UTC: still the 29th
        "first": "2025-03-30 00:30",  # 23:30 UTC on the 29th: already the 30th
        "last": "2025-03-30 23:30",  # 21:30 UTC
        "next": "2025-03-31 00:30",  # 22:30 UTC on the 30th: the 31st
    }
    for customer, at in times.items():
        shop.order(shop.customer(customer), local(at), total_cents=2_000)
    # when the run of 29 March 2026 (the next spring-forward day) looks one day ahead
    found = matches(engine, "points_expiring", shop.run(local("2026-03-29 09:00")), days_before=1)
    # then exactly the lots dated 30 March 2025 expire tomorrow
    assert set(found) == {"first", "last"}


def test_the_points_are_the_fifo_arithmetic_of_random_ledgers(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 40 customers with random lots (orders, bonuses), redemptions and reversals
    # learned days after their orders, over the year before the run and the months before
    # that, and the expiries the daily runs booked
    rng = random.Random(12)
    customers = [shop.customer() for _ in range(40)]
    start, days = date(2025, 6, 1), 500  # through 13 October 2026

    def some_day() -> date:
        return start + timedelta(days=rng.randint(0, days))

    for customer in customers:
        for _ in range(rng.randint(2, 10)):
            day = some_day()
            order = shop.order(customer, local(f"{day} 12:00"), total_cents=rng.randint(0, 20_000))
            if rng.random() < 0.25:
                learned = min(day + timedelta(days=rng.randint(0, 60)), start + timedelta(days))
                cancel(engine, settings, order, local(f"{learned} 18:00"))
        for _ in range(rng.randint(0, 2)):
            book(
                engine,
                settings,
                customer,
                "bonus",
                rng.randint(1, 80),
                local(f"{some_day()} 10:00"),
            )
        for _ in range(rng.randint(0, 4)):
            book(
                engine,
                settings,
                customer,
                "redeem",
                -rng.randint(1, 150),
                local(f"{some_day()} 13:00"),
            )
    run_date = date(2026, 10, 15)
    expire_through(engine, settings, run_date)
    with engine.connect() as connection:
        ledgers = entries_of(connection, customers, MADRID)
    moments = 0
    # when every day of the next 140 is asked for
    for days_before in range(1, 140):
        found = matches(engine, "points_expiring", shop.run(RUN), days_before=days_before)
        # then the points are what balance_on leaves of the lots expiring that day
        expected = {}
        for customer, entries in ledgers.items():
            left = balance_on(entries, run_date, horizon_days=days_before).expiring
            left -= balance_on(entries, run_date, horizon_days=days_before - 1).expiring
            if left > 0:
                expected[customer] = left
        assert {c: row["points"] for c, row in found.items()} == expected, days_before
        moments += len(found)
    assert moments > 25  # the comparison is not an empty one


def test_the_query_reads_the_ledger_through_its_indexes(engine: Engine, shop: ShopFactory) -> None:
    # when the database plans the trigger's query
    plan = query_plan(engine, "points_expiring", shop.run(RUN))
    # then the day's lots come from the `at` index and the ledgers from the covering one
    assert "ix_loyalty_ledger_at" in plan
    assert "ix_loyalty_ledger_customer_on" in plan
