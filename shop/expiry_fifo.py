"""FIFO expiry for customers who spent points: one ordered pass over their ledgers.

`shop.loyalty.balance_on` walks a customer's ledger in Python: spends take the oldest live
lots first, a lot's remainder expires on its expiry date, a spend beyond the live balance is
a debt later lots pay. At a first run after importing years of history most customers have
spent at least once (one order in ten redeeming points makes 65 % of ten-order customers
spenders), and walking each ledger in Python cost more than the rest of the run.

The same arithmetic in closed form, for a customer whose lots expire in the order they are
spent (oldest first: true when every lot lives `points_expire_days`): let U(t) be the
points used (spent or expired) in FIFO order by the instant t, C(t) the points spent by t,
and, for lots numbered in FIFO order, P_k the points of lots 1..k and E_k the instant lot k
expires. At E_k every lot up to k is used, so U jumps to max(U, P_k), and U grows with C in
between; hence U(t) = C(t) + M(t) with M(t) = max(0, max over E_k <= t of P_k - C(E_k)), and
lot k leaves M(E_k) - M(E_k-) unspent. So one pass over the customers' events, sorted by
the database (an expiry before the spends of its own day, as balance_on drops a lot before
it applies that day's spends), keeping three running sums per customer, finds every lot
that expires unspent; what it finds is written to a temporary table a batch at a time and
booked by one INSERT … SELECT. (The same sums as window functions in SQL took SQLite twice
as long: two sorts of every event, the second over a materialized first pass.)

A customer with a lot that does not live `points_expire_days` (a positive correction that
never expires, a lifetime changed in the settings) is left to balance_on: SPENDERS marks
them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Integer,
    MetaData,
    Select,
    Table,
    case,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)

from shop.models import EXPIRE, ID, LOT_KINDS, LedgerEntry
from shop.sql import upsert_insert

LOT, SPEND = 0, 1  # event types, in the order events of one instant apply

FOUND_BATCH = 10_000  # events read, and expiries written, per round trip

# The customers with lots due who spent points, for one run: read by several statements, so
# written once (and indexed) instead of recomputed by each; `regular` when their lots expire
# in FIFO order.
SPENDERS = Table(
    "leal_expiry_spenders",
    MetaData(),
    Column("customer_id", ID, primary_key=True),
    Column("regular", Boolean, nullable=False),
    prefixes=["TEMPORARY"],
)
# What the FIFO found, before it is booked: the ledger is not written while it is read.
FOUND = Table(
    "leal_expiry_found",
    MetaData(),
    Column("lot_id", Integer, primary_key=True),
    Column("points", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


def note_spenders(connection: Connection, customers: Select[Any], lifetime_days: int) -> None:
    """Fill SPENDERS with `customers`, each marked regular unless their lots live other
    than `lifetime_days`."""
    SPENDERS.create(connection)
    connection.execute(
        SPENDERS.insert().from_select(
            ["customer_id", "regular"], select(customers.subquery().c[0], true())
        )
    )
    if connection.dialect.name == "postgresql":  # temporary tables get no autovacuum
        connection.exec_driver_sql(f"ANALYZE {SPENDERS.name}")
    out_of_order = _irregular(connection.dialect.name, lifetime_days)
    connection.execute(
        update(SPENDERS).where(SPENDERS.c.customer_id.in_(out_of_order)).values(regular=False)
    )


def expire_regular_spenders(connection: Connection, days: Table, since: date | None) -> int:
    """Book the expiries of the regular SPENDERS' lots due in (since, last day of `days`]
    by the closed form; `days` maps each local date of their ledgers to the instant it
    begins. Returns the entries written."""
    FOUND.create(connection)
    events = _events(days, select(SPENDERS.c.customer_id).where(SPENDERS.c.regular.is_(True)))
    in_order = select(
        events.c.customer_id, events.c.type, events.c.id, events.c.lot, events.c.spent
    ).order_by(events.c.customer_id, events.c.at, events.c.type, events.c.on_date, events.c.id)
    streamed = connection.execute(in_order, execution_options={"yield_per": FOUND_BATCH})
    for batch in _batched(_unspent_lots(streamed), FOUND_BATCH):
        connection.execute(FOUND.insert(), [{"lot_id": i, "points": p} for i, p in batch])
    entry = LedgerEntry
    # The lots by id from FOUND (IN, not a join: SQLite would scan the ledger to probe it).
    unspent = select(FOUND.c.points).where(FOUND.c.lot_id == entry.id).scalar_subquery()
    source = (
        select(entry.customer_id, literal(EXPIRE), -unspent, entry.expires_on, days.c.at, entry.id)
        .join(days, days.c.day == entry.expires_on)
        .where(entry.id.in_(select(FOUND.c.lot_id)), entry.kind.in_(LOT_KINDS))
    )
    if since is not None:  # lots due before were booked by the runs before
        source = source.where(entry.expires_on > since)
    written = book_expiries(connection, source)
    FOUND.drop(connection)  # on an error the rollback takes it away
    return written


def _unspent_lots(events: Iterable[Any]) -> Iterator[tuple[int, int]]:
    """(lot id, points) of each lot that expires with points unspent, from the events of
    the customers in the order the FIFO applies them: M, the points expired so far, is
    the running maximum of P - C over the expiries (at least 0), and a lot leaves what
    it raises M by."""
    customer, lots, spent, expired = None, 0, 0, 0
    for who, kind, entry_id, points, used in events:
        if who != customer:
            customer, lots, spent, expired = who, 0, 0, 0
        if kind == SPEND:
            spent += used
            continue
        lots += points
        if lots - spent > expired:
            yield entry_id, lots - spent - expired
            expired = lots - spent


def _batched(values: Iterable[tuple[int, int]], size: int) -> Iterator[list[tuple[int, int]]]:
    iterator = iter(values)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def book_expiries(connection: Connection, source: Select[Any]) -> int:
    """INSERT the expire entries `source` selects (customer_id, kind, points, on_date, at,
    lot_id), once per lot. Returns how many were inserted: an overlapping run may have
    booked some lots first."""
    columns = ["customer_id", "kind", "points", "on_date", "at", "lot_id"]
    insert = upsert_insert(connection, LedgerEntry).from_select(columns, source)
    insert = insert.on_conflict_do_nothing(index_elements=["lot_id"])
    result = connection.execute(insert.execution_options(preserve_rowcount=True))
    return max(result.rowcount, 0)


def _irregular(dialect: str, lifetime_days: int) -> Select[Any]:
    """SPENDERS with a lot that never expires or lives other than `lifetime_days` (a
    lifetime changed in the settings): only when every lot lives the same days do lots
    expire in the order they are spent. A filter, no sort."""
    entry = LedgerEntry
    if dialect == "postgresql":
        lived: ColumnElement[Any] = entry.expires_on - entry.on_date
    else:
        lived = func.julianday(entry.expires_on) - func.julianday(entry.on_date)
    return select(entry.customer_id).where(
        entry.customer_id.in_(select(SPENDERS.c.customer_id)),
        entry.points > 0,
        or_(entry.expires_on.is_(None), lived != lifetime_days),
    )


def _events(days: Table, who: Select[Any]) -> Any:
    """Each lot at the instant it expires, each spend at the instant the FIFO applies it:
    its day's start or its booking, whichever is later (a reversal learned after its
    order's day is spent when it was learned, shop.loyalty.Entry.fifo_date)."""
    entry = LedgerEntry
    # IN, not a join: SQLite, without statistics, would scan the ledger to probe `who`.
    mine = entry.customer_id.in_(who)
    zero = literal(0, Integer())
    expiring = (
        select(
            entry.customer_id,
            entry.id,
            entry.on_date,
            entry.expires_on,
            days.c.at.label("at"),
            literal(LOT, Integer()).label("type"),
            entry.points.label("lot"),
            zero.label("spent"),
        )
        .join(days, days.c.day == entry.expires_on)
        .where(mine, entry.points > 0)
    )
    spending = (
        select(
            entry.customer_id,
            entry.id,
            entry.on_date,
            entry.expires_on,
            _later(days.c.at, entry.at).label("at"),
            literal(SPEND, Integer()).label("type"),
            zero.label("lot"),
            (-entry.points).label("spent"),
        )
        .join(days, days.c.day == entry.on_date)
        .where(mine, entry.points < 0, entry.kind != EXPIRE)
    )
    return union_all(expiring, spending).subquery("events")


def _later(first: Any, second: Any) -> ColumnElement[Any]:
    return case((first > second, first), else_=second)
