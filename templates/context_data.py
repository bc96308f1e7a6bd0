"""The data a batch of messages needs, read in a few set-based queries.

Each loader takes the ids of a whole batch and returns dictionaries keyed by id, so
building 10,000 contexts costs a handful of queries, never one per message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from campaigns.config import LoyaltySettings
from shop.loyalty import balance_on, earned_in_window, entries_of
from shop.models import CartEvent, Customer, Order, OrderItem, Product

_CHUNK = 500  # ids per IN list: far below every driver's parameter limit


@dataclass(frozen=True)
class Loyalty:
    balance: int
    tier: str
    next_tier: str | None
    points_to_next_tier: int
    expiring_points: int

    def as_context(self) -> dict[str, Any]:
        """What templates see as `loyalty` (`dataclasses.asdict` costs ~8 µs a message)."""
        return {
            "balance": self.balance,
            "tier": self.tier,
            "next_tier": self.next_tier,
            "points_to_next_tier": self.points_to_next_tier,
            "expiring_points": self.expiring_points,
        }


def chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def customers(connection: Connection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    columns = (
        Customer.first_name, Customer.last_name, Customer.email, Customer.phone, Customer.locale,
    )  # fmt: skip
    return _rows_by_key(connection, Customer.id, columns, ids)


def _rows_by_key(
    connection: Connection, key: Any, columns: Sequence[Any], values: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Rows whose `key` is in `values`, as dicts (the key included), keyed by it."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunks(values):
        rows = connection.execute(select(key, *columns).where(key.in_(chunk))).mappings()
        found.update((row[key.name], dict(row)) for row in rows)
    return found


def loyalty(
    connection: Connection,
    ids: Iterable[str],
    on: date,
    settings: LoyaltySettings,
    tz: ZoneInfo,
) -> dict[str, Loyalty]:
    """Balance, tier and points expiring within 30 days, as of the end of `on`. With the
    shop's zone `tz`, a reversal learned after its order's day is spent the day it was
    booked (shop.loyalty.entries_of), as the card and the expiry run count it."""
    found: dict[str, Loyalty] = {}
    for chunk in chunks(ids):
        for customer_id, entries in entries_of(connection, chunk, tz).items():
            balance = balance_on(entries, on, horizon_days=30)
            earned = earned_in_window(entries, on, settings)
            found[customer_id] = _loyalty(balance.points, balance.expiring, earned, settings)
    return found


def _loyalty(balance: int, expiring: int, earned: int, settings: LoyaltySettings) -> Loyalty:
    tier = settings.tier_for(earned)
    next_points, next_tier = settings.next_tier(earned) or (earned, None)
    return Loyalty(max(balance, 0), tier, next_tier, next_points - earned, expiring)


def products(connection: Connection, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
    columns = (Product.name, Product.price_cents, Product.image_url, Product.url, Product.in_stock)
    return _rows_by_key(connection, Product.sku, columns, skus)


def cart_lines(
    connection: Connection, carts: Sequence[tuple[str, datetime]]
) -> dict[str, list[tuple[str, int]]]:
    """(sku, quantity) of each cart's lines as they stood at its given instant."""
    until = dict(carts)
    latest: dict[tuple[str, str], tuple[datetime, int]] = {}
    for chunk in chunks(until):
        query = select(CartEvent.cart_id, CartEvent.sku, CartEvent.quantity, CartEvent.at).where(
            CartEvent.cart_id.in_(chunk)
        )
        for cart_id, sku, quantity, at in connection.execute(query):
            seen = latest.get((cart_id, sku))
            if at <= until[cart_id] and (seen is None or at > seen[0]):
                latest[cart_id, sku] = (at, quantity)
    lines: dict[str, list[tuple[str, int]]] = {cart_id: [] for cart_id in until}
    for (cart_id, sku), (_, quantity) in sorted(latest.items()):
        if quantity > 0:
            lines[cart_id].append((sku, quantity))
    return lines


@dataclass(frozen=True)
class OrderSummary:
    """What a message about an order shows of it: its total and lines."""

    customer_id: str
    total_cents: int
    lines: list[tuple[str, int, int]]  # (sku, quantity, unit price in cents), by sku


def orders(connection: Connection, order_ids: Iterable[str]) -> dict[str, OrderSummary]:
    """The orders named, with their lines (two queries per 500 orders)."""
    found: dict[str, OrderSummary] = {}
    for chunk in chunks(order_ids):
        query = select(Order.id, Order.customer_id, Order.total_cents).where(Order.id.in_(chunk))
        for order_id, customer_id, total in connection.execute(query):
            found[order_id] = OrderSummary(customer_id, total, [])
        items = select(
            OrderItem.order_id, OrderItem.sku, OrderItem.quantity, OrderItem.unit_price_cents
        ).where(OrderItem.order_id.in_(chunk))
        for order_id, sku, quantity, price in connection.execute(items.order_by(OrderItem.sku)):
            if order_id in found:
                found[order_id].lines.append((sku, quantity, price))
    return found
