"""Expiry, set-based: whole lots in one statement, FIFO only for customers who spent."""

import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.expiry import write_expiries
from shop.import_loyalty import book_redeems, book_refunds, book_reversals
from shop.loyalty import Entry, balance_on, entries_of
from shop.models import CustomerStats, LedgerEntry, Order
from shop.stats import refresh_customer_stats
from tests.factories import MADRID, ShopFactory, local
from tests.triggers.ledger import book, cancel


def _spend(engine: Engine, customer_id: str, on: date, points: int, kind: str = "redeem") -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(LedgerEntry),
            {"customer_id": customer_id, "kind": kind, "points": -points, "on_date": on,
             "at": local(f"{on} 10:00")},
        )  # fmt: skip


def _expected(engine: Engine, customers: list[str], on: date) -> set[tuple[str, int, int]]:
    """(customer, lot, points) that balance_on says expired by `on`: the reference."""
    with engine.connect() as connection:
        ledgers = entries_of(connection, customers, MADRID)  # reversals spent when booked
    return {
        (customer, lot, points)
        for customer, entries in ledgers.items()
        for lot, points in balance_on(_without_expiries(entries), on).expired
    }


def _without_expiries(entries: list[Entry]) -> list[Entry]:
    return [entry for entry in entries if entry.kind != "expire"]


