"""Demo order histories: purchase segments, and the customers placed on campaign moments.

Segments give customers different frequencies (frequent, regular, occasional, lapsed,
never ordered). A small share of customers, proportional to the shop's size, gets a
role that guarantees a moment every example campaign acts on at the run instant.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import NamedTuple

from campaigns.config import LoyaltySettings
from shop.demo_catalog import Basket
from shop.demo_clock import DAY, HOUR, Clock
from shop.loyalty import points_for

HISTORY_DAYS = 730
OPEN, OPEN_FOR = 7 * HOUR, 16 * HOUR  # orders are placed 07:00-23:00 shop time
BIRTHDAY, ABANDONED, WIN_BACK, TIER_UP = "birthday", "abandoned", "win_back", "tier_up:"
WIN_BACK_DAYS = (92, 118)  # inside the example campaign's 90-120, clear of its edges
LOYALTY = LoyaltySettings()  # the tiers the demo is built for: silver 500, gold 1500

Order = tuple[int, Basket]  # (instant, basket)
TASTE_SHARE = 0.75  # orders whose basket starts in the customer's favourite category


class Segment(NamedTuple):
    name: str
    share: float
    weight: float  # expected orders relative to the shop's mean; share-weighted sum is 1
    lapsed: tuple[int, int]  # the last order is this many days old (0, 0: still buying)
    carts: bool


SEGMENTS = (
    Segment("frequent", 0.08, 5.0, (0, 0), True),
    Segment("regular", 0.30, 1.4, (0, 0), True),
    Segment("occasional", 0.42, 0.3, (0, 0), True),
    Segment("lapsed", 0.15, 0.36, (30, 600), False),
    Segment("never ordered", 0.05, 0.0, (0, 0), True),
)
CART_SHARE = sum(s.share for s in SEGMENTS if s.carts)


def role_counts(customers: int) -> dict[str, int]:
    """Guaranteed moments per role, proportional to the shop (5,000 customers: 5 to 10)."""
    shares = {BIRTHDAY: 0.001, ABANDONED: 0.002, WIN_BACK: 0.002}
    shares |= {TIER_UP + tier: 0.001 for tier, points in LOYALTY.tiers.items() if points > 0}
    return {role: math.ceil(customers * share) for role, share in shares.items()}


def assign_roles(rng: random.Random, customers: int) -> dict[int, str]:
    """Customer index -> role, for distinct customers drawn at random."""
    wanted = [role for role, count in role_counts(customers).items() for _ in range(count)]
    chosen = rng.sample(range(customers), min(len(wanted), customers))
    return dict(zip(chosen, wanted, strict=False))


@dataclass
class History:
    """A customer's orders (sorted by instant) and whether they browse with carts."""

    orders: list[Order]
    since: int  # days before the run date they became a customer
    carts: bool


class Histories:
    def __init__(
        self, rng: random.Random, clock: Clock, baskets: list[Basket], mean: float
    ) -> None:
        self.rng, self.clock, self.baskets = rng, clock, baskets
        # Customers have a taste: most of their baskets start in one category.
        self.by_taste: dict[str, list[Basket]] = {}
        for basket in baskets:
            self.by_taste.setdefault(_taste(basket), []).append(basket)
        self.mean = max(mean, 0.0)  # orders per customer from history (carts add the rest)
        self.spans = {s.name: _mean_span(s.lapsed) for s in SEGMENTS}

    def for_role(self, role: str | None) -> History:
        if role == WIN_BACK:
            return self._lapsed_at(self.rng.randint(*WIN_BACK_DAYS))
        if role is not None and role.startswith(TIER_UP):
            return self._tier_up(role.removeprefix(TIER_UP))
        # An abandoned cart's customer has ordered nothing in the last 3 days, so the cart
        # stays abandoned; they get that one cart only.
        history = self._segment(self._draw_segment(), 3 if role == ABANDONED else 0)
        history.carts = history.carts and role is None
        return history

    def _draw_segment(self) -> Segment:
        pick = self.rng.random()
        for segment in SEGMENTS:
            pick -= segment.share
            if pick < 0:
                return segment
        return SEGMENTS[-1]

    def _segment(self, segment: Segment, min_back: int) -> History:
        random = self.rng.random
        low, high = segment.lapsed
        last = max(min_back, low + int(random() * (high - low + 1)))
        first = min(last + 30 + int(random() * (HISTORY_DAYS - 29 - last)), HISTORY_DAYS)
        span = first - last + 1
        expected = self.mean * segment.weight * span / self.spans[segment.name]
        count = int(expected * (0.5 + random()) + random())  # mean `expected`, integer
        return History(self._place(count, last, span), first, segment.carts)

    def _place(self, count: int, last: int, span: int) -> list[Order]:
        """`count` orders on days last..last+span-1 before the run date, none after `at`."""
        random, midnights, at = self.rng.random, self.clock.midnights, self.clock.at
        instants = [
            midnights[last + int(random() * span)] + OPEN + int(random() * OPEN_FOR)
            for _ in range(count)
        ]
        if last == 0:  # today's orders can only be placed before the run
            instants = [instant - DAY if instant > at else instant for instant in instants]
        instants.sort()
        baskets = self.baskets
        taste = self.by_taste[_taste(baskets[int(random() * len(baskets))])]
        picked = []
        for _ in range(count):
            source = taste if random() < TASTE_SHARE else baskets
            picked.append(source[int(random() * len(source))])
        return list(zip(instants, picked, strict=True))

    def _lapsed_at(self, days: int) -> History:
        """A regular customer whose last order was `days` days before the run date."""
        first = min(days + 60 + int(self.rng.random() * 400), HISTORY_DAYS)
        earlier = self._place(self.rng.randint(1, 12), days + 1, first - days)
        return History([*earlier, *self._place(1, days, 1)], first, False)

    def _tier_up(self, tier: str) -> History:
        """Points earned in the window just under `tier`; an order since the last run
        (in the 22 hours before `at`) lifts the customer into it, not beyond."""
        thresholds = sorted(LOYALTY.tiers.values())
        floor = LOYALTY.tiers[tier]
        ceiling = next((t for t in thresholds if t > floor), math.inf)
        random, baskets, clock = self.rng.random, self.baskets, self.clock
        points, days = 0, []
        while True:
            basket = baskets[int(random() * len(baskets))]
            earned = points_for(basket.total_cents, LOYALTY)
            if points + earned < floor:  # in the window, before the previous run
                days.append((2 + int(random() * 340), basket))
                points += earned
            elif points + earned < ceiling:
                lift = (clock.at - 600 - int(random() * 21 * HOUR), basket)
                break
        orders = [(clock.midnights[back] + OPEN + int(random() * OPEN_FOR), b) for back, b in days]
        return History(sorted([*orders, lift], key=_instant), 342, False)


def _instant(order: Order) -> int:
    return order[0]


def _mean_span(lapsed: tuple[int, int]) -> float:
    """The mean of `first - last + 1` as `_segment` draws them (for the order rate)."""
    mean_last = sum(lapsed) / 2
    return (30 + HISTORY_DAYS - mean_last) / 2 + 1


def _taste(basket: Basket) -> str:
    """A basket's category: its first line's SKU prefix (BEA, TEA, …)."""
    return basket.lines[0][0].split("-", 1)[0]
