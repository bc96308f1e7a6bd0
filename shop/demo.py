"""A synthetic shop as CSV files, seeded and fast: `write_demo_shop`.

A café in Barcelona with customers in five languages, two years of orders, a month of
cart events, and at the run instant `at` at least one moment for every example
campaign: birthdays on the run date, carts abandoned 4 to 28 hours ago, customers whose
last order is 90 to 120 days old, orders since the previous daily run that lift
customers into silver or gold, past 1,000 lifetime points or to a reward, silences just
past a customer's rhythm, and members who joined in the last days (shop.demo_history).
The loyalty program lives in the orders too: points redeemed, a few cancelled or
refunded orders, deliveries, and reviews and referrals in interactions.csv
(shop.demo_loyalty). The same seed writes the same bytes (for one Faker version). Rows
stream to the files one customer at a time.

Speed: instants are ints formatted from tables (`demo_clock`), orders draw prebuilt
baskets (`demo_catalog`) and names come from pools (`demo_people`), so 1,000,000
customers with 10,000,000 orders take about a minute.
"""

from __future__ import annotations

import csv
import random
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from shop.csv_rows import COLUMNS
from shop.demo_carts import Carts, Event
from shop.demo_catalog import basket_pool, catalogue
from shop.demo_clock import DAY, HOUR, Clock
from shop.demo_history import ABANDONED, BIRTHDAY, HISTORY_DAYS, Histories, Order, assign_roles
from shop.demo_loyalty import LoyaltyMoments, OrderMoments
from shop.demo_people import People

ORDER_NUMBERS = 100_000_000
LOYALTY_COLUMNS = ("points_redeemed", "status", "delivered_at")  # orders' optional ones
# The demo writes exactly the columns the import reads, and the orders' loyalty ones.
HEADERS = {**COLUMNS, "orders": (*COLUMNS["orders"], *LOYALTY_COLUMNS)}
ACTIONS = ("review", "referral")  # the interactions the demo's customers have


@dataclass(frozen=True)
class DemoCounts:
    """Rows written per file (order_items is 0 when items were not written)."""

    customers: int = 0
    products: int = 0
    orders: int = 0
    order_items: int = 0
    cart_events: int = 0
    interactions: int = 0


def write_demo_shop(
    directory: Path,
    *,
    at: datetime,
    tz: ZoneInfo,
    customers: int,
    seed: int,
    orders_per_customer: float = 8.0,
    carts_per_customer: float = 0.6,
    with_items: bool = True,
    actions: tuple[str, ...] = ACTIONS,
) -> DemoCounts:
    """Write customers, products, orders, order_items (if `with_items`), cart_events and
    interactions CSV files into `directory`, all history at or before `at`.

    `orders_per_customer` and `carts_per_customer` are means over the whole shop; the
    latter counts cart EVENTS (a cart has 2.7 on average; the name is kept for callers).
    `actions`: the interactions to write, of ACTIONS (those the program gives points for:
    an action not in `[loyalty] actions` would be a problem line of the import).
    """
    rng = random.Random(seed)
    clock = Clock.build(at, tz, HISTORY_DAYS)
    products = catalogue(rng)
    carts = Carts(rng, clock, products, carts_per_customer)
    mean_orders = orders_per_customer - carts.orders_per_customer  # converted carts add those
    histories = Histories(rng, clock, basket_pool(rng, products), mean_orders)
    people = People(rng, seed, clock.run_date)
    roles = assign_roles(rng, customers)
    loyalty = LoyaltyMoments(rng, clock, tuple(a for a in actions if a in ACTIONS))
    names = [name for name in HEADERS if with_items or name != "order_items"]
    with ExitStack() as stack:
        files = {name: _open(stack, directory / f"{name}.csv", HEADERS[name]) for name in names}
        _csv(files["products"]).writerows(product.row() for product in products)
        shop = _ShopWriter(rng, clock, files, customers, people, histories, carts, loyalty)
        for index in range(customers):
            shop.customer(index, roles.get(index))
    return DemoCounts(
        customers=customers,
        products=len(products),
        orders=shop.orders,
        order_items=shop.items,
        cart_events=shop.events,
        interactions=shop.interactions,
    )


def _open(stack: ExitStack, path: Path, header: tuple[str, ...]) -> TextIO:
    file = stack.enter_context(path.open("w", encoding="utf-8", newline=""))
    file.write(",".join(header) + "\n")
    return file


