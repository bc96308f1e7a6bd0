"""Demo cart events: lines added, quantities changed, lines removed, over the last 30 days.

A cart ends one of three ways: converted (an order of its lines follows minutes after
its last change), emptied (every line removed) or left with items (abandoned, or still
being filled when its last change is recent). Events of one cart lie at strictly
increasing seconds, so (cart_id, sku, at) is unique.
"""

from __future__ import annotations

import random

from shop.demo_catalog import (
    Basket,
    Picker,
    Product,
    expected_lines,
    line_count,
    make_basket,
    share_of_baskets,
)
from shop.demo_clock import DAY, HOUR, Clock
from shop.demo_history import CART_SHARE, OPEN, OPEN_FOR, Order

CART_DAYS = 30
CONVERTED, EMPTIED, LEFT = "converted", "emptied", "left"
KINDS = ((CONVERTED, 0.40), (EMPTIED, 0.18), (LEFT, 0.42))
P_CHANGE, P_REMOVE = 0.30, 0.25  # a quantity change; a line removed (from carts of 2+ lines)
ABANDONED_WINDOW = (5 * HOUR, 27 * HOUR)  # last change this long before `at`: inside the
# example campaign's (at - 28 h, at - 4 h], clear of its edges

Event = tuple[str, str, int, int]  # (cart id, sku, new quantity, instant)
Step = tuple[int, Product, int]  # (seconds after the cart's first event, product, quantity)


def _share(kind: str) -> float:
    return dict(KINDS)[kind]


def events_per_cart() -> float:
    """The expected number of events of one cart, from the shares above."""
    lines = expected_lines()
    removal = (1 - _share(EMPTIED)) * P_REMOVE * share_of_baskets(2)
    return lines * (1 + _share(EMPTIED)) + P_CHANGE + removal


def _kind(pick: float) -> str:
    for kind, share in KINDS:
        pick -= share
        if pick < 0:
            return kind
    return KINDS[-1][0]


class Carts:
    def __init__(
        self, rng: random.Random, clock: Clock, products: list[Product], per_customer: float
    ) -> None:
        """`per_customer`: cart EVENTS per customer, on average over the whole shop."""
        self.rng, self.clock = rng, clock
        self.picker = Picker([p for p in products if p.in_stock])
        self.carts_per_customer = per_customer / events_per_cart()
        # Only customers in segments that browse get carts; they make up for the others.
        self.mean = self.carts_per_customer / CART_SHARE
        self.next_id = 0

    @property
    def orders_per_customer(self) -> float:
        """Orders that converted carts add, per customer on average."""
        return self.carts_per_customer * _share(CONVERTED)

    def for_customer(self, browses: bool, abandoned: bool) -> tuple[list[Event], list[Order]]:
        """A customer's cart events and the orders their converted carts became."""
        events: list[Event] = []
        orders: list[Order] = []
        if abandoned:
            low, high = ABANDONED_WINDOW
            last = self.clock.at - low - int(self.rng.random() * (high - low))
            events += self._events(self._steps(LEFT), last)
        if browses:
            for _ in range(int(self.mean + self.rng.random())):
                self._cart(events, orders)
        return events, orders

    def _cart(self, events: list[Event], orders: list[Order]) -> None:
        random = self.rng.random
        kind = _kind(random())
        steps = self._steps(kind)
        delay = 120 + int(random() * 1800) if kind == CONVERTED else 0  # checkout
        day = self.clock.midnights[int(random() * CART_DAYS)]
        last = day + OPEN + int(random() * OPEN_FOR)
        if last + delay > self.clock.at - 60:
            last -= DAY
        events += self._events(steps, last)
        if kind == CONVERTED:
            orders.append((last + delay, _basket(steps)))

    def _steps(self, kind: str) -> list[Step]:
        random = self.rng.random
        products = self.picker.distinct(self.rng, line_count(self.rng))
        steps, offset = [], 0
        for product in products:
            steps.append((offset, product, 1 if random() < 0.8 else 2))
            offset += 20 + int(random() * 600)
        if random() < P_CHANGE:
            _, product, quantity = steps[int(random() * len(steps))]
            steps.append((offset, product, quantity + 1))
            offset += 20 + int(random() * 600)
        live = {product.sku: product for _, product, _ in steps}
        if kind == EMPTIED:
            gone = list(live.values())
        elif len(live) > 1 and random() < P_REMOVE:
            gone = [products[int(random() * len(products))]]
        else:
            gone = []
        for product in gone:
            steps.append((offset, product, 0))
            offset += 20 + int(random() * 600)
        return steps

    def _events(self, steps: list[Step], last: int) -> list[Event]:
        """The steps as events, shifted so that the last one happens at `last`."""
        self.next_id += 1
        cart_id = f"cart-{self.next_id:07d}"
        start = last - steps[-1][0]
        return [
            (cart_id, product.sku, quantity, start + offset) for offset, product, quantity in steps
        ]


def _basket(steps: list[Step]) -> Basket:
    """What the cart held at its last change: each line's latest quantity, if not 0."""
    final: dict[str, tuple[Product, int]] = {}
    for _, product, quantity in steps:
        final[product.sku] = (product, quantity)
    return make_basket([(p, q) for p, q in final.values() if q > 0])
