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
from shop.models import BONUS, EARN, REVERSE, CustomerStats, LedgerEntry, Order
from shop.sql import upsert_insert

# The earned kinds, split as the summaries keep them: `LoyaltySettings.tier_kinds` is the
# first, plus the second when the program counts actions toward tiers.
EARNED_BY_ORDERS = (EARN, REVERSE)
EARNED_BY_ACTIONS = (BONUS,)
LEDGER_SUMS = (
    "points_net", "earned_orders", "earned_actions", "window_orders", "window_actions",
    "left_orders", "left_actions", "ledger_through", "ledger_last_at",
)  # fmt: skip


def counts_actions(loyalty: LoyaltySettings) -> bool:
    """Whether the program's tier kinds are the orders' earned kinds plus the actions'."""
    return set(EARNED_BY_ACTIONS) <= set(loyalty.tier_kinds)


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
    when the program counts them toward tiers. The whole-ledger sums (`LEDGER_SUMS`) hold
    every entry of the customer, whatever its date, with the highest id and latest instant
    among them: the loyalty triggers trust them for a customer only if no entry they read
    since the previous run lies beyond those (triggers.ledger_sums). Every writer of ledger
    entries refreshes its customers, so they are current in the daily flow."""
    window_start = on - timedelta(days=loyalty.points_expire_days)  # exclusive
    dated_in_window = and_(LedgerEntry.on_date > window_start, LedgerEntry.on_date <= on)
    dated_left = LedgerEntry.on_date == window_start  # in the window of the day before

    def total(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((and_(*conditions), LedgerEntry.points), else_=0))

    by_orders = LedgerEntry.kind.in_(EARNED_BY_ORDERS)
    by_actions = LedgerEntry.kind.in_(EARNED_BY_ACTIONS)
    points = select(
        LedgerEntry.customer_id,
        total(LedgerEntry.on_date <= on).label("balance"),
        func.sum(LedgerEntry.points).label("net"),
        total(by_orders).label("earned_orders"),
        total(by_actions).label("earned_actions"),
        total(by_orders, dated_in_window).label("window_orders"),
        total(by_actions, dated_in_window).label("window_actions"),
        total(by_orders, dated_left).label("left_orders"),
        total(by_actions, dated_left).label("left_actions"),
        func.max(LedgerEntry.id).label("through"),
        func.max(LedgerEntry.at).label("last_at"),
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
    window: ColumnElement[int] = (
        p.c.window_orders + p.c.window_actions if counts_actions(loyalty) else p.c.window_orders
    )
    # Driven by the ledger: every order books an earn entry (shop.import_write), so its
    # customers are every buyer, and also those with only points for actions.
    source = (
        select(
            p.c.customer_id,
            func.coalesce(o.c.order_count, 0),
            func.coalesce(o.c.total, 0),
            o.c.first_on,
            o.c.last_on,
            o.c.last_at,
            p.c.balance,
            window,
            tier_expression(window, loyalty),
            literal(on, Date()),
            p.c.net,
            p.c.earned_orders,
            p.c.earned_actions,
            p.c.window_orders,
            p.c.window_actions,
            p.c.left_orders,
            p.c.left_actions,
            p.c.through,
            p.c.last_at,
        )
        .outerjoin(o, o.c.customer_id == p.c.customer_id)
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
        *LEDGER_SUMS,
    ]
    insert = upsert_insert(connection, CustomerStats).from_select(columns, source)
    insert = insert.on_conflict_do_update(
        index_elements=["customer_id"],
        set_={name: getattr(insert.excluded, name) for name in columns[1:]},
    )
    connection.execute(insert)
