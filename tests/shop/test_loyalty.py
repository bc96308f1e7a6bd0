"""The loyalty arithmetic: exact points, FIFO spending, expiry, tiers."""

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, insert, select

from campaigns.config import LoyaltySettings, Settings
from shop.expiry import write_expiries
from shop.loyalty import Entry, balance_on, entries_of, points_for
from shop.models import CustomerStats, LedgerEntry
from shop.stats import refresh_customer_stats
from tests.factories import MADRID, ShopFactory, local
from tests.triggers.ledger import book, cancel


def test_points_are_floored_exactly_without_float() -> None:
    # 0.1 point per euro: 29.90 EUR is 2.99 points, floored to 2 (a float gives 2.9899…)
    tenth = LoyaltySettings(points_per_currency_unit=Decimal("0.1"))
    assert points_for(2990, tenth) == 2
    assert points_for(3000, tenth) == 3
    assert points_for(1999, LoyaltySettings()) == 19
    assert points_for(-500, LoyaltySettings()) == 0


def test_redemptions_spend_the_oldest_points_first_and_the_rest_expires() -> None:
    # given 100 points from January, 50 from June and 120 spent in July
    entries = [
        Entry(1, "earn", 100, date(2025, 1, 10), expires_on=date(2026, 1, 10)),
        Entry(2, "earn", 50, date(2025, 6, 1), expires_on=date(2026, 6, 1)),
        Entry(3, "redeem", -120, date(2025, 7, 1)),
    ]
    # then the January lot is spent in full and 30 points of June's remain
    assert balance_on(entries, date(2025, 12, 31)).points == 30
    january = balance_on(entries, date(2026, 1, 10))
    assert (january.points, january.expired) == (30, ())
    # and those 30 expire on June's anniversary, not a day before
    assert balance_on(entries, date(2026, 5, 31)).points == 30
    june = balance_on(entries, date(2026, 6, 1))
    assert (june.points, june.expired) == (0, ((2, 30),))


def test_points_expiring_within_the_horizon() -> None:
    entries = [
        Entry(1, "earn", 40, date(2025, 7, 1), expires_on=date(2026, 7, 1)),
        Entry(2, "earn", 60, date(2025, 9, 1), expires_on=date(2026, 9, 1)),
    ]
    balance = balance_on(entries, date(2026, 6, 10), horizon_days=30)
    assert (balance.points, balance.expiring) == (100, 40)


def test_tier_for_takes_the_highest_threshold_reached() -> None:
    loyalty = LoyaltySettings(tiers={"gold": 1500, "bronze": 0, "silver": 500})
    assert list(loyalty.tiers) == ["bronze", "silver", "gold"]
    assert [loyalty.tier_for(p) for p in (0, 499, 500, 1499, 1500)] == [
        "bronze",
        "bronze",
        "silver",
        "silver",
        "gold",
    ]


