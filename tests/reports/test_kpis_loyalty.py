"""Loyalty KPIs computed by hand: points flows and balance, tiers, RFM segments."""

from datetime import date, datetime, time

from sqlalchemy import Engine, insert

from campaigns.config import Settings
from shop.models import LedgerEntry
from tests.factories import MADRID, ShopFactory
from tests.reports.test_kpis import kpis, orders


def entry(engine: Engine, customer: str, kind: str, points: int, on: str) -> None:
    """A ledger entry written as the shop would date it (shop-local midnight)."""
    day = date.fromisoformat(on)
    with engine.begin() as connection:
        connection.execute(
            insert(LedgerEntry),
            {
                "customer_id": customer,
                "kind": kind,
                "points": points,
                "on_date": day,
                "at": datetime.combine(day, time(0), MADRID),
            },
        )


def test_points_flows_balance_and_value(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    orders(shop, "buyer", ("2026-06-01 12:00", 5000))  # earns 50; the year's AOV is 50.00
    shop.customer("p")
    entry(engine, "p", "earn", 1000, "2026-05-01")  # before the period: balance only
    entry(engine, "p", "earn", 200, "2026-11-03")
    entry(engine, "p", "expire", -50, "2026-11-10")
    entry(engine, "p", "adjust", 25, "2026-11-11")  # no flow, but the balance
    entry(engine, "p", "earn", 300, "2026-11-20")
    entry(engine, "p", "redeem", -100, "2026-11-21")
    entry(engine, "p", "redeem", -400, "2026-12-02")  # after the period
    found = kpis(engine, settings)
    # outstanding 50 + 1000 + 200 - 50 + 25 + 300 - 100 = 1425 points, and 100 points take
    # 10 % off a 50.00 order: 1425 / 100 x 5.00 = 71.25
    assert found["points"] == {
        "issued": 500,
        "redeemed": 100,
        "expired": 50,
        "outstanding": 1425,
        "outstanding_value": 71.25,
        "redemption_rate": 0.2,
    }
    daily = {day["date"]: day for day in found["points_daily"]}
    assert len(daily) == 30
    assert daily["2026-11-03"] == {"date": "2026-11-03", "issued": 200, "redeemed": 0, "expired": 0}
    assert daily["2026-11-10"]["expired"] == 50
    assert daily["2026-11-11"] == {"date": "2026-11-11", "issued": 0, "redeemed": 0, "expired": 0}
    assert daily["2026-11-21"]["redeemed"] == 100


def test_points_without_a_year_of_orders_have_no_value(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    shop.customer("p")
    entry(engine, "p", "earn", 300, "2026-11-20")
    points = kpis(engine, settings)["points"]
    assert (points["outstanding"], points["outstanding_value"]) == (300, None)


def test_tier_distribution_and_migration(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # silver 500, gold 1500, over points EARNED in the 365 days ending on the day;
    # before the period = the end of 2026-10-31, window 2025-11-01 .. 2026-10-31
    for customer in ("climber", "faller", "spender", "newcomer", "later", "edge"):
        shop.customer(customer)
    entry(engine, "climber", "earn", 600, "2026-01-15")
    entry(engine, "climber", "earn", 1000, "2026-11-12")  # 1600 by the end: gold
    entry(engine, "faller", "earn", 1600, "2025-11-30")  # gold, out of the window on 11-30
    entry(engine, "edge", "earn", 1600, "2025-10-31")  # out of both windows
    entry(engine, "spender", "earn", 700, "2026-09-01")
    entry(engine, "spender", "redeem", -600, "2026-11-05")  # spending never demotes
    entry(engine, "newcomer", "earn", 100, "2026-11-20")
    entry(engine, "later", "earn", 2000, "2026-12-05")  # after the period: not a member yet
    tiers = kpis(engine, settings)["tiers"]
    assert tiers["distribution"] == {"bronze": 3, "silver": 1, "gold": 1}
    assert tiers["migration"] == {
        "bronze": {"bronze": 2, "silver": 0, "gold": 0},
        "silver": {"bronze": 0, "silver": 1, "gold": 1},
        "gold": {"bronze": 1, "silver": 0, "gold": 0},
    }


def test_tiers_follow_the_configured_names(engine: Engine, shop: ShopFactory) -> None:
    settings = shop.settings.model_copy(
        update={"loyalty": shop.settings.loyalty.model_copy(update={"tiers": {"member": 0}})}
    )
    shop.customer("p")
    entry(engine, "p", "earn", 5000, "2026-11-20")
    tiers = kpis(engine, settings)["tiers"]
    assert tiers == {"distribution": {"member": 1}, "migration": {"member": {"member": 1}}}


def test_rfm_segments(engine: Engine, settings: Settings, shop: ShopFactory) -> None:
    # scored among the 5 customers with an order in 2025-12-01 .. 2026-11-30 (n = 5, so a
    # score is the rank, ties taking the lowest): R by last order, F orders, M cents
    champion = [(f"2026-11-{day:02d} 12:00", 10_000) for day in (1, 5, 9, 13, 17, 29)]
    orders(shop, "champion", *champion)  # R5 F5 M5 -> FM 5: champions
    orders(shop, "m3", ("2026-10-10 12:00", 6000), ("2026-10-20 12:00", 6000))  # R4 F3 M4: FM 4
    orders(shop, "m2", ("2026-09-01 12:00", 2000))  # R3 F1 (tied with lost) M2 -> FM 2
    m1 = [(f"2026-0{month}-01 12:00", 2000) for month in (4, 5, 6)]
    orders(shop, "m1", *m1)  # R2 F4 M3 -> FM 4 (3.5 rounds half up, as m3's)
    orders(shop, "lost", ("2025-12-01 12:00", 500))  # R1 F1 M1: the window's first day
    orders(shop, "gone", ("2025-11-30 12:00", 90_000))  # outside the window: not scored
    found = kpis(engine, settings)
    segments = found["rfm"]["segments"]
    assert sum(segments.values()) == found["customers"]["at_end"] == 5
    assert {name: n for name, n in segments.items() if n} == {
        "champions": 1,
        "loyal": 1,
        "about_to_sleep": 1,
        "at_risk": 1,
        "lost": 1,
    }


def test_equal_customers_share_a_segment(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # NTILE would split ten identical customers over five tiles; ranks give them all 1s
    for n in range(10):
        orders(shop, f"twin{n}", ("2026-11-10 12:00", 1000))
    assert kpis(engine, settings)["rfm"]["segments"]["lost"] == 10
