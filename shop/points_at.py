"""A customer's points balance at an instant, for what must never overdraw it: an order's
`points_redeemed` (shop.import_loyalty) and a reward coupon's cost (shop.redemptions).

The balance is shop.loyalty.balance_on's (oldest lots spent first, a lot dead from its
expiry date, a spend booked after its date, such as a reversal, spent on the day it was
booked) over the entries that exist at that instant: every entry of an earlier shop-local
day, and of the same day the spends (whenever they were booked: counting one too many can
refuse a redemption, never allow an overdraft) and the lots booked at or before the
instant. Later days do not count.

Only the few customers who spend points are read, a bounded batch at a time, and only their
entries up to the last day asked about. Each ledger is kept in balance_on's order (sorted
once, what a check adds put in its place), and a check walks it once, adding up points only:
a first import checks every redeeming order of years of history, and building, sorting and
walking balance_on's entries per check cost a third of that import.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Collection, Iterator
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from shop.id_lists import ids_in, ids_param
from shop.loyalty import booked_day, drop_expired, spend_oldest_first
from shop.models import EXPIRE, REVERSE, LedgerEntry

BATCH = 500  # customers per round trip
_NOT_STORED = 1 << 62  # ids of entries a check adds: after every stored one of their day


class Movement(NamedTuple):
    """An entry as a check reads it, ordered as balance_on applies entries: by the day the
    FIFO applies it, lots before spends, then id."""

    fifo_date: date
    spends: bool  # points <= 0
    id: int
    expire: bool  # an expire entry: what the arithmetic computes itself
    points: int
    on_date: date
    expires_on: date  # date.max: never
    at: datetime  # aware UTC
    order_id: str | None  # the order whose earn entry, or its reversal, this is


class Ledgers:
    """The ledgers of some customers up to a shop-local date, and what a check adds to them
    (the entries it is about to book) so that the next check of the same customer sees it."""

    def __init__(
        self,
        connection: Connection,
        customer_ids: Collection[str],
        until: date,
        tz: ZoneInfo | None = None,
    ) -> None:
        """`tz`: the shop's zone, which tells the day a spend was booked (without it, every
        spend is spent on its date)."""
        self.by_customer: dict[str, list[Movement]] = {cid: [] for cid in customer_ids}
        self.ids = itertools.count(_NOT_STORED)
        self.tz = tz
        rows = connection.execute(
            select(
                LedgerEntry.customer_id, LedgerEntry.id, LedgerEntry.kind, LedgerEntry.points,
                LedgerEntry.on_date, LedgerEntry.expires_on, LedgerEntry.at,
                LedgerEntry.order_id, LedgerEntry.source,
            ).where(ids_in(connection, LedgerEntry.customer_id), LedgerEntry.on_date <= until),
            {"ids": ids_param(connection, customer_ids)},
        )  # fmt: skip
        reversal = f"{REVERSE}:"
        for customer_id, entry_id, kind, points, on, expires, at, order, source in rows:
            if order is None and source and source.startswith(reversal):
                order = source.removeprefix(reversal)
            self.by_customer[customer_id].append(
                self._movement(entry_id, kind, points, on, expires, at, order)
            )
        for movements in self.by_customer.values():
            movements.sort()

    def available(
        self, customer_id: str, on: date, at: datetime, *, without_order: str | None = None
    ) -> int:
        """Points the customer can spend at the instant `at` (shop-local date `on`), not
        counting the earn entry of `without_order`, nor its reversal (a checkout spends
        before the order earns): balance_on's arithmetic, points only."""
        lots: list[list[Any]] = []  # [lot id, expires_on, points left], oldest first
        expired: list[tuple[int, int]] = []  # what drop_expired notes: not needed here
        debt, next_expiry = 0, date.max
        for move in self.by_customer[customer_id]:
            if move.fifo_date > on:
                break
            if not (move.on_date < on or move.points < 0 or move.at <= at):
                continue  # a lot booked later that day
            if without_order is not None and move.order_id == without_order:
                continue
            if move.fifo_date >= next_expiry:
                next_expiry = drop_expired(lots, move.fifo_date, expired)
            if move.expire:
                continue
            if move.points > 0:
                lots.append([move.id, move.expires_on, move.points])
                next_expiry = min(next_expiry, move.expires_on)
                if debt:  # a lot pays a debt first
                    debt = spend_oldest_first(lots, debt)
            else:
                debt = spend_oldest_first(lots, debt - move.points)
        drop_expired(lots, on, expired)
        left: int = sum(lot[2] for lot in lots)
        return max(left - debt, 0)

    def add(
        self,
        customer_id: str,
        kind: str,
        points: int,
        on: date,
        at: datetime,
        expires_on: date | None = None,
    ) -> None:
        move = self._movement(next(self.ids), kind, points, on, expires_on, at, None)
        bisect.insort(self.by_customer[customer_id], move)

    def _movement(
        self,
        entry_id: int,
        kind: str,
        points: int,
        on: date,
        expires_on: date | None,
        at: datetime,
        order_id: str | None,
    ) -> Movement:
        booked = booked_day(points, on, at, self.tz)
        fifo = max(booked, on) if points < 0 and booked is not None else on
        expires = expires_on or date.max
        return Movement(fifo, points <= 0, entry_id, kind == EXPIRE, points, on, expires, at,
                        order_id)  # fmt: skip


def batches(values: Collection[str], size: int = BATCH) -> Iterator[list[str]]:
    """`values` sorted, `size` at a time."""
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]
