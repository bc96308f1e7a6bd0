"""The loyalty program's arithmetic: points earned, balance with FIFO expiry, tiers.

Rules (settings `[loyalty]`):
- an order earns floor(total x points_per_currency_unit) points, on its shop-local date;
- earned points count on dates d with order_date <= d < order_date + points_expire_days,
  both for the balance (unless spent first) and for the tier window;
- the positive entries are lots (an order's `earn`, an interaction's `bonus`, a
  cancelled order's spent points given back as a `refund` dated the day it was learned, a
  positive `adjust` that never expires); the negative ones spend: redemptions, rewards,
  reversals of cancelled orders, negative adjustments. Spends take the oldest live lots
  first (FIFO); what is left of a lot when it reaches its expiry date expires;
- a spend is spent on the day it was booked: a reversal dated on its order's day but
  learned weeks later (`booked_on`) takes points from the lots live when it was learned, so
  a lot that already expired, and whose expiry is booked, is never spent again;
- the tier on date d is the highest tier whose threshold <= points earned in the window
  (`loyalty.tier_kinds`), so spending points never lowers a tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from campaigns.config import LoyaltySettings
from shop.models import LedgerEntry


def points_for(total_cents: int, loyalty: LoyaltySettings) -> int:
    """Points an order earns: floor(total x rate), exact (no float)."""
    if total_cents <= 0:
        return 0
    numerator, denominator = _rate(loyalty.points_per_currency_unit)
    return total_cents * numerator // denominator


@lru_cache(maxsize=16)
def _rate(points_per_currency_unit: Decimal) -> tuple[int, int]:
    """Points per cent as an exact integer ratio (import calls this once per order)."""
    rate = Fraction(points_per_currency_unit) / 100
    return rate.numerator, rate.denominator


def earn_entry(
    order_id: str,
    customer_id: str,
    ordered_at: datetime,
    local_date: date,
    total_cents: int,
    loyalty: LoyaltySettings,
) -> dict[str, Any]:
    """The ledger row an order writes (`local_date`: `ordered_at` in the shop's zone)."""
    return {
        "customer_id": customer_id,
        "kind": "earn",
        "points": points_for(total_cents, loyalty),
        "on_date": local_date,
        "at": ordered_at,
        "expires_on": local_date + timedelta(days=loyalty.points_expire_days),
        "order_id": order_id,
        "lot_id": None,
        "note": None,
    }


@dataclass(frozen=True)
class Entry:
    """A ledger line as the arithmetic needs it."""

    id: int
    kind: str  # shop.models' kinds: earn, bonus, redeem, reward, reverse, refund, expire, adjust
    points: int
    on_date: date
    expires_on: date | None = None
    lot_id: int | None = None
    # A spend booked on a later shop-local day than its `on_date` (a reversal, learned after
    # its order's day): the FIFO spends it that day. None: on `on_date`.
    booked_on: date | None = None

    @property
    def fifo_date(self) -> date:
        """The day the FIFO applies it: a lot on its date, a spend when it was booked."""
        if self.points < 0 and self.booked_on is not None:
            return max(self.booked_on, self.on_date)
        return self.on_date


@dataclass(frozen=True)
class Balance:
    points: int
    expiring: int  # live points that expire within the horizon asked for
    expired: tuple[tuple[int, int], ...]  # (lot id, points) that expired unspent, oldest first


def balance_on(entries: Iterable[Entry], on: date, horizon_days: int = 30) -> Balance:
    """The balance at the end of the shop-local date `on`.

    Lots are spent oldest first; a lot is live on dates before its `expires_on`, and
    whatever is left of it then expires. Each day its lots come before its spends (an
    order's points can pay for a redemption later that day), lots in (date, id) order.
    Stored expire entries are not needed: they record what this computes.
    """
    lots: list[list[Any]] = []  # [lot id, expires_on, points left]
    expired: list[tuple[int, int]] = []
    debt = 0  # points spent beyond the live balance (a correction may cause it)
    next_expiry = date.max  # the soonest expiry of a live lot: nothing to drop before it
    for entry in sorted(entries, key=lambda e: (e.fifo_date, e.points <= 0, e.id)):
        day = entry.fifo_date
        if day > on:
            break
        if day >= next_expiry:  # a customer with years of orders: not a pass per entry
            next_expiry = drop_expired(lots, day, expired)
        if entry.kind == "expire":
            continue
        if entry.points > 0:
            lots.append([entry.id, entry.expires_on or date.max, entry.points])
            next_expiry = min(next_expiry, lots[-1][1])
            debt = spend_oldest_first(lots, debt)
        else:
            debt = spend_oldest_first(lots, debt - entry.points)
    drop_expired(lots, on, expired)
    horizon = on + timedelta(days=horizon_days)
    return Balance(
        points=sum(lot[2] for lot in lots) - debt,
        expiring=sum(lot[2] for lot in lots if lot[1] <= horizon),
        expired=tuple(expired),
    )


def earned_in_window(entries: Iterable[Entry], on: date, loyalty: LoyaltySettings) -> int:
    """Points EARNED in the tier window (on - points_expire_days, on], as shop.stats sums
    them in SQL: the `tier_kinds` entries (a reversal nets out its order's points)."""
    window_start, kinds = on - timedelta(days=loyalty.points_expire_days), loyalty.tier_kinds
    return max(
        sum(e.points for e in entries if e.kind in kinds and window_start < e.on_date <= on), 0
    )


def drop_expired(lots: list[list[Any]], day: date, expired: list[tuple[int, int]]) -> date:
    """Remove the lots that are no longer live on `day`, noting what they still held;
    the soonest expiry among the lots left."""
    for lot in lots:
        if lot[1] <= day and lot[2] > 0:
            expired.append((lot[0], lot[2]))
    lots[:] = [lot for lot in lots if lot[1] > day]
    return min((lot[1] for lot in lots), default=date.max)


def spend_oldest_first(lots: list[list[Any]], amount: int) -> int:
    """Spend `amount` from the oldest live lots; return what they could not cover."""
    for lot in lots:
        if amount <= 0:
            break
        used = min(lot[2], amount)
        lot[2] -= used
        amount -= used
    return max(amount, 0)


def entries_of(
    connection: Connection, customer_ids: Sequence[str], tz: ZoneInfo | None = None
) -> dict[str, list[Entry]]:
    """The ledger of each customer, for balance computations in batch. With the shop's
    zone `tz`, spends booked after their date (reversals) carry the day they were booked;
    without it they are spent on their date (exact for every ledger without reversals)."""
    rows = connection.execute(
        select(
            LedgerEntry.customer_id,
            LedgerEntry.id,
            LedgerEntry.kind,
            LedgerEntry.points,
            LedgerEntry.on_date,
            LedgerEntry.expires_on,
            LedgerEntry.lot_id,
            LedgerEntry.at,
        ).where(LedgerEntry.customer_id.in_(customer_ids))
    )
    by_customer: dict[str, list[Entry]] = {cid: [] for cid in customer_ids}
    for customer_id, entry_id, kind, points, on_date, expires_on, lot_id, at in rows:
        booked_on = booked_day(points, on_date, at, tz)
        entry = Entry(entry_id, kind, points, on_date, expires_on, lot_id, booked_on)
        by_customer[customer_id].append(entry)
    return by_customer


def booked_day(points: int, on_date: date, at: datetime, tz: ZoneInfo | None) -> date | None:
    """An Entry's `booked_on`: the shop-local day a spend was booked, when after its date."""
    if tz is None or points >= 0:
        return None
    day = at.astimezone(tz).date()
    return day if day > on_date else None
