"""The loyalty side of an import: orders that redeem points, orders cancelled or refunded,
and interactions, each booking its ledger entry once (the entry's unique `source`).

- `points_redeemed` > 0 books `redeem:<order>` (−N, the order's local date and instant),
  when the customer's balance at that instant covers it (shop.points_at): a checkout spends
  points before the order earns its own, so the order's own points do not count. The rows
  of new orders that redeem are kept aside in a temporary table while the file loads (not
  in memory: a first import of years of history may hold millions), and checked at its end,
  a bounded batch of customers at a time, in time order: the balance counts every other
  order of the file, whatever its place in the file, and the earlier redemptions of the
  same customer. A row it does not cover is a problem and its order is not written.
- An order whose status is cancelled or refunded books `reverse:<order>` (−its earned
  points, on the order's local date, at the instant the import learned it): set-based from
  the orders just written, so an order cancelled by a later file, or arriving cancelled,
  is reversed once. What it spent comes back the same way, once per spend: a `refund` lot
  (book_refunds) per redeem or reward entry of the order, source `refund:` + that entry's.
- An interaction books `interaction:<id>` (its points, a lot on its local date), set-based
  from the interactions just written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    func,
    literal,
    literal_column,
    select,
)

from campaigns.config import LoyaltySettings
from shop.csv_rows import Lines, show
from shop.id_lists import ids_in, ids_param
from shop.interactions import SOURCE_PREFIX as INTERACTION
from shop.loyalty import points_for
from shop.models import (
    BONUS,
    EARN,
    PLACED,
    REDEEM,
    REFUND,
    REVERSE,
    REWARD,
    Interaction,
    LedgerEntry,
    Order,
)
from shop.points_at import BATCH, Ledgers
from shop.sql import upsert_insert
from shop.types import UTCDateTime

# The columns an order's loyalty needs, by name in the sink's row.
_NEEDED = ("id", "customer_id", "ordered_at", "local_date", "total_cents", "status",
           "points_redeemed")  # fmt: skip
_STAGE = Table(
    "leal_redeeming",
    MetaData(),
    Column("leal_line", Integer, nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("row", Text, nullable=False),  # the sink's row as JSON (shop.import_loyalty._json)
    Index("ix_leal_redeeming_customer", "customer_id"),
    prefixes=["TEMPORARY"],
)


def book_reversals(connection: Connection, order_ids: Collection[str], at: datetime) -> None:
    """`reverse` entries of those orders that are cancelled or refunded and earned points."""
    if not order_ids:
        return
    earned = (
        select(
            LedgerEntry.customer_id,
            literal(REVERSE),
            -LedgerEntry.points,
            LedgerEntry.on_date,
            bindparam("at", type_=UTCDateTime()),
            literal(f"{REVERSE}:") + Order.id,
        )
        .join_from(Order, LedgerEntry, LedgerEntry.order_id == Order.id)
        .where(ids_in(connection, Order.id), Order.status != PLACED, LedgerEntry.points > 0)
    )
    _book(connection, earned, {"ids": ids_param(connection, order_ids), "at": at})


def book_refunds(
    connection: Connection,
    order_ids: Collection[str],
    at: datetime,
    tz: ZoneInfo,
    loyalty: LoyaltySettings,
) -> None:
    """`refund` lots giving back what those orders, when cancelled or refunded, spent: one
    per `redeem` or `reward` entry of the order (its points, as booked), source `refund:` +
    that entry's source, so each spend comes back once whenever the entries were booked.

    The rule: a lot dated the shop-local day Leal learned it (`at`), expiring
    `points_expire_days` later like any lot, and nothing once the order's own points would
    have expired (learned on or after its date + points_expire_days). Why:
    - a lot, never a negative spend undone: the points the order spent are gone from the
      lots they came from (some of those may have expired since, their expiry booked), so
      what comes back is new points, and adding a lot never lowers a balance;
    - dated when learned, not on the order's date: a lot dated in the past would, in the
      FIFO (shop.loyalty.balance_on), re-order spends already made and expiries already
      booked; and the set-based readers of lots (shop.expiry's daily range, the
      points_expiring trigger) find a lot by its `at` on its date and take its expiry as
      that date + points_expire_days, so the daily runs would never find it due;
    - not after the order's own points would have expired: every lot the order spent was
      dated on or before it, so by then all of them would have expired anyway; a first
      import of years of history gives back nothing for long-cancelled orders.
    """
    if not order_ids:
        return
    learned = at.astimezone(tz).date()
    lifetime = timedelta(days=loyalty.points_expire_days)
    spends = [literal(f"{REDEEM}:") + Order.id, literal(f"{REWARD}:") + Order.id]
    spent = (
        select(
            LedgerEntry.customer_id,
            literal(REFUND),
            -LedgerEntry.points,
            bindparam("on", type_=Date()),
            bindparam("at", type_=UTCDateTime()),
            bindparam("expires", type_=Date()),
            literal(f"{REFUND}:") + LedgerEntry.source,
        )
        .join_from(Order, LedgerEntry, LedgerEntry.source.in_(spends))  # the unique index
        .where(
            ids_in(connection, Order.id),
            Order.status != PLACED,
            Order.local_date > bindparam("alive_after", type_=Date()),
            LedgerEntry.customer_id == Order.customer_id,
            LedgerEntry.points < 0,
        )
    )
    parameters = {
        "ids": ids_param(connection, order_ids), "on": learned, "at": at,
        "expires": learned + lifetime, "alive_after": learned - lifetime,
    }  # fmt: skip
    _book(connection, spent, parameters, LOT_COLUMNS)


def refundable(ordered_on: date, learned_on: date, loyalty: LoyaltySettings) -> bool:
    """Whether a cancellation learned on `learned_on` gives back what an order of
    `ordered_on` spent (book_refunds): while the order's own points would still be live."""
    return learned_on < ordered_on + timedelta(days=loyalty.points_expire_days)


