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
- A reward coupon (`points_cost`) costs points when it is marked: a `reward` ledger entry,
  once (source `reward:<order>`), capped at what the customer had at the order's instant.
  When the order is cancelled or refunded later, the points come back (a `refund` lot,
  shop.import_loyalty.book_refunds): the order did not happen. An order already cancelled
  or refunded when its coupon is marked (one that arrives so) books none: the coupon is
  marked used, as the shop's checkout did use it, but it costs nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, literal, select, update

from shop.id_lists import ids_in, ids_param
from shop.models import PLACED, REWARD, Coupon, LedgerEntry, Order
from shop.points_at import Ledgers, batches
from shop.sql import upsert_insert


def mark_redemptions(
    connection: Connection, orders: Select[Any] | None, tz: ZoneInfo | None = None
) -> int:
    """Mark redeemed the open coupons that `orders` (a query of order ids; None: every
    order) used, and book the points of the reward coupons among them (`tz`, the shop's
    zone: see shop.points_at.Ledgers); how many were marked."""
    open_coupon = select(literal(1)).where(Coupon.redeemed_at.is_(None)).limit(1)
    if connection.execute(open_coupon).first() is None:
        return 0  # nothing to redeem (a shop's first import): its orders are not read
    marked = connection.execute(_marking(orders).where(Coupon.points_cost.is_(None))).rowcount
    # Reward coupons are few (one per customer and crossing of the reward's points): those
    # just marked come back, to be booked.
    rewards = _marking(orders).where(Coupon.points_cost.is_not(None))
    returned = Coupon.customer_id, Coupon.redeemed_order_id, Coupon.points_cost
    redeemed = connection.execute(rewards.returning(*returned)).all()
    book_rewards(connection, [(customer, order, cost) for customer, order, cost in redeemed], tz)
    return marked + len(redeemed)


def _marking(orders: Select[Any] | None) -> Any:
    """The UPDATE that marks the open coupons `orders` used."""
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
    return (
        update(Coupon)
        .where(Coupon.redeemed_at.is_(None), Coupon.code.in_(codes), used.exists())
        .values(redeemed_order_id=first.scalar_subquery(), redeemed_at=first_at.scalar_subquery())
    )


def book_rewards(
    connection: Connection, redeemed: list[tuple[str, str, int]], tz: ZoneInfo | None = None
) -> None:
    """A `reward` entry (source `reward:<order>`) per reward coupon redeemed, given as
    (customer, order, points cost): −the cost, capped at the customer's balance at the
    order's instant (shop.points_at: the order's own points do not count, what it redeemed
    does), so never a negative balance; nothing when that balance is 0, nor for an order
    already cancelled or refunded (what it booked would come back at once: the coupon costs
    it nothing, and an import that books the reward after the cancellation's refunds would
    never give it back). Each customer's rewards are taken in time order, each seeing the
    ones before."""
    by_customer: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for customer_id, order_id, cost in redeemed:
        by_customer[customer_id].append((order_id, cost))
    for customers in batches(by_customer):
        costs = {order: cost for customer in customers for order, cost in by_customer[customer]}
        orders = connection.execute(
            select(Order.id, Order.customer_id, Order.local_date, Order.ordered_at)
            .where(ids_in(connection, Order.id), Order.status == PLACED)
            .order_by(Order.ordered_at, Order.id),
            {"ids": ids_param(connection, costs)},
        ).all()
        if not orders:
            continue
        ledgers = Ledgers(connection, customers, max(order.local_date for order in orders), tz)
        entries = []
        for order_id, customer_id, on, at in orders:
            have = ledgers.available(customer_id, on, at, without_order=order_id)
            points = min(costs[order_id], have)
            if points > 0:
                ledgers.add(customer_id, REWARD, -points, on, at)
                entries.append(_entry(customer_id, order_id, points, on, at))
        if entries:
            insert = upsert_insert(connection, LedgerEntry).on_conflict_do_nothing(
                index_elements=["source"]
            )
            connection.execute(insert, entries)


def _entry(customer_id: str, order_id: str, points: int, on: Any, at: datetime) -> dict[str, Any]:
    return {"customer_id": customer_id, "kind": REWARD, "points": -points, "on_date": on,
            "at": at, "source": f"{REWARD}:{order_id}"}  # fmt: skip
