"""Loyalty KPIs on small shops computed by hand: customers, orders, CLV, period edges."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from campaigns.config import Settings
from reports.kpis import loyalty_kpis
from tests.factories import MADRID, ShopFactory, local

START, END = date(2026, 11, 1), date(2026, 11, 30)


def kpis(engine: Engine, settings: Settings, start: date = START, end: date = END) -> Any:
    with engine.connect() as connection:
        found = loyalty_kpis(
            connection, settings.loyalty, start, end, gross_margin=Decimal("0.4"), tz=MADRID
        )
    return found.as_json()


def orders(shop: ShopFactory, customer: str, *placed: tuple[str, int]) -> None:
    shop.customer(customer)
    for at, cents in placed:
        shop.order(customer, local(at), cents)


def five_customers(shop: ShopFactory) -> None:
    # active at start = an order in 2025-11-01 .. 2026-10-31; at end = 2025-12-01 .. 2026-11-30
    orders(shop, "a", ("2026-03-10 12:00", 4000), ("2026-11-05 12:00", 6000),
           ("2026-11-20 12:00", 8000))  # fmt: skip  # returning, spends more per order
    orders(shop, "b", ("2026-06-01 12:00", 5000), ("2026-11-10 12:00", 3000))  # less
    orders(shop, "c", ("2025-06-01 12:00", 2000))  # inactive at both edges
    orders(shop, "d", ("2026-11-15 12:00", 1000), ("2026-11-16 12:00", 1000))  # new
    orders(shop, "e", ("2025-11-20 12:00", 3000))  # active at start, lapsed by the end


def test_customers_retention_and_churn(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    five_customers(shop)
    # S = {a, b, e}, E = {a, b, d}, N = {d}: retention (3 - 1) / 3
    assert kpis(engine, settings)["customers"] == {
        "at_start": 3,
        "at_end": 3,
        "new": 1,
        "retention_rate": 0.6667,
        "churn_rate": 0.3333,
        "active_definition_days": 365,
    }


def test_orders_and_clv(engine: Engine, settings: Settings, shop: ShopFactory) -> None:
    five_customers(shop)
    found = kpis(engine, settings)
    # a: 2 orders 140.00, b: 1 order 30.00, d: 2 orders 20.00; buyers a, b, d
    # returning buyers (also active at start) a and b: a's 70.00 per order beats 40.00
    assert found["orders"] == {
        "count": 5,
        "revenue": 190.0,
        "average_order_value": 38.0,
        "purchase_frequency": 1.6667,
        "repeat_purchase_rate": 0.6667,
        "upsell_ratio": 0.5,
    }
    # every order up to the end: 330.00 over 5 customers, x 0.4 margin
    assert found["clv"] == {"historic": 66.0, "historic_margin": 26.4}


def test_a_reactivated_customer_counts_as_retained(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # the classic formula's caveat: f was not active at start, nor is f new
    orders(shop, "a", ("2026-10-01 12:00", 1000), ("2026-11-10 12:00", 1000))
    orders(shop, "f", ("2024-05-01 12:00", 1000), ("2026-11-25 12:00", 1000))
    customers = kpis(engine, settings)["customers"]
    assert (customers["at_start"], customers["at_end"], customers["new"]) == (1, 2, 0)
    assert (customers["retention_rate"], customers["churn_rate"]) == (2.0, -1.0)


def test_the_active_window_is_365_days_to_the_day(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    orders(shop, "in_at_start", ("2025-11-01 12:00", 1000))  # 365 days before 2026-11-01
    orders(shop, "out_at_start", ("2025-10-31 12:00", 1000))  # 366
    orders(shop, "in_at_end", ("2025-12-01 12:00", 1000))  # the 365th day ending 11-30
    orders(shop, "out_at_end", ("2025-11-30 12:00", 1000))  # the 366th
    customers = kpis(engine, settings)["customers"]
    assert (customers["at_start"], customers["at_end"]) == (3, 1)


def test_period_edges_are_shop_local_days(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # Madrid is UTC+1 in November: 00:10 local on 11-01 is still 10-31 in UTC
    orders(shop, "x", ("2026-10-31 23:50", 1000), ("2026-11-01 00:10", 2000),
           ("2026-11-30 23:50", 4000), ("2026-12-01 00:10", 8000))  # fmt: skip
    found = kpis(engine, settings)
    assert (found["orders"]["count"], found["orders"]["revenue"]) == (2, 60.0)
    daily = found["points_daily"]
    assert (daily[0]["date"], daily[0]["issued"]) == ("2026-11-01", 20)
    assert (daily[-1]["date"], daily[-1]["issued"]) == ("2026-11-30", 40)
    assert found["points"]["issued"] == 60


def test_a_day_of_25_hours_when_summer_time_ends(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    orders(shop, "x", ("2026-10-25 00:30", 1000), ("2026-10-25 23:30", 2000),
           ("2026-10-26 00:30", 4000))  # fmt: skip
    day = date(2026, 10, 25)
    found = kpis(engine, settings, day, day)
    assert (found["orders"]["count"], found["orders"]["revenue"]) == (2, 30.0)
    assert found["points_daily"] == [
        {"date": "2026-10-25", "issued": 30, "redeemed": 0, "expired": 0}
    ]


def test_an_empty_shop_divides_by_nothing(engine: Engine, settings: Settings) -> None:
    found = kpis(engine, settings)
    assert found["customers"]["retention_rate"] is None
    assert found["customers"]["churn_rate"] is None
    assert found["orders"] == {
        "count": 0,
        "revenue": 0.0,
        "average_order_value": None,
        "purchase_frequency": None,
        "repeat_purchase_rate": None,
        "upsell_ratio": None,
    }
    assert found["clv"] == {"historic": None, "historic_margin": None}
    assert found["points"] == {
        "issued": 0,
        "redeemed": 0,
        "expired": 0,
        "outstanding": 0,
        "outstanding_value": 0.0,
        "redemption_rate": None,
    }
    assert len(found["points_daily"]) == 30
    assert found["tiers"]["distribution"] == {"bronze": 0, "silver": 0, "gold": 0}
    assert set(found["rfm"]["segments"].values()) == {0}
    surveys = found["surveys"]  # tests/reports/test_kpis_surveys.py for the rest
    assert [surveys[kind] for kind in ("nps", "csat", "ces", "customer_loyalty_index")] == [
        None
    ] * 4
    assert surveys["response_rate"] is None


def test_the_json_has_exactly_the_documented_keys(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    five_customers(shop)
    found = kpis(engine, settings)
    assert list(found) == [
        "customers", "orders", "clv", "points", "points_daily", "tiers", "rfm", "surveys",
    ]  # fmt: skip
    assert list(found["tiers"]["migration"]["bronze"]) == ["bronze", "silver", "gold"]
    assert len(found["rfm"]["segments"]) == 11


def test_a_period_that_ends_before_it_starts_is_refused(engine: Engine, settings: Settings) -> None:
    with pytest.raises(ValueError, match="ends"):
        kpis(engine, settings, END, START)