def test_write_expiries_books_each_unspent_lot_once(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a customer with two lots, 30 points of the older one spent
    ana = shop.customer("ana")
    shop.order(ana, local("2025-03-01 12:00"), total_cents=10_000)
    shop.order(ana, local("2025-08-01 12:00"), total_cents=5_000)
    with engine.begin() as connection:
        connection.execute(
            insert(LedgerEntry),
            {"customer_id": ana, "kind": "redeem", "points": -30, "on_date": date(2025, 4, 1),
             "at": local("2025-04-01 10:00")},
        )  # fmt: skip
    # when expiries are written on the older lot's anniversary, twice
    with engine.begin() as connection:
        first = write_expiries(connection, date(2026, 3, 1), MADRID, settings.loyalty)
        again = write_expiries(connection, date(2026, 3, 1), MADRID, settings.loyalty)
    # then the 70 unspent points of the older lot expire, once, at the local midnight
    with engine.connect() as connection:
        rows = connection.execute(
            select(LedgerEntry.points, LedgerEntry.on_date, LedgerEntry.at).where(
                LedgerEntry.kind == "expire"
            )
        ).all()
    assert (first, again) == (1, 0)
    assert [tuple(row) for row in rows] == [(-70, date(2026, 3, 1), local("2026-03-01 00:00"))]


def test_write_expiries_since_the_last_run_looks_only_at_lots_due_since(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a lot earned late on 1 March 2025 (its expiry day is 1 March 2026)
    ana = shop.customer("ana")
    shop.order(ana, local("2025-03-01 23:30"), total_cents=10_000)
    loyalty = settings.loyalty
    with engine.begin() as connection:
        # when the runs before and after its expiry day only look at their own days
        before = write_expiries(connection, date(2026, 2, 28), MADRID, loyalty, date(2026, 2, 27))
        after = write_expiries(connection, date(2026, 3, 2), MADRID, loyalty, date(2026, 3, 1))
        # then neither books it, and the run covering 1 March does
        due = write_expiries(connection, date(2026, 3, 1), MADRID, loyalty, date(2026, 2, 28))
    assert (before, after, due) == (0, 0, 1)


def test_a_reversal_learned_later_is_spent_the_day_it_was_booked() -> None:
    # given 100 points from January 2025 and 50 from December, that December order
    # cancelled on 15 January 2026, after January's lot expired (on the 10th)
    entries = [
        Entry(1, "earn", 100, date(2025, 1, 10), expires_on=date(2026, 1, 10)),
        Entry(2, "earn", 50, date(2025, 12, 20), expires_on=date(2026, 12, 20)),
        Entry(3, "reverse", -50, date(2025, 12, 20), booked_on=date(2026, 1, 15)),
    ]
    # then before it was learned the balance held both lots, and January's expired whole
    assert balance_on(entries, date(2026, 1, 14)) == balance_on(entries[:2], date(2026, 1, 14))
    assert balance_on(entries, date(2026, 1, 14)).expired == ((1, 100),)
    # and from the day it was learned it takes December's points, not the expired lot's
    learned = balance_on(entries, date(2026, 1, 15))
    assert (learned.points, learned.expired) == (0, ((1, 100),))
    # while a reversal learned before the expiry spends the oldest lot, as any spend
    early = [*entries[:2], Entry(3, "reverse", -50, date(2025, 12, 20), booked_on=None)]
    assert balance_on(early, date(2026, 1, 10)).expired == ((1, 50),)


def test_entries_of_dates_a_late_reversal_on_the_shop_local_day_it_was_booked(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given an order of 20 December cancelled at 00:30 Madrid time on 15 January (23:30 UTC
    # on the 14th), and a redemption on the order's own day
    ana = shop.customer("ana")
    order = shop.order(ana, local("2025-12-20 12:00"), total_cents=5_000)
    cancel(engine, settings, order, local("2026-01-15 00:30"))
    book(engine, settings, ana, "redeem", -10, local("2025-12-20 18:00"))
    # when its ledger is read with the shop's zone, and without
    with engine.connect() as connection:
        zoned = entries_of(connection, [ana], MADRID)[ana]
        plain = entries_of(connection, [ana])[ana]
    # then the reversal carries 15 January; the order's entries and the redemption nothing
    assert {e.kind: e.booked_on for e in zoned} == {
        "earn": None, "reverse": date(2026, 1, 15), "redeem": None,
    }  # fmt: skip
    assert {e.booked_on for e in plain} == {None}


def _window(
    engine: Engine, loyalty: LoyaltySettings, on: date
) -> dict[str, tuple[int, str | None]]:
    with engine.begin() as connection:
        refresh_customer_stats(connection, loyalty, on)
        rows = connection.execute(
            select(CustomerStats.customer_id, CustomerStats.points_window, CustomerStats.tier)
        )
        return {customer: (points, tier) for customer, points, tier in rows}


def test_the_tier_window_nets_out_cancelled_orders_and_counts_bonuses_if_configured(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 450 points from orders, a 200-point order cancelled later, and a 100-point bonus
    ana = shop.customer("ana")
    shop.order(ana, local("2026-03-01 12:00"), total_cents=45_000)
    cancelled = shop.order(ana, local("2026-04-01 12:00"), total_cents=20_000)
    cancel(engine, settings, cancelled, local("2026-05-01 12:00"))
    book(engine, settings, ana, "bonus", 100, local("2026-06-01 12:00"))
    # when the summaries are computed with and without actions counting toward tiers
    orders_only = _window(engine, settings.loyalty, date(2026, 6, 15))
    with_actions = _window(
        engine, LoyaltySettings(actions_count_toward_tiers=True), date(2026, 6, 15)
    )
    # then the cancelled order counts in neither, the bonus in the second only
    assert orders_only == {"ana": (450, "bronze")}
    assert with_actions == {"ana": (550, "silver")}
