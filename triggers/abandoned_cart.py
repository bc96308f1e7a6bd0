"""abandoned_cart: a cart left with items for `idle_hours`, and no order since.

Rule, for the run instant T and idle time I:
- the cart's last change at or before T lies in (T - I - 24 h, T - I];
- at T the cart holds at least one item (each line's latest quantity, 0 removes it);
- the customer placed no order after that last change, up to T.
Once per (cart, last change): `cart:<cart id>:<last change, UTC ISO>`; a cart changed
again and abandoned again is a new moment.

Cost: a range of the `carts` summaries (kept current by import and events) on a covering
index, then one (customer_id, ordered_at) index probe per cart. Carts changed after T
(replays only) are rebuilt from their events.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from sqlalchemy import exists, select, union_all

from shop.carts import cart_states
from shop.models import Cart, CartEvent, Order
from triggers.base import CandidateQuery, Params, RunContext, Trigger, iso_text


class AbandonedCartParams(Params):
    idle_hours: float = Field(4, gt=0, le=24 * 14)


def candidates(params: AbandonedCartParams, run: RunContext) -> CandidateQuery:
    idle_until = run.at - timedelta(hours=params.idle_hours)
    idle_since = idle_until - timedelta(hours=24)
    summarised = select(Cart.cart_id, Cart.customer_id, Cart.last_change_at, Cart.item_count).where(
        Cart.last_change_at > idle_since, Cart.last_change_at <= idle_until
    )
    # Only when the run instant lies in the past (a replay, a late re-run): carts changed
    # after T are rebuilt from their events as they stood at T.
    changed_since = select(Cart.cart_id).where(Cart.last_change_at > run.at)
    as_of_run = cart_states(CartEvent.cart_id.in_(changed_since), until=run.at).subquery()
    replayed = select(as_of_run).where(
        as_of_run.c.last_change_at > idle_since, as_of_run.c.last_change_at <= idle_until
    )
    carts = union_all(summarised, replayed).subquery()
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
        carts.c.item_count,
    ).where(carts.c.item_count > 0, ~ordered_since)


TRIGGER = Trigger(
    name="abandoned_cart",
    params=AbandonedCartParams,
    candidates=candidates,
    summary="a cart left with items for idle_hours and no order since",
)