def _csv(file: TextIO) -> Any:  # the csv module's writer type is private
    return csv.writer(file, lineterminator="\n")


class _ShopWriter:
    """Writes one customer at a time: their row, orders, order items and cart events."""

    def __init__(
        self,
        rng: random.Random,
        clock: Clock,
        files: dict[str, TextIO],
        customers: int,
        people: People,
        histories: Histories,
        carts: Carts,
        loyalty: LoyaltyMoments,
    ) -> None:
        self.rng, self.clock, self.files = rng, clock, files
        self.people, self.histories, self.carts = people, histories, carts
        self.loyalty = loyalty
        self.customers = _csv(files["customers"])
        self.with_items = "order_items" in files
        self.width = max(6, len(str(customers)))  # ids sort like numbers
        self.orders = self.items = self.events = self.interactions = 0

    def customer(self, index: int, role: str | None) -> None:
        customer_id = f"C{index + 1:0{self.width}d}"
        row = self.people.row(index, customer_id, role == BIRTHDAY, role is not None)
        history = self.histories.for_role(role)
        events, cart_orders = self.carts.for_customer(history.carts, role == ABANDONED)
        orders = history.orders
        if cart_orders:
            orders = sorted([*orders, *cart_orders], key=_first)
        joined = history.joined
        if joined is None:
            joined = self._created_at(history.since, orders, events)
        row.append(self.clock.local(joined))
        self.customers.writerow(row)
        moments = self.loyalty.for_orders(orders, role is None)
        self._orders(customer_id, orders, moments)
        self._events(customer_id, events)
        if role is None and "interactions" in self.files:
            self._interactions(customer_id, self.loyalty.interactions(orders, moments))

    def _created_at(self, since: int, orders: list[Order], events: list[Event]) -> int:
        """Shortly before their first order or cart, else some day since `since`."""
        firsts = [instant for *_, instant in events]
        if orders:
            firsts.append(orders[0][0])
        if firsts:
            return min(firsts) - 60 - int(self.rng.random() * 1800)
        day = self.clock.midnights[since] + 8 * HOUR + int(self.rng.random() * 14 * HOUR)
        return min(day, self.clock.at)

    def _orders(self, customer_id: str, orders: list[Order], moments: OrderMoments) -> None:
        # Plain text, not csv: ids, instants and amounts never need quoting, and this is
        # the hottest loop (10 million orders).
        start, days, seconds = self.clock.utc_start, self.clock.utc_days, self.clock.seconds
        first = ORDER_NUMBERS + self.orders + 1  # shop-style numbers, no format per order
        ids = [str(n) for n in range(first, first + len(orders))]
        delivered = [
            "" if at is None else days[(at - start) // DAY] + seconds[(at - start) % DAY]
            for at in moments.delivered
        ]
        if any(moments.redeemed) or any(moments.status):
            tails = [
                f"{points or ''},{status},{at}"
                for points, status, at in zip(
                    moments.redeemed, moments.status, delivered, strict=True
                )
            ]
        else:  # most customers: nothing redeemed, nothing cancelled
            tails = [f",,{at}" for at in delivered]
        lines = [
            f"{order_id},{customer_id},{days[(t - start) // DAY]}{seconds[(t - start) % DAY]},"
            f"{basket.total},{tail}\n"
            for order_id, (t, basket), tail in zip(ids, orders, tails, strict=True)
        ]
        self.files["orders"].write("".join(lines))
        self.orders += len(lines)
        if self.with_items:
            items = [
                f"{order_id},{sku},{quantity},{price}\n"
                for order_id, (_, basket) in zip(ids, orders, strict=True)
                for sku, quantity, price in basket.lines
            ]
            self.files["order_items"].write("".join(items))
            self.items += len(items)

    def _interactions(self, customer_id: str, found: list[tuple[str, str, int]]) -> None:
        utc = self.clock.utc
        lines = [f"{iid},{customer_id},{action},{utc(at)}\n" for iid, action, at in found]
        self.files["interactions"].write("".join(lines))
        self.interactions += len(lines)

    def _events(self, customer_id: str, events: list[Event]) -> None:
        utc = self.clock.utc
        lines = [f"{cart},{customer_id},{sku},{qty},{utc(at)}\n" for cart, sku, qty, at in events]
        self.files["cart_events"].write("".join(lines))
        self.events += len(lines)


def _first(order: Order) -> int:
    return order[0]
