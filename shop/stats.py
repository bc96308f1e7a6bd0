"""Per-customer summaries (`customer_stats`), refreshed set-based.

Import and events call `refresh_customer_stats` for the customers they touched, so a
daily run reads one indexed row per customer instead of rescanning orders.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Date,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    select,
    true,
)

from campaigns.config import LoyaltySettings
from shop.models import CustomerStats, LedgerEntry, Order
from shop.sql import upsert_insert


def tier_expression(points: ColumnElement[int], loyalty: LoyaltySettings) -> ColumnElement[str]:
    """SQL CASE mapping earned points to the highest tier whose threshold they reach."""
    tiers = list(loyalty.tiers.items())  # sorted by threshold, lowest first
    whens = [(points >= threshold, name) for name, threshold in reversed(tiers[1:])]
    if not whens:
        return literal(tiers[0][0], String())
    return case(*whens, else_=tiers[0][0])


def refresh_customer_stats(
    connection: Connection,
    loyalty: LoyaltySettings,
    on: date,
    customers: Select[str] | CompoundSelect[str] | None = None,
) -> None:
    """Recompute the summary of `customers` (all when None) as of the shop-local date `on`.

    The tier window sums the `loyalty.tier_kinds` entries dated in it: orders' points, less
    those of cancelled orders (a reversal carries its order's date), plus points for actions
    when the program counts them toward tiers."""
    window_start = on - timedelta(days=loyalty.points_expire_days)  # exclusive
    in_window = and_(
        LedgerEntry.kind.in_(loyalty.tier_kinds),
        LedgerEntry.on_date > window_start,
        LedgerEntry.on_date <= on,
    )
    points = select(
        LedgerEntry.customer_id,
        func.sum(case((in_window, LedgerEntry.points), else_=0)).label("window"),
        func.sum(case((LedgerEntry.on_date <= on, LedgerEntry.points), else_=0)).label("balance"),
    ).group_by(LedgerEntry.customer_id)
    orders = select(
        Order.customer_id,
        func.count().label("order_count"),
        func.sum(Order.total_cents).label("total"),
        func.min(Order.local_date).label("first_on"),
        func.max(Order.local_date).label("last_on"),
        func.max(Order.ordered_at).label("last_at"),
    ).group_by(Order.customer_id)
    if customers is not None:
        points = points.where(LedgerEntry.customer_id.in_(customers))
        orders = orders.where(Order.customer_id.in_(customers))
    o = orders.subquery()
    p = points.subquery()
    window: ColumnElement[int] = func.coalesce(p.c.window, 0)
    source = (
        select(
            o.c.customer_id,
            o.c.order_count,
            o.c.total,
            o.c.first_on,
            o.c.last_on,
            o.c.last_at,
            func.coalesce(p.c.balance, 0),
            window,
            tier_expression(window, loyalty),
            literal(on, Date()),
        )
        .outerjoin(p, p.c.customer_id == o.c.customer_id)
        .where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    )
    columns = [
        "customer_id",
        "order_count",
        "total_spent_cents",
        "first_order_on",
        "last_order_on",
        "last_order_at",
        "points_balance",
        "points_window",
        "tier",
        "computed_on",
    ]
    insert = upsert_insert(connection, CustomerStats).from_select(columns, source)
    insert = insert.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={name: getattr(insert.excluded, name) for name in columns[1:]},
    )
    connection.execute(insert)
