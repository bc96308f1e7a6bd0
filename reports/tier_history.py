"""Tiers at the edges of a period, and the points balance at its end, from one pass.

A customer's tier at the end of the shop-local day d is the tier of the points EARNED on
dates in (d - points_expire_days, d]: the sum of the `loyalty.tier_kinds` entries (orders'
`earn`, less the `reverse` of cancelled ones, plus `bonus` when actions count toward
tiers), the rule of `shop.stats.refresh_customer_stats` and of the tier_change trigger
(whose instant t counts the same entries when t is the end of a day). Spending, refunds,
expiry and corrections never move a tier. One GROUP BY over the ledger (its covering
(customer_id, on_date, kind, at, points) index, read in order) sums both windows and the
balance per customer; the outer query counts customers per (tier before, tier at end)
with `shop.stats.tier_expression`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from campaigns.config import LoyaltySettings
from shop.models import LedgerEntry
from shop.stats import tier_expression


@dataclass(frozen=True)
class TierHistory:
    """Members: customers with a ledger entry on or before `end`."""

    distribution: dict[str, int]  # tier at the end of `end`
    migration: dict[str, dict[str, int]]  # tier at the end of start - 1 -> tier at end
    outstanding: int  # every entry dated on or before `end`, summed


def tier_history(
    connection: Connection, loyalty: LoyaltySettings, start: date, end: date
) -> TierHistory:
    """Tiers before the period and at its end; members who joined during it start in the
    lowest tier (no points earned), so the columns add up to the distribution at end."""
    per = _per_member(loyalty, start - timedelta(days=1), end).subquery()
    tiers = select(
        tier_expression(per.c.before, loyalty).label("before"),
        tier_expression(per.c.after, loyalty).label("after"),
        per.c.balance,
    ).subquery()  # grouped by name: PostgreSQL would not match two renderings of the CASE
    cells = select(tiers.c.before, tiers.c.after, func.count(), func.sum(tiers.c.balance))
    cells = cells.group_by(tiers.c.before, tiers.c.after)
    names = list(loyalty.tiers)
    migration = {name: dict.fromkeys(names, 0) for name in names}
    outstanding = 0
    for tier_before, tier_after, members, balance in connection.execute(cells):
        migration[tier_before][tier_after] += int(members)
        outstanding += int(balance)
    distribution = {name: sum(row[name] for row in migration.values()) for name in names}
    return TierHistory(distribution, migration, outstanding)


def _per_member(loyalty: LoyaltySettings, before: date, end: date) -> Any:
    """Per customer: points earned in the tier window ending `before` and `end`, balance."""
    days = timedelta(days=loyalty.points_expire_days)
    day, earned = LedgerEntry.on_date, LedgerEntry.kind.in_(loyalty.tier_kinds)
    return (
        select(
            _sum_if(and_(earned, day > before - days, day <= before)).label("before"),
            _sum_if(and_(earned, day > end - days)).label("after"),
            func.sum(LedgerEntry.points).label("balance"),
        )
        .where(day <= end)
        .group_by(LedgerEntry.customer_id)
    )


def _sum_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, LedgerEntry.points), else_=0))