def _booked(engine: Engine) -> set[tuple[str, int, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(LedgerEntry.customer_id, LedgerEntry.lot_id, LedgerEntry.points).where(
                LedgerEntry.kind == "expire"
            )
        ).all()
    return {(customer, lot or 0, -points) for customer, lot, points in rows}


def test_expiries_day_by_day_equal_the_fifo_arithmetic_for_spenders_and_others(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 30 customers with random orders over two years, a third of them redeeming points
    rng = random.Random(5)
    customers = [shop.customer() for _ in range(30)]
    start = date(2024, 1, 1)
    for number, customer in enumerate(customers):
        for _ in range(rng.randint(0, 6)):
            day = start + timedelta(days=rng.randint(0, 700))
            shop.order(customer, local(f"{day} 12:00"), total_cents=rng.randint(0, 30_000))
        if number % 3 == 0:
            day = start + timedelta(days=rng.randint(100, 700))
            _spend(engine, customer, day, rng.randint(1, 150), rng.choice(["redeem", "adjust"]))
    # when a first run books all of history, then daily runs book each day's lots
    first = date(2025, 3, 1)
    with engine.begin() as connection:
        written = write_expiries(connection, first, MADRID, settings.loyalty)
    # then what was booked is what the FIFO arithmetic says expired, exactly
    assert _booked(engine) == _expected(engine, customers, first)
    assert written == len(_booked(engine))
    day = first
    while day < date(2026, 12, 31):
        with engine.begin() as connection:
            write_expiries(connection, day + timedelta(days=7), MADRID, settings.loyalty, day)
        day += timedelta(days=7)
        assert _booked(engine) == _expected(engine, customers, day)
    assert any(customer in {c for c, _, _ in _booked(engine)} for customer in customers[::3])


def test_an_expire_entry_is_booked_at_the_local_midnight_across_dst(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given lots expiring on the last winter day and the first summer day of 2026 (29 March)
    ana = shop.customer("ana")
    shop.order(ana, local("2025-03-28 12:00"), total_cents=1_000)
    shop.order(ana, local("2025-03-30 12:00"), total_cents=2_000)
    # when a first run books them
    with engine.begin() as connection:
        write_expiries(connection, date(2026, 4, 1), MADRID, settings.loyalty)
    with engine.connect() as connection:
        rows = connection.execute(
            select(LedgerEntry.on_date, LedgerEntry.at, LedgerEntry.points)
            .where(LedgerEntry.kind == "expire")
            .order_by(LedgerEntry.on_date)
        ).all()
    # then each at its own local midnight: 23:00 UTC in winter, 22:00 UTC in summer
    assert [tuple(row) for row in rows] == [
        (date(2026, 3, 28), local("2026-03-28 00:00"), -10),
        (date(2026, 3, 30), local("2026-03-30 00:00"), -20),
    ]


def test_the_first_run_after_an_import_lowers_the_balances_of_long_expired_lots(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a customer whose 2023 lot expired long before the first run, imported with its
    # summary computed before any expiry was booked
    ana = shop.customer("ana")
    shop.order(ana, local("2023-05-01 12:00"), total_cents=40_000)
    shop.order(ana, local("2026-05-01 12:00"), total_cents=7_000)
    with engine.begin() as connection:
        refresh_customer_stats(connection, settings.loyalty, date(2026, 6, 14))
    # when the first daily run books that expiry (its instant is three years back)
    result = daily_run(engine, Config(settings, None), local("2026-06-15 09:00"))
    # then the summary shows the balance left, not the points that expired
    with engine.connect() as connection:
        balance = connection.scalar(select(CustomerStats.points_balance))
    assert (result.expired_lots, balance) == (1, 70)


def test_customers_who_spent_are_found_through_the_partial_index(
    engine: Engine, settings: Settings
) -> None:
    if engine.dialect.name != "sqlite":
        return  # the plan's text is SQLite's; PostgreSQL chooses by statistics
    from shop.expiry import _due_lots, _spenders_due

    lots = _due_lots(date(2026, 6, 16), MADRID, settings.loyalty, date(2026, 6, 15))
    query = _spenders_due(lots)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        plan = " ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    # a probe of the partial index per customer with lots due, not a scan of every spend
    assert "SEARCH spend USING INDEX ix_loyalty_ledger_spend (customer_id=?)" in plan


def _ledger_sum(engine: Engine, customer_id: str) -> int:
    with engine.connect() as connection:
        total = connection.scalar(
            select(func.sum(LedgerEntry.points)).where(LedgerEntry.customer_id == customer_id)
        )
        return int(total or 0)


def test_bonus_lots_expire_like_an_orders_points_whole_or_after_a_spend(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a customer with a review bonus of 50 points and nothing spent, and one with a
    # bonus of 80 points, 30 of them redeemed
    ana, bo = shop.customer("ana"), shop.customer("bo")
    book(engine, settings, ana, "bonus", 50, local("2025-05-01 12:00"))
    book(engine, settings, bo, "bonus", 80, local("2025-05-01 12:00"))
    _spend(engine, bo, date(2025, 6, 1), 30)
    # when the runs of the day before and of the bonus's anniversary book expiries
    with engine.begin() as connection:
        before = write_expiries(connection, date(2026, 4, 30), MADRID, settings.loyalty)
        due = write_expiries(
            connection, date(2026, 5, 1), MADRID, settings.loyalty, date(2026, 4, 30)
        )
    # then both lots expire on their anniversary with what was left of them
    assert (before, due) == (0, 2)
    assert {c: p for c, _, p in _booked(engine)} == {"ana": 50, "bo": 50}
    assert (_ledger_sum(engine, ana), _ledger_sum(engine, bo)) == (0, 0)


def test_a_cancellation_learned_after_an_expiry_never_spends_the_expired_lot_again(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 100 points from January 2025, expired whole on 10 January 2026, and an order of
    # 20 December 2025 worth 50 points, cancelled on 15 January 2026 (its reversal dated on
    # the order's day)
    ana = shop.customer("ana")
    shop.order(ana, local("2025-01-10 12:00"), total_cents=10_000)
    december = shop.order(ana, local("2025-12-20 12:00"), total_cents=5_000)
    with engine.begin() as connection:
        write_expiries(connection, date(2026, 1, 10), MADRID, settings.loyalty)
    cancel(engine, settings, december, local("2026-01-15 10:00"))
    # when the daily runs book the expiries of the year that follows
    with engine.begin() as connection:
        write_expiries(connection, date(2026, 12, 31), MADRID, settings.loyalty, date(2026, 1, 10))
    # then the reversal took December's points, spent when it was learned: nothing is left
    # to expire and the balance is 0, never below
    assert _booked(engine) == {("ana", 1, 100)}
    assert _ledger_sum(engine, ana) == 0
    with engine.connect() as connection:
        entries = entries_of(connection, [ana], MADRID)[ana]
    assert balance_on(entries, date(2026, 12, 31)).points == 0


def _redeem(engine: Engine, order_id: str, points: int) -> None:
    """The order spent `points`: its redeem entry, as the import books it."""
    with engine.begin() as connection:
        connection.execute(update(Order).where(Order.id == order_id).values(points_redeemed=points))
        book_redeems(connection, [order_id])


def _cancel(engine: Engine, settings: Settings, order_id: str, learned: datetime) -> None:
    """The order cancelled, learned at `learned`: its reversal and refunds, as the import
    books them."""
    with engine.begin() as connection:
        connection.execute(update(Order).where(Order.id == order_id).values(status="cancelled"))
        book_reversals(connection, [order_id], learned)
        book_refunds(connection, [order_id], learned, MADRID, settings.loyalty)


def test_points_given_back_expire_a_lifetime_after_the_day_learned_with_the_fifo(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 100 points from 10 January 2025 (expiring 10 January 2026) all spent on an
    # order of 20 December 2025 that earns nothing, cancelled on 15 January 2026: its 100
    # points come back after the lot they came from expired (spent, so nothing of it)
    ana = shop.customer("ana")
    shop.order(ana, local("2025-01-10 12:00"), total_cents=10_000)
    december = shop.order(ana, local("2025-12-20 12:00"), total_cents=0)
    _redeem(engine, december, 100)
    _cancel(engine, settings, december, local("2026-01-15 10:00"))
    # and 30 of them spent in March
    _spend(engine, ana, date(2026, 3, 1), 30)
    # when the daily runs book each day's expiries, through 2027
    day = date(2026, 1, 1)
    with engine.begin() as connection:
        write_expiries(connection, day, MADRID, settings.loyalty)
    booked_by = {}
    while day < date(2027, 3, 1):
        with engine.begin() as connection:
            write_expiries(connection, day + timedelta(days=1), MADRID, settings.loyalty, day)
        day += timedelta(days=1)
        booked_by[day] = _booked(engine)
    # then the lot given back lives a year from the day it was learned, and the 70 left of
    # it expire on 15 January 2027, as the FIFO arithmetic says; the ledger sums to 0
    refund = _lots(engine, "refund")
    assert [(lot["on_date"], lot["expires_on"], lot["points"]) for lot in refund] == [
        (date(2026, 1, 15), date(2027, 1, 15), 100)
    ]
    assert booked_by[date(2027, 1, 14)] == set()
    assert booked_by[date(2027, 1, 15)] == {("ana", refund[0]["id"], 70)}
    assert booked_by[date(2027, 3, 1)] == _expected(engine, [ana], date(2027, 3, 1))
    assert _ledger_sum(engine, ana) == 0


def test_expiries_with_points_given_back_equal_the_fifo_arithmetic_and_stay_positive(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 24 customers with random orders over two years, half of them spending points
    # on an order cancelled later (learned 0 to 400 days after it: some too late to give
    # anything back), and spending more after it
    rng = random.Random(7)
    customers = [shop.customer() for _ in range(24)]
    start = date(2024, 1, 1)
    cancellations: list[tuple[str, datetime]] = []
    for number, customer in enumerate(customers):
        for _ in range(rng.randint(1, 6)):
            day = start + timedelta(days=rng.randint(0, 600))
            shop.order(customer, local(f"{day} 12:00"), total_cents=rng.randint(0, 30_000))
        if number % 2 == 0:
            day = start + timedelta(days=rng.randint(100, 600))
            order = shop.order(customer, local(f"{day} 13:00"), total_cents=rng.randint(0, 9_000))
            _redeem(engine, order, rng.randint(1, 200))
            learned = local(f"{day + timedelta(days=rng.randint(0, 400))} 09:00")
            cancellations.append((order, learned))
            _spend(engine, customer, day + timedelta(days=rng.randint(1, 60)), rng.randint(1, 90))
    # when a first run books history, then weekly runs the rest, each cancellation booked
    # when it is learned, after the runs before it
    day = date(2024, 1, 1)
    with engine.begin() as connection:
        write_expiries(connection, day, MADRID, settings.loyalty)
    while day < date(2027, 6, 1):
        for order, learned in cancellations:
            if day < learned.date() <= day + timedelta(days=7):
                _cancel(engine, settings, order, learned)
        with engine.begin() as connection:
            write_expiries(connection, day + timedelta(days=7), MADRID, settings.loyalty, day)
        day += timedelta(days=7)
        # then what was booked is what the FIFO arithmetic says expired, refund lots too
        assert _booked(engine) == _expected(engine, customers, day)
    assert _lots(engine, "refund")  # some came back
    refunds = {lot["id"] for lot in _lots(engine, "refund")}
    assert refunds & {lot for _, lot, _ in _booked(engine)}  # some expired unspent
    # and once every lot is gone, every ledger sums to its FIFO balance: 0 or a debt that
    # only a reversal of spent points makes, never one a refund makes deeper
    with engine.connect() as connection:
        ledgers = entries_of(connection, customers, MADRID)
    for customer, entries in ledgers.items():
        assert _ledger_sum(engine, customer) == balance_on(entries, day).points
        without = [e for e in entries if e.kind != "refund" and e.lot_id not in refunds]
        assert balance_on(entries, day).points >= min(balance_on(without, day).points, 0)


def _lots(engine: Engine, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(LedgerEntry.__table__).where(LedgerEntry.kind == kind).order_by(LedgerEntry.id)
        )
        return [row._asdict() for row in rows]


def test_a_spend_at_the_midnight_a_lot_expires_comes_after_the_expiry(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 100 points from 2 March 2025 (expiring on 2 March 2026) and a redemption of 30
    # booked at midnight that day, and 50 points earned later
    ana = shop.customer("ana")
    shop.order(ana, local("2025-03-02 12:00"), total_cents=10_000)
    book(engine, settings, ana, "redeem", -30, local("2026-03-02 00:00"))
    shop.order(ana, local("2026-03-10 12:00"), total_cents=5_000)
    # when the run of 2 March books that day's expiries
    with engine.begin() as connection:
        write_expiries(connection, date(2026, 3, 2), MADRID, settings.loyalty)
    # then the lot expires whole (it was no longer live when the redemption came), as the
    # FIFO arithmetic says
    assert {(points, lot != 0) for _, lot, points in _booked(engine)} == {(100, True)}
    assert _booked(engine) == _expected(engine, [ana], date(2026, 3, 2))


def test_lots_that_do_not_expire_in_fifo_order_get_the_fifo_arithmetic_too(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a customer with a correction of +40 points that never expires, one whose points
    # were earned under a 365-day then a 90-day lifetime, and a regular spender
    fixed, changed, regular = shop.customer("fixed"), shop.customer("changed"), shop.customer()
    for customer in (fixed, changed, regular):
        shop.order(customer, local("2025-01-10 12:00"), total_cents=10_000)
        shop.order(customer, local("2025-05-10 12:00"), total_cents=8_000)
        book(engine, settings, customer, "redeem", -50, local("2025-06-01 12:00"))
    book(engine, settings, fixed, "adjust", 40, local("2025-02-01 12:00"))
    with engine.begin() as connection:  # the later lot's lifetime: 90 days
        connection.execute(
            update(LedgerEntry)
            .where(LedgerEntry.customer_id == changed, LedgerEntry.on_date == date(2025, 5, 10))
            .values(expires_on=date(2025, 8, 8))
        )
    # when a run books everything due by 2026
    with engine.begin() as connection:
        written = write_expiries(connection, date(2026, 1, 31), MADRID, settings.loyalty)
    # then each is what the FIFO arithmetic says: the correction is spent first when it
    # is older, the short-lived lot expires before the older one
    expected = _expected(engine, [fixed, changed, regular], date(2026, 1, 31))
    assert _booked(engine) == expected and written == len(expected)
    assert sorted(points for customer, _, points in expected if customer == changed) == [50, 80]
