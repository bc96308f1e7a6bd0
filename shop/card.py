"""The customer's own loyalty card: what `/card/<token>` shows, read for one customer.

"How many points do I have? What is my status? What can I do with these points?" One
customer, a few indexed queries (the customer by key, their ledger by the
(customer, date) index, their last orders by the (customer, instant) index, their coupons,
the interactions behind their latest bonus points by key):

- the balance at the end of `on` (shop.loyalty.balance_on: FIFO, lots expire) and what it
  buys: whole rewards of `[loyalty] reward_points` each, and the points to the next one;
- the tier: points EARNED in the rolling window (the ledger kinds `loyalty.tier_kinds`
  sums, on dates in (on - points_expire_days, on]) against the next tier's threshold;
- reward coupons still usable (points_cost set, not redeemed, not past `expires_on`);
- points expiring: what is left of each live lot, by expiry date, the soonest first;
- the last orders with the points each earned (a cancelled or refunded one reversed), and
  the latest points for interactions with their action.

An unknown or erased customer has no card (None): the page says what it says of any dead
link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from campaigns.config import Settings
from shop.interactions import SOURCE_PREFIX as _INTERACTION
from shop.loyalty import Entry, balance_on, booked_day, earned_in_window
from shop.models import (
    BONUS,
    PLACED,
    Coupon,
    Customer,
    Interaction,
    LedgerEntry,
    Order,
)

RECENT_ORDERS = 10
RECENT_BONUSES = 10
EXPIRY_DATES = 4  # the soonest expiry dates listed: what a customer can act on


@dataclass(frozen=True)
class Reward:
    """A reward coupon the customer can still use."""

    code: str
    percent_off: int | None
    amount_off_cents: int | None
    expires_on: date  # the last valid shop-local day


@dataclass(frozen=True)
class Expiring:
    expires_on: date  # the first day these points are gone
    points: int


@dataclass(frozen=True)
class CardOrder:
    on: date  # shop-local
    total_cents: int
    points: int  # what it earned
    reversed: bool  # cancelled or refunded: its points were taken back


@dataclass(frozen=True)
class CardBonus:
    on: date  # shop-local
    action: str | None  # None when no interaction row names it
    points: int


@dataclass(frozen=True)
class Card:
    customer_id: str
    first_name: str
    locale: str | None  # the customer's own, None: the shop's default
    on: date
    balance: int
    reward_points: int  # what one reward costs
    reward_percent_off: int
    rewards_affordable: int  # whole rewards the balance buys
    points_to_next_reward: int
    tier: str
    next_tier: str | None  # None at the top tier
    tier_points: int  # earned in the window
    next_tier_threshold: int | None
    window_days: int
    rewards: tuple[Reward, ...]
    expiring: tuple[Expiring, ...]
    orders: tuple[CardOrder, ...]
    bonuses: tuple[CardBonus, ...]

    @property
    def points_to_next_tier(self) -> int:
        return (
            0 if self.next_tier_threshold is None else self.next_tier_threshold - self.tier_points
        )


@dataclass(frozen=True)
class _Row:
    """A ledger line with what the card shows beyond the arithmetic."""

    entry: Entry
    order_id: str | None
    source: str | None


def loyalty_card(
    connection: Connection, settings: Settings, customer_id: str, on: date
) -> Card | None:
    """The card of `customer_id` at the end of the shop-local date `on`; None for an unknown
    or erased customer."""
    customer = connection.execute(
        select(Customer.first_name, Customer.locale, Customer.erased_at).where(
            Customer.id == customer_id
        )
    ).first()
    if customer is None or customer.erased_at is not None:
        return None
    loyalty = settings.loyalty
    rows = _ledger(connection, customer_id, settings.shop.tz)
    entries = [row.entry for row in rows]
    points = points_on(entries, on)
    balance = points.balance
    earned = earned_in_window(entries, on, loyalty)
    next_threshold, next_tier = loyalty.next_tier(earned) or (None, None)
    return Card(
        customer_id=customer_id,
        first_name=customer.first_name or "",
        locale=customer.locale,
        on=on,
        balance=balance,
        reward_points=loyalty.reward_points,
        reward_percent_off=loyalty.reward_percent_off,
        rewards_affordable=balance // loyalty.reward_points,
        points_to_next_reward=loyalty.reward_points - balance % loyalty.reward_points,
        tier=loyalty.tier_for(earned),
        next_tier=next_tier,
        tier_points=earned,
        next_tier_threshold=next_threshold,
        window_days=loyalty.points_expire_days,
        rewards=_rewards(connection, customer_id, on),
        expiring=tuple(
            Expiring(day, left) for day, left in list(points.by_expiry.items())[:EXPIRY_DATES]
        ),
        orders=_orders(connection, customer_id, rows, on),
        bonuses=_bonuses(connection, rows, on),
    )


def _ledger(connection: Connection, customer_id: str, tz: ZoneInfo) -> list[_Row]:
    """The customer's whole ledger (the (customer, date) index finds it), each spend with
    the day it was booked, as shop.loyalty.entries_of reads it for the FIFO."""
    query = select(
        LedgerEntry.id, LedgerEntry.kind, LedgerEntry.points, LedgerEntry.on_date,
        LedgerEntry.expires_on, LedgerEntry.lot_id, LedgerEntry.at, LedgerEntry.order_id,
        LedgerEntry.source,
    ).where(LedgerEntry.customer_id == customer_id)  # fmt: skip
    rows = []
    for id_, kind, points, on_date, expires_on, lot_id, at, order_id, source in connection.execute(
        query
    ):
        booked_on = booked_day(points, on_date, at, tz)
        entry = Entry(id_, kind, points, on_date, expires_on, lot_id, booked_on)
        rows.append(_Row(entry, order_id, source))
    return rows


def _rewards(connection: Connection, customer_id: str, on: date) -> tuple[Reward, ...]:
    query = (
        select(Coupon.code, Coupon.percent_off, Coupon.amount_off_cents, Coupon.expires_on)
        .where(
            Coupon.customer_id == customer_id,
            Coupon.points_cost.is_not(None),
            Coupon.redeemed_at.is_(None),
            Coupon.expires_on >= on,  # the last valid day
        )
        .order_by(Coupon.expires_on, Coupon.code)
    )
    return tuple(Reward(*row) for row in connection.execute(query))


@dataclass(frozen=True)
class Points:
    balance: int  # never negative
    by_expiry: dict[date, int]  # what each expiry date takes, ascending


def points_on(entries: Sequence[Entry], on: date) -> Points:
    """The balance at the end of `on`, and what is left of the live lots with an expiry
    date, summed by that date.

    One replay of shop.loyalty.balance_on's own FIFO (it costs more the more live lots a
    customer holds), asked one question more: without what comes after `on` and up to the
    last expiry date, every live lot expires, and its `expired` list says what each still
    held, which is what it holds at the end of `on`, since nothing else spends it. What the
    replay ends with is the lots that never expire (a positive adjustment) less any debt.
    """
    known = [entry for entry in entries if entry.fifo_date <= on]
    expiry = {entry.id: entry.expires_on for entry in known if entry.points > 0}
    last = max((end for end in expiry.values() if end is not None), default=on)
    replay = balance_on(known, max(last, on), horizon_days=0)
    by_date: dict[date, int] = {}
    for lot_id, points in replay.expired:
        end = expiry[lot_id]
        if end is not None and end > on:
            by_date[end] = by_date.get(end, 0) + points
    balance = sum(by_date.values()) + replay.points
    return Points(max(balance, 0), dict(sorted(by_date.items())))


def _orders(
    connection: Connection, customer_id: str, rows: Sequence[_Row], on: date
) -> tuple[CardOrder, ...]:
    """The last orders up to `on` (the (customer, instant) index, read backwards), each with
    the points its earn entry booked."""
    earned = {row.order_id: row.entry.points for row in rows if row.order_id is not None}
    query = (
        select(Order.id, Order.local_date, Order.total_cents, Order.status)
        .where(Order.customer_id == customer_id, Order.local_date <= on)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(RECENT_ORDERS)
    )
    return tuple(
        CardOrder(local_date, total, earned.get(order_id, 0), status != PLACED)
        for order_id, local_date, total, status in connection.execute(query)
    )


def _bonuses(connection: Connection, rows: Sequence[_Row], on: date) -> tuple[CardBonus, ...]:
    """The latest bonus entries with the action of the interaction that booked each."""
    bonuses = sorted(
        (row for row in rows if row.entry.kind == BONUS and row.entry.on_date <= on),
        key=lambda row: (row.entry.on_date, row.entry.id),
        reverse=True,
    )[:RECENT_BONUSES]
    ids = {
        row.source.removeprefix(_INTERACTION)
        for row in bonuses
        if row.source and row.source.startswith(_INTERACTION)
    }
    actions: dict[str, str] = {}
    if ids:
        found = select(Interaction.id, Interaction.action).where(Interaction.id.in_(sorted(ids)))
        actions = {interaction_id: action for interaction_id, action in connection.execute(found)}
    return tuple(
        CardBonus(row.entry.on_date, actions.get((row.source or "").removeprefix(_INTERACTION)),
                  row.entry.points)
        for row in bonuses
    )  # fmt: skip
