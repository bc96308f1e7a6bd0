"""`leal import DIR`: a streaming, idempotent CSV import of the shop's data.

The files load in dependency order, in one transaction, BATCH rows at a time: each batch
is parsed (`shop.csv_rows`), its references are checked with one query per referenced
table (rows imported earlier in the run count), and it is written with INSERT … ON
CONFLICT, so importing the same files again changes nothing and memory stays flat
however long the files are. Bad rows are reported as `file:line: reason` and skipped;
with `strict`, any problem rolls the whole import back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Dialect,
    Engine,
    Index,
    Table,
    func,
    literal,
    select,
)

from campaigns.config import LoyaltySettings, Settings
from shop.carts import refresh_carts
from shop.csv_rows import COLUMNS, CsvSource, Lines, show
from shop.db import writer
from shop.import_consent import CustomerGuard
from shop.import_parse import parsed_batches
from shop.loyalty import earn_entry, points_for
from shop.models import Base, CartEvent, Customer, LedgerEntry, Order, OrderItem, Product
from shop.purchases import PurchaseTracker
from shop.sql import upsert_insert
from shop.stats import refresh_customer_stats
from shop.types import UTCDateTime

Row = tuple[Any, ...]

# Per file: (position in the parsed row, CSV column, the column it must exist in).
REFERENCES: dict[str, tuple[tuple[int, str, Any], ...]] = {
    "orders": ((1, "customer_id", Customer.id),),
    "order_items": ((0, "order_id", Order.id), (1, "sku", Product.sku)),
    "cart_events": ((1, "customer_id", Customer.id), (2, "sku", Product.sku)),
}


@dataclass
class FileReport:
    name: str
    rows: int = 0
    imported: int = 0  # rows accepted, whether new or already in the database
    bad: int = 0
    seconds: float = 0.0


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "<file>:<line>: <reason>"
    committed: bool = False
    seconds: float = 0.0


def import_dir(
    engine: Engine,
    directory: Path,
    settings: Settings,
    *,
    strict: bool = False,
    on: date | None = None,
) -> ImportReport:
    """Import the CSV files in `directory`; customer summaries are computed as of `on`
    (a shop-local date; default today). With `strict`, write nothing if anything is bad."""
    started = time.perf_counter()
    report = ImportReport()
    report.warnings += [
        f"{path}: not one of the import files, ignored"
        for path in sorted(directory.glob("*.csv"))
        if path.stem not in COLUMNS
    ]
    # A writer: the import reads what is there, then writes (an overlapping run must wait).
    with (
        writer(engine).connect() as connection,
        _big_cache(connection),
        connection.begin() as transaction,
    ):
        loader = _Loader(connection, settings, report)
        deferred = _DeferredIndexes(connection)
        for name in COLUMNS:  # in dependency order
            path = directory / f"{name}.csv"
            if path.is_file():
                loader.load(name, path)
        if strict and report.problems:
            transaction.rollback()
        else:
            deferred.rebuild()
            loader.refresh_summaries(on or datetime.now(settings.shop.tz).date())
            report.committed = True
    report.seconds = time.perf_counter() - started
    return report


IMPORT_CACHE_KIB = 1 << 20  # SQLite page cache of an import connection: 1 GiB


@contextmanager
def _big_cache(connection: Connection) -> Iterator[None]:
    """A big page cache while importing: ten million orders' unique indexes stay in memory,
    so an insert is not a page fetch. The pooled connection gets its usual cache back."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw: Any = connection.connection.dbapi_connection  # beside SQLAlchemy's transaction
    usual = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size={int(usual)}")


