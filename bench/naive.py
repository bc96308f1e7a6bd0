"""The four trigger rules as a naive per-customer loop: the baseline the benchmark beats.

This is how such rules are often first written: load each customer, then ask the
database about their orders, ledger and carts one query at a time. It also serves as an
independent implementation to cross-check the set-based results on a sample.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Row, func, select

from shop.models import CartEvent, Customer, LedgerEntry, Order
from triggers.base import RunContext


def naive_matches(
    connection: Connection, customer_ids: Sequence[str], run: RunContext
) -> dict[str, set[str]]:
    """trigger name -> the sampled customers it matches (defaults of each trigger)."""
    found: dict[str, set[str]] = {
        "birthday": set(),
        "abandoned_cart": set(),
        "tier_change": set(),
        "win_back": set(),
    }
    for customer_id in customer_ids:
        for name, rule in _RULES.items():
            if rule(connection, customer_id, run):
                found[name].add(customer_id)
    return found


def _birthday(connection: Connection, customer_id: str, run: RunContext) -> bool:
    born = connection.scalar(select(Customer.birth_date).where(Customer.id == customer_id))
    if born is None:
        return False
    day = run.run_date
    if (born.month, born.day) == (day.month, day.day):
        return True
    return (
        (born.month, born.day) == (2, 29)
        and (day.month, day.day) == (2, 28)
        and not (calendar.isleap(day.year))
    )


def _win_back(connection: Connection, customer_id: str, run: RunContext) -> bool:
    last = connection.scalar(
        select(func.max(Order.local_date)).where(
            Order.customer_id == customer_id, Order.local_date <= run.run_date
        )
    )
    return last is not None and 90 <= (run.run_date - last).days <= 120


def _tier_change(connection: Connection, customer_id: str, run: RunContext) -> bool:
    entries = connection.execute(
        select(LedgerEntry.points, LedgerEntry.on_date, LedgerEntry.at).where(
            LedgerEntry.customer_id == customer_id, LedgerEntry.kind == "earn"
        )
    ).all()
    days = run.loyalty.points_expire_days
    window_now = run.run_date - timedelta(days=days)
    window_before = window_now - timedelta(days=1)
    now = run.loyalty.tier_for(_earned(entries, window_now, run.at))
    before = run.loyalty.tier_for(_earned(entries, window_before, run.previous_run_at))
    ranks = list(run.loyalty.tiers)
    return ranks.index(now) > ranks.index(before)


def _earned(entries: Sequence[Row[int, date, datetime]], after: date, by: datetime) -> int:
    """Points earned on dates after `after` and booked by the instant `by`."""
    return sum(points for points, on_date, at in entries if on_date > after and at <= by)


def _abandoned_cart(connection: Connection, customer_id: str, run: RunContext) -> bool:
    events = connection.execute(
        select(CartEvent.cart_id, CartEvent.sku, CartEvent.quantity, CartEvent.at)
        .where(CartEvent.customer_id == customer_id, CartEvent.at <= run.at)
        .order_by(CartEvent.at)
    ).all()
    idle_until = run.at - timedelta(hours=4)
    carts: dict[str, dict[str, int]] = {}
    last_change: dict[str, datetime] = {}
    for cart_id, sku, quantity, at in events:
        carts.setdefault(cart_id, {})[sku] = quantity
        last_change[cart_id] = at
    for cart_id, lines in carts.items():
        changed = last_change[cart_id]
        if not (idle_until - timedelta(hours=24) < changed <= idle_until):
            continue
        if sum(lines.values()) <= 0:
            continue
        ordered = connection.scalar(
            select(func.count()).where(
                Order.customer_id == customer_id,
                Order.ordered_at > changed,
                Order.ordered_at <= run.at,
            )
        )
        if not ordered:
            return True
    return False


_RULES = {
    "birthday": _birthday,
    "abandoned_cart": _abandoned_cart,
    "tier_change": _tier_change,
    "win_back": _win_back,
}
