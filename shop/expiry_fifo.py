"""FIFO expiry for customers who spent points, in SQL: one INSERT … SELECT for all of them.

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
lot k leaves M(E_k) - M(E_k-) unspent. With window functions: a running sum of lot points
and of spends over the customer's events ordered by instant (an expiry before the spends of
its own day, as balance_on drops a lot before it applies that day's spends), a running
maximum of P - C over the expiries, and each expiry's increase of it.

A customer with a lot that does not live `points_expire_days` (a positive correction that
never expires, a lifetime changed in the settings) is left to balance_on: SPENDERS marks
them.
"""

from __future__ import annotations

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

from shop.models import EXPIRE, ID, LedgerEntry
from shop.sql import upsert_insert

LOT, SPEND = 0, 1  # event types, in the order events of one instant apply

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


def expire_regular_spenders(connection: Connection, lots: Any, days: Table) -> int:
    """Book the expiries of the due `lots` of the regular SPENDERS by the closed form;
    `days` maps each local date of their ledgers to the instant it begins. Returns the
    entries written."""
    who = select(SPENDERS.c.customer_id).where(SPENDERS.c.regular.is_(True)).subquery("who")
    fifo = _unspent_at_expiry(days, who)
    source = (
        select(
            fifo.c.customer_id,
            literal("expire"),
            -fifo.c.unspent,
            fifo.c.expires_on,
            fifo.c.expires_at,
            fifo.c.lot_id,
        )
        .join(lots, lots.c.id == fifo.c.lot_id)  # only the lots due in this run
        .where(fifo.c.unspent > 0)
    )
    return book_expiries(connection, source)


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


def _unspent_at_expiry(days: Table, who: Any) -> Any:
    """(customer_id, lot_id, expires_on, expires_at, unspent) for every lot of `who` that
    expires by the last day of `days`."""
    events = _events(days, who)
    order = (events.c.at, events.c.type, events.c.on_date, events.c.id)
    so_far = {"partition_by": events.c.customer_id, "order_by": order, "rows": (None, 0)}
    slack = func.sum(events.c.lot).over(**so_far) - func.sum(events.c.spent).over(**so_far)
    running = select(
        events.c.customer_id,
        events.c.id,
        events.c.type,
        events.c.at,
        events.c.on_date,
        events.c.expires_on,
        slack.label("slack"),  # P_k - C(E_k) at the expiry of lot k
    ).subquery("running")
    expiries = select(running).where(running.c.type == LOT).subquery("expiries")
    # M at each expiry and at the one before it, over the same window (one sort).
    customer, by_instant = (
        expiries.c.customer_id,
        (expiries.c.at, expiries.c.on_date, expiries.c.id),
    )
    peak = func.max(expiries.c.slack).over(
        partition_by=customer, order_by=by_instant, rows=(None, 0)
    )
    previous = func.max(expiries.c.slack).over(
        partition_by=customer, order_by=by_instant, rows=(None, -1)
    )
    return select(
        expiries.c.customer_id,
        expiries.c.id.label("lot_id"),
        expiries.c.expires_on,
        expiries.c.at.label("expires_at"),
        (_at_least_zero(peak) - _at_least_zero(previous)).label("unspent"),
    ).subquery("fifo")


def _events(days: Table, who: Any) -> Any:
    """Each lot at the instant it expires, each spend at the instant the FIFO applies it:
    its day's start or its booking, whichever is later (a reversal learned after its
    order's day is spent when it was learned, shop.loyalty.Entry.fifo_date)."""
    entry = LedgerEntry
    # IN, not a join: SQLite, without statistics, would scan the ledger to probe `who`.
    mine = entry.customer_id.in_(select(who.c.customer_id))
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


def _at_least_zero(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """0 for a negative or NULL value (no expiry yet)."""
    return case((value > 0, value), else_=0)
