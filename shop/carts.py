"""Cart summaries (`carts`): each cart's last change and what it holds, set-based.

A cart's state is its lines' latest events: a line's latest quantity counts, 0 removed it.
Whoever writes cart events refreshes the carts they touched, as import does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    func,
    select,
    true,
)
from sqlalchemy.orm import aliased

from shop.models import Cart, CartEvent
from shop.sql import upsert_insert


def cart_states(
    carts: ColumnElement[bool], until: datetime | None = None
) -> Select[str, str, datetime, Any]:
    """(cart_id, customer_id, last_change_at, item_count) of the carts whose events match
    `carts`, as of the instant `until` (None: everything written)."""
    bound = [CartEvent.at <= until] if until is not None else []
    latest = (  # each line's latest change, found on the (cart_id, sku, at) unique index
        select(
            CartEvent.cart_id.label("cart_id"),
            CartEvent.sku.label("sku"),
            func.max(CartEvent.at).label("at"),
        )
        .where(carts, *bound)
        .group_by(CartEvent.cart_id, CartEvent.sku)
        .subquery()
    )
    line = aliased(CartEvent)
    is_latest = and_(
        line.cart_id == latest.c.cart_id, line.sku == latest.c.sku, line.at == latest.c.at
    )
    return (
        select(
            line.cart_id.label("cart_id"),
            line.customer_id.label("customer_id"),
            func.max(line.at).label("last_change_at"),
            func.sum(case((line.quantity > 0, line.quantity), else_=0)).label("item_count"),
        )
        .join(latest, is_latest)
        .group_by(line.cart_id, line.customer_id)
    )


def refresh_carts(connection: Connection, cart_ids: Select[str] | None = None) -> None:
    """Recompute the summaries of `cart_ids` (all carts when None)."""
    which = CartEvent.cart_id.in_(cart_ids) if cart_ids is not None else true()
    source = cart_states(which).where(true())  # SQLite: a WHERE before ON CONFLICT
    columns = ["cart_id", "customer_id", "last_change_at", "item_count"]
    insert = upsert_insert(connection, Cart).from_select(columns, source)
    insert = insert.on_conflict_do_update(
        index_elements=["cart_id"],
        set_={name: getattr(insert.excluded, name) for name in columns[1:]},
    )
    connection.execute(insert)