def book_redeems(connection: Connection, order_ids: Collection[str]) -> None:
    """`redeem` entries of those orders that spent points."""
    if not order_ids:
        return
    spent = select(
        Order.customer_id, literal(REDEEM), -Order.points_redeemed, Order.local_date,
        Order.ordered_at, literal(f"{REDEEM}:") + Order.id,
    ).where(ids_in(connection, Order.id), Order.points_redeemed > 0)  # fmt: skip
    _book(connection, spent, {"ids": ids_param(connection, order_ids)})


def book_bonuses(
    connection: Connection, interaction_ids: Collection[str], loyalty: LoyaltySettings
) -> None:
    """`bonus` entries of those interactions: lots that expire like an order's points."""
    if not interaction_ids:
        return
    days = loyalty.points_expire_days
    expires: Any
    if connection.dialect.name == "sqlite":
        expires = func.date(Interaction.local_date, f"+{days} days")
    else:
        expires = Interaction.local_date + literal_column(str(int(days)))
    earned = select(
        Interaction.customer_id, literal(BONUS), Interaction.points, Interaction.local_date,
        Interaction.at, expires, literal(INTERACTION) + Interaction.id,
    ).where(ids_in(connection, Interaction.id))  # fmt: skip
    _book(connection, earned, {"ids": ids_param(connection, interaction_ids)}, LOT_COLUMNS)


SPEND_COLUMNS = ("customer_id", "kind", "points", "on_date", "at", "source")
LOT_COLUMNS = ("customer_id", "kind", "points", "on_date", "at", "expires_on", "source")


def _book(
    connection: Connection,
    entries: Any,
    parameters: dict[str, object],
    columns: tuple[str, ...] = SPEND_COLUMNS,
) -> None:
    """INSERT the `entries` selected in `columns`' order, each once by its `source`."""
    insert = upsert_insert(connection, LedgerEntry).from_select(list(columns), entries)
    connection.execute(insert.on_conflict_do_nothing(index_elements=["source"]), parameters)