class _Loader:
    """One import on one connection: parsers, writers and the report they fill."""

    def __init__(self, connection: Connection, settings: Settings, report: ImportReport) -> None:
        self.connection, self.settings, self.report = connection, settings, report
        self.ledger = _Sink(connection, LedgerEntry, ["order_id"])
        self.earnings = _Earnings(settings.loyalty, self.ledger.columns)
        self.sinks = {
            # erased_at is Leal's own: an import never clears it
            "customers": _Sink(connection, Customer, update=True, skip=["erased_at"]),
            "products": _Sink(connection, Product, update=True),
            "orders": _Sink(connection, Order),
            "order_items": _Sink(connection, OrderItem, update=True),
            "cart_events": _Sink(connection, CartEvent, keys=["cart_id", "sku", "at"]),
        }
        self.customers = CustomerGuard(
            connection, self.sinks["customers"].columns, settings.shop.default_phone_region
        )
        # Earn entries written by this run have larger ids: they name the touched customers.
        self.ledger_before = connection.scalar(select(func.max(LedgerEntry.id))) or 0
        self.cart_events_before = connection.scalar(select(func.max(CartEvent.id))) or 0
        self.orders_written = False
        self.purchases = PurchaseTracker(connection)

    def load(self, name: str, path: Path) -> None:
        file = FileReport(path.name)
        self.report.files.append(file)
        started = time.perf_counter()
        try:
            self._load(name, path, file)
        finally:
            file.seconds = time.perf_counter() - started

    def _load(self, name: str, path: Path, file: FileReport) -> None:
        with path.open("rb") as handle:
            layout = self._header(CsvSource(handle), name, path)
        if layout is None:
            return
        for good, bad in parsed_batches(path, name, self.settings, *layout):
            self._batch(name, path, file, good, bad)

    def _header(self, source: CsvSource, name: str, path: Path) -> tuple[list[int], int] | None:
        """Where each expected column is, or None (and problems) when the file is unusable."""
        header = next(source.reader, None)
        if not header:
            self.report.problems.append(f"{path}:1: the file is empty (a header row is needed)")
            return None
        names = [column.strip() for column in header]
        wanted = COLUMNS[name]
        problems = [f"missing column {column}" for column in wanted if column not in names]
        problems += [
            f"column {column} appears twice" for column in wanted if names.count(column) > 1
        ]
        self.report.problems += [f"{path}:1: {problem}" for problem in problems]
        if problems:
            return None
        if extra := [column or "(unnamed)" for column in names if column not in wanted]:
            self.report.warnings.append(f"{path}:1: extra columns ignored: {', '.join(extra)}")
        return [names.index(column) for column in wanted], len(names)

    def _batch(self, name: str, path: Path, file: FileReport, good: Lines, bad: Lines) -> None:
        total = len(good) + len(bad)
        for position, column, target in REFERENCES.get(name, ()):
            good = self._known(good, bad, position, column, target)
        if name == "customers":
            good = self.customers.rows(good, path, self.report.warnings)
        self._write(name, [row for _, row in good])
        file.rows += total
        file.imported += len(good)
        file.bad += len(bad)
        self.report.problems += [f"{path}:{line}: {reason}" for line, reason in sorted(bad)]

    def _known(self, good: Lines, bad: Lines, position: int, column: str, target: Any) -> Lines:
        """The rows whose reference exists; the others become bad rows."""
        wanted = {row[position] for _, row in good}
        if not wanted or self._count(target, wanted) == len(wanted):
            return good  # the usual case, answered by a count
        found = set(self.connection.scalars(select(target).where(target.in_(wanted))))
        kept: Lines = []
        for line, row in good:
            if row[position] in found:
                kept.append((line, row))
            else:
                bad.append((line, f"unknown {column} {show(row[position])}"))
        return kept

    def _count(self, target: Any, values: set[str]) -> int:
        """How many of `values` exist in `target`, in driver SQL: SQLAlchemy's expanding IN
        costs more per value than the lookup itself."""
        quote, dialect = self.connection.dialect.identifier_preparer, self.connection.dialect
        marks = ", ".join(["?" if dialect.paramstyle == "qmark" else "%s"] * len(values))
        sql = (
            f"SELECT count(*) FROM {quote.format_table(target.table)} "  # noqa: S608 (our names)
            f"WHERE {quote.quote(target.name)} IN ({marks})"
        )
        return int(self.connection.exec_driver_sql(sql, tuple(values)).scalar_one())

    def _write(self, name: str, rows: list[Row]) -> None:
        self.sinks[name].write(rows)
        if name == "order_items":
            self.purchases.lines_written([row[0] for row in rows])
        if name == "orders" and rows:
            self.ledger.write(self.earnings.rows(rows))
            self.orders_written = True

    def refresh_summaries(self, on: date) -> None:
        """Summaries of the customers with new orders and of the carts with new events
        (all of them on a first import). New rows have ids above the ones before."""
        if self.orders_written:
            customers = None
            if self.ledger_before:
                customers = select(LedgerEntry.customer_id).where(
                    LedgerEntry.id > self.ledger_before
                )
            refresh_customer_stats(self.connection, self.settings.loyalty, on, customers)
        self.purchases.refresh()
        carts = select(CartEvent.cart_id).where(CartEvent.id > self.cart_events_before)
        if self.connection.execute(carts.limit(1)).first():
            refresh_carts(self.connection, carts.distinct() if self.cart_events_before else None)


