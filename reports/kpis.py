"""The loyalty program's KPIs over a period of shop-local dates: `loyalty_kpis`.

Read-only, set-based passes, each one statement: the orders (`reports.kpis_orders`), the
RFM scores (`reports.rfm`), the ledger's daily flows (`reports.kpis_points`), the tiers
with the balance (`reports.tier_history`) and the survey answers (`reports.kpis_surveys`).
The database returns exact integers (counts, cents, points); every rate and average is
computed here from them with `Fraction`, so SQLite and PostgreSQL give the same JSON.
Definitions: docs/kpis.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from campaigns.config import LoyaltySettings
from reports.kpis_orders import OrderActivity, order_activity
from reports.kpis_points import PointsDay, points_days
from reports.kpis_surveys import SurveyFacts, survey_facts
from reports.rfm import rfm_segments
from reports.tier_history import TierHistory, tier_history

ACTIVE_DAYS = 365  # a customer is active with an order in the 365 days before an instant
RATE_DIGITS = 4  # rates and ratios: 0.01 % is finer than any decision they feed


@dataclass(frozen=True)
class Kpis:
    """What the passes found (exact) and what the derived figures need."""

    start: date
    end: date
    orders: OrderActivity
    points_daily: tuple[PointsDay, ...]
    tiers: TierHistory
    rfm: dict[str, int]
    gross_margin: Decimal
    reward_points: int
    reward_percent_off: int
    active_days: int = ACTIVE_DAYS
    surveys: SurveyFacts = field(default_factory=SurveyFacts)

    def as_json(self) -> dict[str, Any]:
        """The report's `kpis` object: money in currency units (2 decimals), rates as
        fractions, None where a figure is undefined (a division by zero)."""
        return {
            "customers": _customers(self.orders, self.active_days),
            "orders": _orders(self.orders),
            "clv": _clv(self.orders, self.gross_margin),
            "points": self._points(),
            "points_daily": [day.as_json() for day in self.points_daily],
            "tiers": {"distribution": self.tiers.distribution, "migration": self.tiers.migration},
            "rfm": {"segments": self.rfm},
            "surveys": self.surveys.as_json(),
        }

    def outstanding_value_cents(self) -> Fraction | None:
        """The balance at end as the discount it buys: every `reward_points` points take
        `reward_percent_off` % off an order of the average value (the 365 days to end)."""
        outstanding, orders = self.tiers.outstanding, self.orders
        if outstanding == 0:
            return Fraction(0)
        if orders.year_orders == 0:
            return None
        per_reward = Fraction(self.reward_percent_off, 100) * orders.year_cents / orders.year_orders
        return outstanding * per_reward / self.reward_points

    def _points(self) -> dict[str, Any]:
        issued = sum(day.issued for day in self.points_daily)
        redeemed = sum(day.redeemed for day in self.points_daily)
        return {
            "issued": issued,
            "redeemed": redeemed,
            "expired": sum(day.expired for day in self.points_daily),
            "outstanding": self.tiers.outstanding,
            "outstanding_value": _money(self.outstanding_value_cents()),
            "redemption_rate": _rate(_ratio(redeemed, issued)),
        }


def loyalty_kpis(
    connection: Connection,
    loyalty: LoyaltySettings,
    start: date,
    end: date,
    *,
    gross_margin: Decimal,
    tz: ZoneInfo,
    survey_kinds: Mapping[str, str] | None = None,
) -> Kpis:
    """The KPIs of the shop-local dates [start, end]. Orders and ledger entries carry the
    shop-local date they were written with (in `tz`), so their edges are date comparisons;
    survey answers and clicks carry instants only, so theirs are the local midnights in
    `tz`. `survey_kinds`: campaign -> the kind of survey it asks (for response rates)."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    return Kpis(
        start=start,
        end=end,
        orders=order_activity(connection, start, end, ACTIVE_DAYS),
        points_daily=points_days(connection, start, end),
        tiers=tier_history(connection, loyalty, start, end),
        rfm=rfm_segments(connection, end, ACTIVE_DAYS),
        gross_margin=gross_margin,
        reward_points=loyalty.reward_points,
        reward_percent_off=loyalty.reward_percent_off,
        surveys=survey_facts(connection, start, end, tz=tz, kinds=survey_kinds or {}),
    )


def _customers(found: OrderActivity, active_days: int) -> dict[str, Any]:
    start, end, new = found.customers_at_start, found.customers_at_end, found.new_customers
    retention = _ratio(end - new, start)
    return {
        "at_start": start,
        "at_end": end,
        "new": new,
        "retention_rate": _rate(retention),
        "churn_rate": _rate(None if retention is None else 1 - retention),
        "active_definition_days": active_days,
    }


def _orders(found: OrderActivity) -> dict[str, Any]:
    return {
        "count": found.orders,
        "revenue": _money(found.revenue_cents),
        "average_order_value": _money(_ratio(found.revenue_cents, found.orders)),
        "purchase_frequency": _rate(_ratio(found.orders, found.buyers)),
        "repeat_purchase_rate": _rate(_ratio(found.repeat_buyers, found.buyers)),
        "upsell_ratio": _rate(_ratio(found.upsold_buyers, found.returning_buyers)),
    }


def _clv(found: OrderActivity, gross_margin: Decimal) -> dict[str, Any]:
    historic = _ratio(found.lifetime_cents, found.lifetime_customers)
    margin = None if historic is None else historic * Fraction(gross_margin)
    return {"historic": _money(historic), "historic_margin": _money(margin)}


def _ratio(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


def _rate(value: Fraction | None) -> float | None:
    return None if value is None else float(round(value, RATE_DIGITS))  # exact, half-even


def _money(cents: Fraction | int | None) -> float | None:
    return None if cents is None else float(round(Fraction(cents, 100), 2))
