"""Booking the expiry of unspent point lots, set-based.

A lot (an `earn`, `bonus` or `refund` entry, shop.models.LOT_KINDS) whose customer never
spent a point expires whole: one `INSERT … SELECT` books all of those at once, however many
years of history a first run after an import finds. Only the customers who spent points
(redeem, reward, reverse or negative adjust entries, found through a small partial index)
need the FIFO arithmetic of `shop.loyalty.balance_on` (a `refund` lot gives back a spend,
so its customer is always one): in one more `INSERT … SELECT` with window functions for
those whose lots all live `points_expire_days` (shop.expiry_fifo), and in Python, a bounded
batch at a time, for the rare others. Idempotent: the unique `lot_id` holds one expire
entry per lot.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    Connection,
    Date,
    MetaData,
    Select,
    Table,
    and_,
    exists,
    func,
    literal,
    literal_column,
    not_,
    select,
)
from sqlalchemy.orm import aliased

from campaigns.config import LoyaltySettings
from shop.expiry_fifo import SPENDERS, book_expiries, expire_regular_spenders, note_spenders
from shop.loyalty import Entry, balance_on, entries_of
from shop.models import LOT_KINDS, LedgerEntry
from shop.points_at import batches
from shop.sql import upsert_insert
from shop.types import UTCDateTime

SPENDERS_BATCH = 500  # customers whose FIFO is computed in Python per round trip

# Shop-local expiry day -> the UTC instant it begins: expire entries are booked at local
# midnight, which SQL cannot compute portably from a zone name (SQLite has no zones).
_DAYS = Table(
    "leal_expiry_days",
    MetaData(),
    Column("day", Date, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    prefixes=["TEMPORARY"],
)


def write_expiries(
    connection: Connection,
    on: date,
    tz: ZoneInfo,
    loyalty: LoyaltySettings,
    since: date | None = None,
) -> int:
    """Book expire entries for lots whose expiry date is in (since, on] (all when None).
    Returns the entries this call wrote (an overlapping run may have booked some)."""
    lots = _due_lots(on, tz, loyalty, since)
    first = connection.scalar(select(func.min(lots.c.expires_on)))
    if first is None:
        return 0
    spenders = _spenders_due(lots) if since is not None else _spenders_with_due_lots(on)
    note_spenders(connection, spenders, loyalty.points_expire_days)
    earliest = connection.scalar(  # the spenders' ledgers: each spend's day needs its start
        select(func.min(LedgerEntry.on_date)).where(
            LedgerEntry.customer_id.in_(select(SPENDERS.c.customer_id))
        )
    )
    _fill_days(connection, min(first, earliest or first), on, tz)
    written = _expire_whole_lots(connection, lots)
    written += _expire_spent_lots(connection, on, tz, since)
    for table in (_DAYS, SPENDERS):  # on an error the rollback takes them away
        table.drop(connection)
    return written


def _due_lots(on: date, tz: ZoneInfo, loyalty: LoyaltySettings, since: date | None) -> Any:
    """Lots with points that expire in (since, on], as a subquery."""
    due = and_(
        LedgerEntry.kind.in_(LOT_KINDS),
        LedgerEntry.points > 0,
        LedgerEntry.expires_on <= on,
    )
    if since is not None:  # expires_on = on_date + N: bound the lots' instants (indexed)
        lifetime = timedelta(days=loyalty.points_expire_days)
        first, last = since + timedelta(days=1) - lifetime, on - lifetime
        due = and_(
            due,
            LedgerEntry.expires_on > since,
            LedgerEntry.at >= _start_of(first, tz),
            LedgerEntry.at < _start_of(last + timedelta(days=1), tz),
        )
    return (
        select(LedgerEntry.id, LedgerEntry.customer_id, LedgerEntry.points, LedgerEntry.expires_on)
        .where(due)
        .subquery("due_lots")
    )


def _fill_days(connection: Connection, first: date, last: date, tz: ZoneInfo) -> None:
    _DAYS.create(connection)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    connection.execute(_DAYS.insert(), [{"day": day, "at": _start_of(day, tz)} for day in days])
    if connection.dialect.name == "postgresql":  # no autovacuum for temporary tables: without
        connection.exec_driver_sql(f"ANALYZE {_DAYS.name}")  # statistics it joins by nested loop


def _expire_whole_lots(connection: Connection, lots: Any) -> int:
    """Lots of customers who never spent a point expire whole: one INSERT … SELECT."""
    source = (
        select(
            lots.c.customer_id,
            literal("expire"),
            -lots.c.points,
            lots.c.expires_on,
            _DAYS.c.at,
            lots.c.id,
        )
        .join(_DAYS, _DAYS.c.day == lots.c.expires_on)
        .where(not_(lots.c.customer_id.in_(select(SPENDERS.c.customer_id))))
    )
    return book_expiries(connection, source)


def _spenders_due(lots: Any) -> Select[Any]:
    """The customers with lots due who ever spent points: a probe per customer (of the
    partial ix_loyalty_ledger_spend, whose predicate the literals match), not a list of
    every spender of the shop."""
    spend = aliased(LedgerEntry, name="spend")
    spent = exists().where(
        spend.customer_id == lots.c.customer_id,
        spend.points < literal_column("0"),
        spend.kind != literal_column("'expire'"),
    )
    return select(lots.c.customer_id).where(spent).distinct()


def _spenders_with_due_lots(on: date) -> Select[Any]:
    """The customers who ever spent points and have a lot due by `on`, for a first run,
    when most lots are due: each spender probed for a due lot (through the customer's
    entries by date, oldest first: usually the first one is), instead of every due lot
    probed for a spend (twice as long at a million customers)."""
    spend, lot = aliased(LedgerEntry, name="spend"), aliased(LedgerEntry, name="lot")
    spenders = (
        select(spend.customer_id)
        .where(spend.points < literal_column("0"), spend.kind != literal_column("'expire'"))
        .distinct()
        .subquery("spenders")
    )
    due = exists().where(
        lot.customer_id == spenders.c.customer_id,
        lot.kind.in_(LOT_KINDS),
        lot.points > 0,
        lot.expires_on <= on,
    )
    return select(spenders.c.customer_id).where(due)


def _expire_spent_lots(connection: Connection, on: date, tz: ZoneInfo, since: date | None) -> int:
    """The FIFO arithmetic for customers who spent points (SPENDERS): in SQL for those whose
    lots expire in FIFO order (shop.expiry_fifo), in Python, a batch at a time, for the rest."""
    written = expire_regular_spenders(connection, _DAYS, since)
    irregular = select(SPENDERS.c.customer_id).where(SPENDERS.c.regular.is_(False))
    customers = [str(customer) for customer in connection.scalars(irregular)]
    for batch in batches(customers, SPENDERS_BATCH):
        rows = _expired_rows(connection, batch, on, tz)
        if rows:
            insert = (
                upsert_insert(connection, LedgerEntry)
                .on_conflict_do_nothing(index_elements=["lot_id"])
                .returning(LedgerEntry.lot_id)
            )
            written += len(connection.execute(insert, rows).all())
    return written


def _expired_rows(
    connection: Connection, customers: list[str], on: date, tz: ZoneInfo
) -> list[dict[str, Any]]:
    rows = []
    for customer_id, entries in entries_of(connection, customers, tz).items():
        closed = {e.lot_id for e in entries if e.kind == "expire"}
        for lot_id, points in balance_on(entries, on).expired:
            if lot_id not in closed:
                rows.append(_expire_row(customer_id, lot_id, points, entries, tz))
    return rows


def _expire_row(
    customer_id: str, lot_id: int, points: int, entries: list[Entry], tz: ZoneInfo
) -> dict[str, Any]:
    lot = next(e for e in entries if e.id == lot_id)
    assert lot.expires_on is not None
    return {
        "customer_id": customer_id,
        "kind": "expire",
        "points": -points,
        "on_date": lot.expires_on,
        "at": _start_of(lot.expires_on, tz),
        "expires_on": None,
        "order_id": None,
        "lot_id": lot_id,
        "note": None,
    }


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
