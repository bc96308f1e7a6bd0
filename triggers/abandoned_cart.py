"""abandoned_cart: a cart left with items for `idle_hours`, and no order since.

Rule, for the run instant T and idle time I:
- the cart's last change at or before T lies in (T - I - 24 h, T - I];
- at T the cart holds at least one item (each line's latest quantity, 0 removes it);
- the customer placed no order after that last change, up to T.
Once per (cart, last change): `cart:<cart id>:<last change, UTC ISO>`; a cart changed
again and abandoned again is a new moment.

Cost: the indexed `at` range finds the few carts touched in that 24 h slice; each is
checked with the (cart_id, sku, at) and (customer_id, ordered_at) indexes.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from shop.models import CartEvent, Order
from triggers.base import CandidateQuery, Params, RunContext, Trigger, iso_text


class AbandonedCartParams(Params):
    idle_hours: float = Field(4, gt=0, le=24 * 14)


def candidates(params: AbandonedCartParams, run: RunContext) -> CandidateQuery:
    idle_until = run.at - timedelta(hours=params.idle_hours)
    idle_since = idle_until - timedelta(hours=24)
    touched = select(CartEvent.cart_id).where(CartEvent.at > idle_since, CartEvent.at <= idle_until)
    last_change = func.max(CartEvent.at)
    carts = (
        select(
            CartEvent.cart_id.label("cart_id"),
            CartEvent.customer_id.label("customer_id"),
            last_change.label("last_change_at"),
        )
        .where(CartEvent.cart_id.in_(touched), CartEvent.at <= run.at)
        .group_by(CartEvent.cart_id, CartEvent.customer_id)
        .having(last_change <= idle_until)
        .subquery()
    )
    line, later = aliased(CartEvent), aliased(CartEvent)
    live_lines = and_(
        line.cart_id == carts.c.cart_id,
        line.at <= run.at,
        line.quantity > 0,
        ~exists().where(
            later.cart_id == line.cart_id,
            later.sku == line.sku,
            later.at > line.at,
            later.at <= run.at,
        ),
    )
    items = select(func.sum(line.quantity)).where(live_lines).scalar_subquery()
    ordered_since = exists().where(
        Order.customer_id == carts.c.customer_id,
        Order.ordered_at > carts.c.last_change_at,
        Order.ordered_at <= run.at,
    )
    return select(
        carts.c.customer_id,
        ("cart:" + carts.c.cart_id + ":" + iso_text(carts.c.last_change_at)).label("occasion"),
        carts.c.cart_id,
        iso_text(carts.c.last_change_at).label("last_change_at"),
        items.label("item_count"),
    ).where(items > 0, ~ordered_since)


TRIGGER = Trigger(
    name="abandoned_cart",
    params=AbandonedCartParams,
    candidates=candidates,
    summary="a cart left with items for idle_hours and no order since",
)