class OrderLoyalty:
    """One orders file with loyalty columns: the rows that redeem points, kept aside until
    the end of the file, and the reversals of the rows written."""

    def __init__(
        self,
        connection: Connection,
        columns: list[str],
        loyalty: LoyaltySettings,
        tz: ZoneInfo,
        at: datetime,
    ) -> None:
        self.connection, self.loyalty, self.tz, self.at = connection, loyalty, tz, at
        self.lifetime = timedelta(days=loyalty.points_expire_days)
        self.learned = at.astimezone(tz).date()  # the day Leal learns of cancellations
        (self.id, self.customer, self.ordered_at, self.local_date, self.total, self.status,
         self.redeemed) = (columns.index(name) for name in _NEEDED)  # fmt: skip
        self.staged = False

    def aside(self, lines: Lines) -> Lines:
        """The rows to write now; those of new orders that redeem points go to the staging
        table (an order Leal has is written once: its row is not checked again)."""
        redeeming = {row[self.id] for _, row in lines if row[self.redeemed] > 0}
        if not redeeming:
            return lines
        new = redeeming - self._known(redeeming)
        if not new:
            return lines
        if not self.staged:
            _STAGE.drop(self.connection, checkfirst=True)  # one a failed import left behind
            _STAGE.create(self.connection)
            self.staged = True
        self.connection.execute(
            _STAGE.insert(),
            [{"leal_line": line, "customer_id": row[self.customer], "row": _json(row)}
             for line, row in lines if row[self.id] in new],
        )  # fmt: skip
        return [(line, row) for line, row in lines if row[self.id] not in new]

    def _known(self, ids: Collection[str]) -> set[str]:
        """Which of these orders Leal has."""
        found = select(Order.id).where(ids_in(self.connection, Order.id))
        return set(self.connection.scalars(found, {"ids": ids_param(self.connection, ids)}))

    def written(self, lines: Lines) -> None:
        """The rows just written: reverse those cancelled or refunded, and give back what
        they spent."""
        cancelled = {row[self.id] for _, row in lines if row[self.status] != PLACED}
        book_reversals(self.connection, cancelled, self.at)
        book_refunds(self.connection, cancelled, self.at, self.tz, self.loyalty)

    def settle(self, write: Callable[[Lines], None]) -> tuple[int, Lines]:
        """Check and write the rows kept aside, a batch of customers at a time: how many
        were written, and the refused ones as (line, reason)."""
        if not self.staged:
            return 0, []
        count, refused = 0, []
        for customers in self._staged_customers():
            found = self.connection.execute(
                select(_STAGE.c.leal_line, _STAGE.c.row)
                .where(_STAGE.c.customer_id.in_(customers))
                .order_by(_STAGE.c.leal_line)
            )
            lines: Lines = [(line, _row(text)) for line, text in found]
            reasons = self._check(lines)
            kept = [(line, row) for line, row in lines if row[self.id] not in reasons]
            write(kept)
            book_redeems(self.connection, {row[self.id] for _, row in kept})
            self.written(kept)
            count += len(kept)
            refused += [(line, reasons[row[self.id]]) for line, row in lines
                        if row[self.id] in reasons]  # fmt: skip
        _STAGE.drop(self.connection)
        self.staged = False
        return count, refused

    def _staged_customers(self) -> Iterator[list[str]]:
        """The customers of the staged rows, a batch at a time, in order."""
        after = ""
        while True:
            page = list(
                self.connection.scalars(
                    select(_STAGE.c.customer_id)
                    .distinct()
                    .where(_STAGE.c.customer_id > after)
                    .order_by(_STAGE.c.customer_id)
                    .limit(BATCH)
                )
            )
            if not page:
                return
            yield page
            after = page[-1]

    def _check(self, lines: Lines) -> dict[str, str]:
        """The orders among `lines` that redeem more than their customer's balance, with
        the reason. An order Leal has already is not checked (orders are written once), nor
        a second row of one order (the first row is the order)."""
        known = self._known({row[self.id] for _, row in lines})
        first: dict[str, tuple[int, Any]] = {}
        for line, row in lines:
            if row[self.id] not in known:
                first.setdefault(row[self.id], (line, row))
        if not first:
            return {}
        until = max(_day(row[self.local_date]) for _, row in first.values())
        customers = {row[self.customer] for _, row in first.values()}
        ledgers = Ledgers(self.connection, customers, until, self.tz)
        in_time = sorted(first.values(), key=lambda item: (item[1][self.ordered_at], item[0]))
        reasons = {}
        for _, row in in_time:
            reason = self._spend(ledgers, row)
            if reason is not None:
                reasons[row[self.id]] = reason
        return reasons

    def _spend(self, ledgers: Ledgers, row: Any) -> str | None:
        """The row's redemption checked and, when covered, added to its customer's ledger
        with the order's own entries; None, or why not."""
        customer, asked = row[self.customer], row[self.redeemed]
        on, at = _day(row[self.local_date]), _instant(row[self.ordered_at])
        have = ledgers.available(customer, on, at)
        if asked > have:
            return (
                f"order {show(row[self.id])} redeems {asked} points, more than the {have} "
                f"customer {show(customer)} had then: not written"
            )
        ledgers.add(customer, REDEEM, -asked, on, at)
        earned = points_for(row[self.total], self.loyalty)
        if earned:
            ledgers.add(customer, EARN, earned, on, at, on + self.lifetime)
            if row[self.status] != PLACED:
                ledgers.add(customer, REVERSE, -earned, on, self.at)
        if row[self.status] != PLACED and refundable(on, self.learned, self.loyalty):
            ledgers.add(
                customer, REFUND, asked, self.learned, self.at, self.learned + self.lifetime
            )
        return None


def _json(row: Any) -> str:
    """A sink's row as text: its instants and dates (datetimes on psycopg's executemany
    path, text on the others) tagged, so they come back as they went."""
    return json.dumps([_tagged(value) for value in row])


def _tagged(value: object) -> object:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _row(text: str) -> tuple[object, ...]:
    return tuple(_untagged(value) for value in json.loads(text))


def _untagged(value: Any) -> object:
    if isinstance(value, dict):
        return (
            datetime.fromisoformat(value["t"]) if "t" in value else date.fromisoformat(value["d"])
        )
    return value


def _instant(value: Any) -> datetime:
    """A row's stored instant (naive UTC, as text or datetime) as an aware one."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(at, datetime)
    return at.replace(tzinfo=UTC)


def _day(value: Any) -> date:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(day, date)
    return day
