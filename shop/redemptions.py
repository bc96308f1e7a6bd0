"""Coupons redeemed by orders: an order carrying the code of a coupon Leal issued to the same
customer marks it redeemed, set-based, in the transaction that wrote the order (an import, or
a shop event, which is applied as one).

- Same customer only. Codes get shared (forwarded, posted on coupon sites); a code used by
  someone else stays on their order but redeems nothing, so a campaign is never credited
  with a purchase by a customer it did not reach.
- Validity is recorded, not enforced. The shop's checkout decided to honour the code, so
  the order did use it: `redeemed_at` is the order's instant, and comparing it with
  `expires_on` (the last valid shop-local day) tells a late redemption apart.
- The first order keeps it. A redeemed coupon is never moved to another order (a re-import,
  or an earlier order arriving later, changes nothing); among the orders of one write the
  earliest (`ordered_at`, then id) wins.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, literal, select, update

from shop.models import Coupon, Order


def mark_redemptions(connection: Connection, orders: Select[Any] | None) -> int:
    """Mark redeemed the open coupons that `orders` (a query of order ids; None: every
    order) used; how many were marked."""
    open_coupon = select(literal(1)).where(Coupon.redeemed_at.is_(None)).limit(1)
    if connection.execute(open_coupon).first() is None:
        return 0  # nothing to redeem (a shop's first import): its orders are not read
    # The codes the orders carried drive the statement (each a coupon by its key), so a day's
    # import costs its own orders, never a scan of every open coupon.
    codes = select(Order.coupon_code).where(Order.coupon_code.is_not(None))
    # Correlated with the coupon: its customer's orders that carried its code.
    used = select(Order.id).where(
        Order.customer_id == Coupon.customer_id, Order.coupon_code == Coupon.code
    )
    if orders is not None:
        codes, used = codes.where(Order.id.in_(orders)), used.where(Order.id.in_(orders))
    first = used.order_by(Order.ordered_at, Order.id).limit(1)  # the earliest wins
    first_at = first.with_only_columns(Order.ordered_at)
    marked = (
        update(Coupon)
        .where(Coupon.redeemed_at.is_(None), Coupon.code.in_(codes), used.exists())
        .values(redeemed_order_id=first.scalar_subquery(), redeemed_at=first_at.scalar_subquery())
    )
    return connection.execute(marked).rowcount
