"""The loyalty program's moments in the demo's order histories: points redeemed on orders,
cancelled and refunded orders, deliveries, and interactions (reviews, referrals).

Every figure stays valid for the import: an order redeems points only when the points
its customer earned in the 363 days before it, less what they redeemed since, cover them
(a lower bound of the FIFO balance at that instant: those lots are live and no earlier
spend can have used them); only customers who never redeem have orders cancelled, recent
ones, so taking back their points never needs more than their balance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shop.demo_clock import DAY, HOUR, Clock
from shop.demo_history import LOYALTY, Order
from shop.loyalty import points_for

REDEEM_SHARE = 0.15  # of the orders placed while the customer could pay for a reward
DOUBLE_SHARE = 0.25  # ... of those, two rewards at once
CANCEL_SHARE = 0.03  # of the recent orders of customers who never redeem
CANCEL_DAYS = 60  # cancellations and refunds come soon after the order
DELIVERED_SHARE = 0.6  # orders shipped (beans, gear); the others were bought in the café
REVIEW_SHARE, REFERRAL_SHARE = 0.12, 0.04  # of the customers with an order
LIVE = (LOYALTY.points_expire_days - 2) * DAY  # lots this young have not expired
CANCELLED, REFUNDED = "cancelled", "refunded"

Interaction = tuple[str, str, int]  # (id, action, instant)


@dataclass
class OrderMoments:
    """Per order, in the orders' order: points redeemed, status ('' = placed) and the
    delivery instant (None: not shipped, or not delivered yet)."""

    redeemed: list[int]
    status: list[str]
    delivered: list[int | None]


class _Points(dict[int, int]):
    """Points an order of so many cents earns, computed once per total."""

    def __missing__(self, cents: int) -> int:
        self[cents] = points = points_for(cents, LOYALTY)
        return points


class LoyaltyMoments:
    def __init__(self, rng: random.Random, clock: Clock, actions: tuple[str, ...]) -> None:
        self.rng, self.clock = rng, clock
        self.actions = actions  # the interactions the shop's program gives points for
        self.next_id = 0
        self.points = _Points()

    def for_orders(self, orders: list[Order], loyal: bool) -> OrderMoments:
        """`loyal`: an ordinary customer, who may redeem and cancel; a customer placed on a
        campaign's moment keeps the points the moment is built on."""
        redeemed = self._redemptions(orders) if loyal else [0] * len(orders)
        status = [""] * len(orders)
        if loyal and not any(redeemed):
            self._cancel(orders, status)
        delivered: list[int | None] = [None] * len(orders)
        if loyal:  # a moment's customer bought in the café: the order is the reference
            delivered = self._deliveries(orders, status)
        return OrderMoments(redeemed, status, delivered)

    def _redemptions(self, orders: list[Order]) -> list[int]:
        random, reward = self.rng.random, LOYALTY.reward_points
        redeemed = [0] * len(orders)
        points = self.points
        earned = [points[basket.total_cents] for _, basket in orders]
        oldest = live = 0  # the window's first order, and its points earned less redeemed
        for index, (instant, _) in enumerate(orders):
            while oldest < index and orders[oldest][0] <= instant - LIVE:
                live -= earned[oldest] - redeemed[oldest]
                oldest += 1
            tied = index > 0 and orders[index - 1][0] == instant  # which came first?
            if live >= reward and not tied and random() < REDEEM_SHARE:
                rewards = 2 if live >= 2 * reward and random() < DOUBLE_SHARE else 1
                redeemed[index] = rewards * reward
            live += earned[index] - redeemed[index]
        return redeemed

    def _cancel(self, orders: list[Order], status: list[str]) -> None:
        recent = self.clock.at - CANCEL_DAYS * DAY
        random = self.rng.random
        for index, (instant, _) in enumerate(orders):
            if instant >= recent and random() < CANCEL_SHARE:
                status[index] = REFUNDED if random() < 0.3 else CANCELLED

    def _deliveries(self, orders: list[Order], status: list[str]) -> list[int | None]:
        random, now = self.rng.random, self.clock.at
        delivered: list[int | None] = []
        for (instant, _), state in zip(orders, status, strict=True):
            if state == CANCELLED or random() >= DELIVERED_SHARE:
                delivered.append(None)
                continue
            arrives = instant + DAY + int(random() * 3 * DAY)  # 1 to 4 days later
            delivered.append(arrives if arrives <= now - 60 else None)
        return delivered

    def interactions(self, orders: list[Order], moments: OrderMoments) -> list[Interaction]:
        """A review some days after an order arrived, a referral some time after the first
        order; only of the actions the program gives points for."""
        if not orders:
            return []
        random, now = self.rng.random, self.clock.at
        found: list[Interaction] = []
        if "review" in self.actions and random() < REVIEW_SHARE:
            index = int(random() * len(orders))
            since = moments.delivered[index] or orders[index][0]
            at = since + DAY + int(random() * 4 * DAY) + int(random() * 12 * HOUR)
            if at <= now - 60:
                found.append(self._interaction("review", at))
        if "referral" in self.actions and random() < REFERRAL_SHARE:
            first = orders[0][0]
            found.append(self._interaction("referral", first + int(random() * (now - first))))
        return found

    def _interaction(self, action: str, at: int) -> Interaction:
        self.next_id += 1
        return (f"I{self.next_id:08d}", action, at)
