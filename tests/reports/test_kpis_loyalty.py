"""Loyalty KPIs computed by hand: points flows and balance, tiers, RFM segments."""

from collections import Counter
from datetime import date, datetime, time

import pytest
from sqlalchemy import Engine, insert, select

from campaigns.config import Settings
from shop.models import CustomerStats, LedgerEntry
from tests.factories import MADRID, ShopFactory, local
from tests.reports.test_kpis import END, kpis, orders


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


def test_bonus_points_are_issued_and_reward_coupons_redeemed(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    shop.customer("p")
    entry(engine, "p", "earn", 200, "2026-11-03")
    entry(engine, "p", "bonus", 50, "2026-11-03")  # a review: issued as an order's points
    entry(engine, "p", "reward", -100, "2026-11-10")  # a reward coupon's cost: a spend
    entry(engine, "p", "redeem", -30, "2026-11-10")
    points = kpis(engine, settings)["points"]
    assert (points["issued"], points["redeemed"], points["expired"]) == (250, 130, 0)
    assert points["outstanding"] == 120
    assert points["redemption_rate"] == 0.52  # 130 / 250
    daily = {day["date"]: day for day in kpis(engine, settings)["points_daily"]}
    assert daily["2026-11-03"] == {"date": "2026-11-03", "issued": 250, "redeemed": 0, "expired": 0}
    assert daily["2026-11-10"] == {"date": "2026-11-10", "issued": 0, "redeemed": 130, "expired": 0}


def test_a_reversal_lowers_points_issued_and_the_tier_but_redeems_nothing(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # silver from 500 points earned in the 365 days; a cancelled order's reverse entry
    # carries the order's date and takes its points back
    shop.customer("p")
    entry(engine, "p", "earn", 400, "2026-10-10")  # bronze before the period
    entry(engine, "p", "earn", 300, "2026-11-05")  # 700: silver, until the order is cancelled
    entry(engine, "p", "reverse", -300, "2026-11-05")
    found = kpis(engine, settings)
    assert found["points"]["issued"] == 0
    assert found["points"]["redeemed"] == 0
    assert found["points"]["redemption_rate"] is None  # nothing issued, nothing to divide
    assert found["points"]["outstanding"] == 400
    assert found["tiers"]["distribution"] == {"bronze": 1, "silver": 0, "gold": 0}
    assert found["tiers"]["migration"]["bronze"] == {"bronze": 1, "silver": 0, "gold": 0}


def test_a_refund_of_spent_points_lowers_points_redeemed_not_the_tier(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    shop.customer("p")
    entry(engine, "p", "earn", 600, "2026-10-10")  # silver before and after
    entry(engine, "p", "redeem", -100, "2026-11-05")
    entry(engine, "p", "reward", -100, "2026-11-06")
    entry(engine, "p", "refund", 100, "2026-11-20")  # the cancelled order's reward back
    found = kpis(engine, settings)
    assert (found["points"]["issued"], found["points"]["redeemed"]) == (0, 100)
    assert found["points"]["outstanding"] == 500
    daily = {day["date"]: day["redeemed"] for day in found["points_daily"]}
    assert (daily["2026-11-05"], daily["2026-11-06"], daily["2026-11-20"]) == (100, 100, -100)
    assert found["tiers"]["distribution"] == {"bronze": 0, "silver": 1, "gold": 0}


@pytest.mark.parametrize("counting", [False, True])
def test_tiers_count_points_for_actions_only_when_the_program_says(
    engine: Engine, settings: Settings, shop: ShopFactory, counting: bool
) -> None:
    loyalty = settings.loyalty.model_copy(update={"actions_count_toward_tiers": counting})
    settings = settings.model_copy(update={"loyalty": loyalty})
    shop.settings = settings
    # an order of 400 points before the period, 200 points for reviews during it
    shop.order(shop.customer("reviewer"), local("2026-10-10 12:00"), 40_000)
    entry(engine, "reviewer", "bonus", 200, "2026-11-12")
    # a bonus before the period lifts the start too, when it counts
    shop.order(shop.customer("early"), local("2026-10-01 12:00"), 45_000)
    entry(engine, "early", "bonus", 100, "2026-10-02")
    # spending never lowers a tier, whatever counts
    shop.order(shop.customer("spender"), local("2026-09-01 12:00"), 60_000)
    entry(engine, "spender", "reward", -100, "2026-11-03")
    entry(engine, "spender", "redeem", -500, "2026-11-04")
    tiers = kpis(engine, settings)["tiers"]
    if counting:
        assert tiers["migration"] == {
            "bronze": {"bronze": 0, "silver": 1, "gold": 0},  # the reviewer's 600
            "silver": {"bronze": 0, "silver": 2, "gold": 0},  # early's 550, the spender's 600
            "gold": {"bronze": 0, "silver": 0, "gold": 0},
        }
    else:
        assert tiers["migration"] == {
            "bronze": {"bronze": 2, "silver": 0, "gold": 0},  # 400 and 450
            "silver": {"bronze": 0, "silver": 1, "gold": 0},
            "gold": {"bronze": 0, "silver": 0, "gold": 0},
        }
    # the very tiers shop.stats keeps in customer_stats on the period's last day
    shop.refresh_stats(END)
    with engine.connect() as connection:
        kept = Counter(connection.scalars(select(CustomerStats.tier)))
    assert tiers["distribution"] == {name: kept[name] for name in settings.loyalty.tiers}
