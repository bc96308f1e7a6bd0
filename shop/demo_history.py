"""Demo order histories: purchase segments, and the customers placed on campaign moments.

Segments give customers different frequencies (frequent, regular, occasional, lapsed,
never ordered). A small share of customers, proportional to the shop's size, gets a
role that guarantees a moment every example campaign acts on at the run instant: a
birthday, an abandoned cart, a lapse of 90-120 days (win_back), an order since the last
run that lifts them into a tier, past 1,000 lifetime points (milestone) or to a reward's
points (reward_available), a silence just past twice their rhythm (at_risk), new
members who joined 0 to 6 days before the run (a welcome series), points expiring in 30
and in 7 days (points_expiring), and orders 3 and 4 days old to ask about
(post_purchase_survey: today's run, and yesterday's, whose survey can be answered by now).
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
MILESTONE, REWARD, AT_RISK, WELCOME = "milestone", "reward", "at_risk", "welcome:"
EXPIRING, SURVEY = "expiring", "survey:"
WIN_BACK_DAYS = (92, 118)  # inside the example campaign's 90-120, clear of its edges
LOYALTY = LoyaltySettings()  # the rules the demo is built for: silver 500, gold 1500,
# 100 points a reward, points kept 365 days
MILESTONE_POINTS = 1000  # the milestone trigger's default threshold
WELCOME_DAYS = 7  # new members joined 0..6 days before the run: any step of a series
AT_RISK_GAPS = (8, 15)  # their rhythm, in days: the lapse (2 x gap) lies past at_risk's
# 14-day floor and far from win_back's 90
EXPIRING_DAYS = (30, 7)  # the example's "warning" and "last chance" campaigns
SURVEY_DAYS = 3  # post_purchase_survey's default days_after: asked by today's run, and
# one day older, by yesterday's

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
    shares |= {MILESTONE: 0.001, REWARD: 0.001, AT_RISK: 0.002, EXPIRING: 0.001}
    shares |= {f"{SURVEY}{days}": 0.001 for days in (SURVEY_DAYS, SURVEY_DAYS + 1)}
    shares |= {f"{WELCOME}{back}": 0.0004 for back in range(WELCOME_DAYS)}
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
    joined: int | None = None  # the instant they joined, when their role sets it


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
        if role == MILESTONE:  # lifetime points, over the whole history
            return self._crossing(MILESTONE_POINTS, math.inf, HISTORY_DAYS - 30)
        if role == REWARD:  # a balance: no lot old enough to have expired
            return self._crossing(LOYALTY.reward_points, math.inf, 300)
        if role == AT_RISK:
            return self._at_risk()
        if role is not None and role.startswith(WELCOME):
            return self._joined(int(role.removeprefix(WELCOME)))
        if role == EXPIRING:
            return self._expiring()
        if role is not None and role.startswith(SURVEY):
            return self._surveyed(int(role.removeprefix(SURVEY)))
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
        return self._crossing(floor, ceiling, 340)

    def _crossing(self, floor: int, ceiling: float, days: int) -> History:
        """Points earned on the `days` days before the previous run just under `floor`;
        an order since the last run (in the 22 hours before `at`) reaches it, not
        `ceiling`. No lot is older than `days` + 2 days, so within a year none expired."""
        random, baskets, clock = self.rng.random, self.baskets, self.clock
        points, placed = 0, []
        while True:
            basket = baskets[int(random() * len(baskets))]
            earned = points_for(basket.total_cents, LOYALTY)
            if points + earned < floor:  # before the previous run
                placed.append((2 + int(random() * days), basket))
                points += earned
            elif points + earned < ceiling:
                lift = (clock.at - 600 - int(random() * 21 * HOUR), basket)
                break
        midnights = clock.midnights
        orders = [(midnights[back] + OPEN + int(random() * OPEN_FOR), b) for back, b in placed]
        return History(sorted([*orders, lift], key=_instant), days + 2, False)

    def _at_risk(self) -> History:
        """Orders every `gap` days, at one time of day, the last 2 x gap days before the run
        date: their silence reaches twice their mean gap on the run date itself."""
        gap = self.rng.randint(*AT_RISK_GAPS)
        count = self.rng.randint(3, 7)
        last = 2 * gap
        hour = OPEN + int(self.rng.random() * OPEN_FOR)
        baskets = self.baskets
        orders = [
            (
                self.clock.midnights[last + k * gap] + hour,
                baskets[int(self.rng.random() * len(baskets))],
            )
            for k in range(count)
        ]
        return History(sorted(orders, key=_instant), last + (count - 1) * gap, False)

    def _expiring(self) -> History:
        """Orders on the days whose points expire in 30 and in 7 days, and nothing since
        that could have spent them."""
        expire = LOYALTY.points_expire_days
        orders = [order for days in EXPIRING_DAYS for order in self._place(1, expire - days, 1)]
        return History(sorted(orders, key=_instant), expire - min(EXPIRING_DAYS), False)

    def _surveyed(self, days: int) -> History:
        """One order, bought in the café (no delivery: the order is the reference), `days`
        days before the run less 1 to 20 hours: inside that day's window."""
        random, baskets = self.rng.random, self.baskets
        at = self.clock.at - days * DAY - HOUR - int(random() * 19 * HOUR)
        return History([(at, baskets[int(random() * len(baskets))])], days + 1, False)

    def _joined(self, back: int) -> History:
        """A member who joined `back` days before the run, 1 to 20 hours before that day's
        run time (inside that day's window even across a DST change), no order yet."""
        joined = self.clock.at - back * DAY - HOUR - int(self.rng.random() * 19 * HOUR)
        return History([], back, False, joined)


def _instant(order: Order) -> int:
    return order[0]


def _mean_span(lapsed: tuple[int, int]) -> float:
    """The mean of `first - last + 1` as `_segment` draws them (for the order rate)."""
    mean_last = sum(lapsed) / 2
    return (30 + HISTORY_DAYS - mean_last) / 2 + 1


def _taste(basket: Basket) -> str:
    """A basket's category: its first line's SKU prefix (BEA, TEA, …)."""
    return basket.lines[0][0].split("-", 1)[0]
