"""A customer's points balance at an instant, for what must never overdraw it: an order's
`points_redeemed` (shop.import_loyalty) and a reward coupon's cost (shop.redemptions).

The balance is shop.loyalty.balance_on's (oldest lots spent first, a lot dead from its
expiry date, a spend booked after its date, such as a reversal, spent on the day it was
booked) over the entries that exist at that instant: every entry of an earlier shop-local
day, and of the same day the spends (whenever they were booked: counting one too many can
refuse a redemption, never allow an overdraft) and the lots booked at or before the
instant. Later days do not count.

Only the few customers who spend points are read, a bounded batch at a time, and only their
entries up to the last day asked about.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from shop.id_lists import ids_in, ids_param
from shop.loyalty import Entry, balance_on, booked_day
from shop.models import REVERSE, LedgerEntry

BATCH = 500  # customers per round trip
_NOT_STORED = 1 << 62  # ids of entries a check adds: after every stored one of their day


@dataclass(frozen=True)
class Movement:
    entry: Entry
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
                LedgerEntry.on_date, LedgerEntry.expires_on, LedgerEntry.lot_id,
                LedgerEntry.at, LedgerEntry.order_id, LedgerEntry.source,
            ).where(ids_in(connection, LedgerEntry.customer_id), LedgerEntry.on_date <= until),
            {"ids": ids_param(connection, customer_ids)},
        )  # fmt: skip
        reversal = f"{REVERSE}:"
        for customer_id, entry_id, kind, points, on, expires, lot, at, order, source in rows:
            if order is None and source and source.startswith(reversal):
                order = source.removeprefix(reversal)
            entry = Entry(entry_id, kind, points, on, expires, lot, booked_day(points, on, at, tz))
            self.by_customer[customer_id].append(Movement(entry, at, order))

    def available(
        self, customer_id: str, on: date, at: datetime, *, without_order: str | None = None
    ) -> int:
        """Points the customer can spend at the instant `at` (shop-local date `on`), not
        counting the earn entry of `without_order`, nor its reversal (a checkout spends
        before the order earns)."""
        counted = [
            move.entry
            for move in self.by_customer[customer_id]
            if (move.entry.on_date < on or move.entry.points < 0 or move.at <= at)
            and (without_order is None or move.order_id != without_order)
        ]
        return max(balance_on(counted, on).points, 0)

    def add(
        self,
        customer_id: str,
        kind: str,
        points: int,
        on: date,
        at: datetime,
        expires_on: date | None = None,
    ) -> None:
        booked = booked_day(points, on, at, self.tz)
        entry = Entry(next(self.ids), kind, points, on, expires_on, None, booked)
        self.by_customer[customer_id].append(Movement(entry, at, None))


def batches(values: Collection[str], size: int = BATCH) -> Iterator[list[str]]:
    """`values` sorted, `size` at a time."""
    ordered = sorted(values)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]