class _DeferredIndexes:
    """The non-unique indexes of empty tables, dropped for a first bulk load and built
    again at its end: one sorted build costs far less than millions of random inserts
    into B-trees bigger than the cache. Unique ones stay: ON CONFLICT needs them. DDL is
    transactional on SQLite and PostgreSQL, so a rolled-back import keeps its indexes."""

    TABLES = (Customer, Order, CartEvent, LedgerEntry)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dropped: list[Index] = []
        for model in self.TABLES:
            table = model.__table__
            assert isinstance(table, Table)
            if connection.execute(select(literal(1)).select_from(table).limit(1)).first():
                continue
            for index in sorted(table.indexes, key=lambda index: str(index.name)):
                if not index.unique:
                    index.drop(connection)
                    self.dropped.append(index)

    def rebuild(self) -> None:
        for index in self.dropped:
            index.create(self.connection)
        self.dropped = []


class _Earnings:
    """Earn ledger rows, built as tuples in the ledger sink's column order.

    `shop.loyalty.earn_entry` defines the entry; this builds the same values without a
    dict per order, which would cost more than the rest of an order's import.
    """

    def __init__(self, loyalty: LoyaltySettings, columns: Sequence[str]) -> None:
        self.loyalty = loyalty
        self.lifetime = timedelta(days=loyalty.points_expire_days)
        sample = earn_entry("order", "customer", datetime.now(UTC), date.today(), 1, loyalty)
        self.order = tuple(columns)
        assert set(self.order) == set(sample), "the sink writes every ledger column"
        self.expiries: dict[date, date] = {}

    def rows(self, orders: list[Row]) -> list[Row]:
        rows, order, loyalty, expiries = [], self.order, self.loyalty, self.expiries
        for order_id, customer_id, at, day, total in orders:
            expires_on = expiries.get(day)
            if expires_on is None:
                expires_on = expiries[day] = day + self.lifetime
            values = {
                "customer_id": customer_id,
                "kind": "earn",
                "points": points_for(total, loyalty),
                "on_date": day,
                "at": at,
                "expires_on": expires_on,
                "order_id": order_id,
                "lot_id": None,
                "note": None,
            }
            rows.append(tuple(values[name] for name in order))
        return rows


class _Sink:
    """INSERT … ON CONFLICT of many rows through the driver's executemany.

    SQLAlchemy's per-row parameter processing costs more than SQLite's insert itself, so
    rows come as tuples in table column order (the autoincrement id left out; instants
    aware UTC) and each column's values are encoded for the driver in one pass.
    """

    def __init__(
        self,
        connection: Connection,
        model: type[Base],
        keys: Sequence[str] | None = None,
        *,
        update: bool = False,
        skip: Sequence[str] = (),
    ) -> None:
        table = model.__table__
        assert isinstance(table, Table)
        self.columns = [
            c.name
            for c in table.columns
            if c is not table.autoincrement_column and c.name not in skip
        ]
        keys = list(keys or (c.name for c in table.primary_key))
        insert = upsert_insert(connection, table)
        if update:
            changes = {name: insert.excluded[name] for name in self.columns if name not in keys}
            insert = insert.on_conflict_do_update(index_elements=keys, set_=changes)
        else:
            insert = insert.on_conflict_do_nothing(index_elements=keys)
        compiled = insert.compile(dialect=connection.dialect, column_keys=self.columns)
        assert compiled.positiontup in (None, self.columns), "parameters in column order"
        self.connection, self.sql = connection, compiled.string
        self.named = not compiled.positional  # psycopg: dicts, sqlite3: tuples
        self.encoders = [
            (index, encode)
            for index, name in enumerate(self.columns)
            if (encode := _encoder(table.c[name], connection.dialect)) is not None
        ]

    def write(self, rows: list[Row]) -> None:
        if not rows:
            return
        if self.encoders:
            columns = list(zip(*rows, strict=True))
            for index, encode in self.encoders:
                columns[index] = tuple(map(encode, columns[index]))
            rows = list(zip(*columns, strict=True))
        if self.named:
            self.connection.exec_driver_sql(
                self.sql, [dict(zip(self.columns, row, strict=True)) for row in rows]
            )
        else:
            self.connection.exec_driver_sql(self.sql, rows)


def _encoder(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's own bind processing of the column, but SQLite's dates and instants
    (UTC) turned faster into the very text SQLAlchemy stores."""
    encode: Callable[[Any], Any]
    if dialect.name == "sqlite" and isinstance(column.type, UTCDateTime):
        encode = _sqlite_instant
    elif dialect.name == "sqlite" and isinstance(column.type, Date):
        encode = date.isoformat
    else:
        return column.type.dialect_impl(dialect).bind_processor(dialect)
    return (lambda value: None if value is None else encode(value)) if column.nullable else encode


def _sqlite_instant(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")[:26]  # without "+00:00"
