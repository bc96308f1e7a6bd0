"""`leal import DIR`: a streaming, idempotent CSV import of the shop's data.

The files load in dependency order, in one transaction, a block of rows at a time: each block
is parsed (`shop.csv_rows`; by a helper process for a big import, `shop.import_parse`), its
references are checked with one query per referenced table (rows imported earlier in the run
count), and it is written with INSERT … ON CONFLICT (`shop.import_write`: executemany, or COPY
on PostgreSQL), so importing the same files again changes nothing and memory stays flat
however long the files are. Each order's earn entry is written by the database from the
orders just written, and so are the entries of the loyalty columns and of interactions
(`shop.import_loyalty`: redemptions checked against the balance, reversals of cancelled
orders, points for interactions). Bad rows are reported as `file:line: reason` and skipped;
with `strict`, any problem rolls the whole import back.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index, Table, func, literal, select

from campaigns.config import Settings
from shop.carts import refresh_carts
from shop.csv_rows import COLUMNS, COUPON_COLUMNS, OPTIONAL, Lines, show
from shop.db import writer
from shop.import_consent import CustomerGuard
from shop.import_csv import CsvBlocks
from shop.import_loyalty import OrderLoyalty, book_bonuses
from shop.import_parse import FilePlan, Prepare, parsed_files
from shop.import_write import Sink, Target, encoded, order_sink, sink
from shop.models import (
    PLACED,
    Base,
    CartEvent,
    Customer,
    Interaction,
    LedgerEntry,
    Order,
    OrderItem,
    Product,
)
from shop.purchases import PurchaseTracker
from shop.redemptions import mark_redemptions
from shop.stats import refresh_customer_stats

# Per file: (position in the parsed row, CSV column, the column it must exist in).
REFERENCES: dict[str, tuple[tuple[int, str, Any], ...]] = {
    "interactions": ((1, "customer_id", Customer.id),),
    "orders": ((1, "customer_id", Customer.id),),
    "order_items": ((0, "order_id", Order.id), (1, "sku", Product.sku)),
    "cart_events": ((1, "customer_id", Customer.id), (2, "sku", Product.sku)),
}
# What each file writes. An import never sets erased_at (Leal's own) nor touches an erased
# customer's row: their personal data does not come back.
TARGETS = {
    "customers": Target(
        Customer, ("id",), update=True, skip=("erased_at",), only_if=Customer.erased_at.is_(None)
    ),
    "interactions": Target(Interaction, ("id",)),
    "products": Target(Product, ("sku",), update=True),
    "orders": Target(Order, ("id",)),  # its columns depend on the file's (_orders_target)
    "order_items": Target(OrderItem, ("order_id", "sku"), update=True),
    "cart_events": Target(CartEvent, ("cart_id", "sku", "at")),
}
# The order columns the optional ones fill (csv_rows.OPTIONAL): a file without them leaves
# them out, to the database's defaults, and is written as it was before they existed.
COUPON_FILLED = ("coupon_code", "discount_cents")
LOYALTY_FILLED = ("status", "points_redeemed", "delivered_at")
# An order is written once, but its status may still leave `placed` and its delivery be set.
ORDER_FILL: tuple[tuple[str, object], ...] = (("status", PLACED), ("delivered_at", None))
BULK_BYTES = 1 << 20  # files from this size go through COPY on PostgreSQL


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
    phases: dict[str, float] = field(default_factory=dict)  # after the files: seconds each


def import_dir(
    engine: Engine,
    directory: Path,
    settings: Settings,
    *,
    strict: bool = False,
    on: date | None = None,
    at: datetime | None = None,
) -> ImportReport:
    """Import the CSV files in `directory`; customer summaries are computed as of `on`
    (a shop-local date; default today), and what the files say happened (an order
    cancelled) is learned at the instant `at` (default now). With `strict`, write nothing
    if anything is bad."""
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
        _import_pragmas(connection),
        connection.begin() as transaction,
    ):
        deferred = _DeferredIndexes(connection)
        loader = _Loader(connection, settings, report, deferred, at or datetime.now(UTC))
        files = [_File(name, directory / f"{name}.csv") for name in COLUMNS]  # in order
        loader.load([file for file in files if file.path.is_file()])
        if strict and report.problems:
            transaction.rollback()
        else:
            with _timed(report, "indexes"):
                deferred.rebuild()
            with _timed(report, "redemptions"):
                loader.mark_redemptions()
            with _timed(report, "summaries"):
                loader.refresh_summaries(on or datetime.now(settings.shop.tz).date())
            with _timed(report, "commit"):
                transaction.commit()
            report.committed = True
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def _timed(report: ImportReport, phase: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        report.phases[phase] = time.perf_counter() - started


# SQLite settings of the import connection, set before its transaction and restored after.
# Memory stays flat in the size of the shop. The page cache holds the B-tree pages inserts
# touch: the right edges of the tables and indexes rows are appended to, and the customers'
# key index that references probe (25 MB at 1M customers); a bigger one buys nothing here.
# The index builds at the end sort in memory up to the cache's size per sorting thread, so
# they get a smaller cache (SORT_CACHE_KIB), and spill to temporary files: FILE, as under
# MEMORY the sort of ten million ledger rows is all RAM (the 2.6 GB of issue 10). Two more
# threads sort while the first reads the table (the parse helpers are done by then). At 1M
# customers, the ledger's `at` index: 64 MiB per sort 6.6 s, 16 MiB 5.6 s, 256 MiB slower.
IMPORT_PRAGMAS = {"cache_size": -(64 << 10), "temp_store": 1, "threads": 2}
SORT_CACHE_KIB = 16 << 10


@contextmanager
def _import_pragmas(connection: Connection) -> Iterator[None]:
    if connection.dialect.name != "sqlite":
        yield
        return
    raw: Any = connection.connection.dbapi_connection  # beside SQLAlchemy's transaction
    usual = {name: raw.execute(f"PRAGMA {name}").fetchone()[0] for name in IMPORT_PRAGMAS}
    for name, value in IMPORT_PRAGMAS.items():
        raw.execute(f"PRAGMA {name}={int(value)}")
    try:
        yield
    finally:
        for name, value in usual.items():
            raw.execute(f"PRAGMA {name}={int(value)}")


@dataclass
class _File:
    """One import file: its report, and what its header said."""

    name: str
    path: Path
    report: FileReport = field(init=False)
    plan: FilePlan | None = None
    sink: Sink | None = None
    loyalty: OrderLoyalty | None = None  # an orders file with loyalty columns
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.report = FileReport(self.path.name)


class _Loader:
    """One import on one connection: parsers, writers and the report they fill."""

    def __init__(
        self,
        connection: Connection,
        settings: Settings,
        report: ImportReport,
        deferred: _DeferredIndexes,
        at: datetime,
    ) -> None:
        self.connection, self.settings, self.report = connection, settings, report
        self.deferred, self.at = deferred, at
        self.customers = CustomerGuard(
            connection, TARGETS["customers"].columns, settings.shop.default_phone_region
        )
        # Earn entries written by this run have larger ids: they name the touched customers.
        self.ledger_before = connection.scalar(select(func.max(LedgerEntry.id))) or 0
        self.cart_events_before = connection.scalar(select(func.max(CartEvent.id))) or 0
        self.orders_written = False
        self.ledger_written = False  # besides orders' entries: interactions' points
        self.purchases = PurchaseTracker(connection)
        self.lookups: dict[Any, _Lookup] = {}

    def load(self, files: list[_File]) -> None:
        """Every file, in order: headers first (the parse helper needs every plan)."""
        for file in files:
            self._plan(file)
        plans = [file.plan for file in files if file.plan is not None]
        with parsed_files(plans, self.settings) as parsed:
            for file in files:
                self.report.files.append(file.report)
                self.report.problems += file.problems
                self.report.warnings += file.warnings
                if file.plan is None:
                    continue
                started = time.perf_counter()
                plan, batches = next(parsed)
                assert plan is file.plan
                for good, bad in batches:
                    self._batch(file, good, bad)
                self._settle(file)
                file.report.seconds = time.perf_counter() - started

    def _plan(self, file: _File) -> None:
        """The file's header checked; its sink and parse plan when it is usable."""
        layout = self._header(file)
        if layout is None:
            return
        columns, width, optional = layout
        bulk = file.path.stat().st_size >= BULK_BYTES
        target = TARGETS[file.name]
        if file.name == "orders":
            target = _orders_target(target, optional)
            file.sink = order_sink(self.connection, target, self.settings.loyalty, bulk=bulk)
            if target.fill:
                file.loyalty = OrderLoyalty(
                    self.connection, file.sink.columns, self.settings.loyalty,
                    self.settings.shop.tz, self.at,
                )  # fmt: skip
        else:
            file.sink = sink(self.connection, target, bulk=bulk)
        prepare = self._prepare(file, file.sink)
        file.plan = FilePlan(file.name, file.path, columns, width, prepare, optional)

    def _prepare(self, file: _File, writes: Sink) -> Prepare:
        """What the parse helper does to a block's good rows after parsing them."""
        encoders, guard = writes.encoders, self.customers
        if file.name == "customers":
            return lambda lines: encoded(guard.with_keys(lines), encoders)
        return lambda lines: encoded(lines, encoders)

    def _header(self, file: _File) -> tuple[tuple[int, ...], int, tuple[str, ...]] | None:
        """Where each expected column is (then each optional one the header has), how many
        there are, and which optional ones; None (and problems) when the file is unusable."""
        try:
            with file.path.open("rb") as handle:
                header = CsvBlocks(handle).header()
        except csv.Error as error:
            file.problems.append(f"{file.path}:1: not valid CSV ({error})")
            return None
        if not header:
            file.problems.append(f"{file.path}:1: the file is empty (a header row is needed)")
            return None
        names = [column.strip() for column in header]
        required = COLUMNS[file.name]
        optional = tuple(column for column in OPTIONAL.get(file.name, ()) if column in names)
        wanted = (*required, *optional)
        problems = [f"missing column {column}" for column in required if column not in names]
        problems += [
            f"column {column} appears twice" for column in wanted if names.count(column) > 1
        ]
        file.problems += [f"{file.path}:1: {problem}" for problem in problems]
        if problems:
            return None
        if extra := [column or "(unnamed)" for column in names if column not in wanted]:
            file.warnings.append(f"{file.path}:1: extra columns ignored: {', '.join(extra)}")
        return tuple(names.index(column) for column in wanted), len(names), optional

    def _batch(self, file: _File, good: Lines, bad: Lines) -> None:
        assert file.sink is not None
        total = len(good) + len(bad)
        for position, column, target in REFERENCES.get(file.name, ()):
            good = self._known(good, bad, position, column, target)
        if file.name == "customers":
            good = self.customers.rows(good, file.path, self.report.warnings)
        if file.loyalty is not None:
            good = file.loyalty.aside(good)  # the rows that redeem points: at the file's end
        file.sink.write(good)
        if file.loyalty is not None:
            file.loyalty.written(good)
        if file.name == "interactions" and good:
            book_bonuses(self.connection, {row[0] for _, row in good}, self.settings.loyalty)
            self.ledger_written = True
        if file.name == "order_items":
            self.purchases.lines_written([row[0] for _, row in good])
        if file.name == "orders" and good:
            self.orders_written = True
        file.report.rows += total
        file.report.imported += len(good)
        file.report.bad += len(bad)
        self.report.problems += [f"{file.path}:{line}: {reason}" for line, reason in sorted(bad)]

    def _settle(self, file: _File) -> None:
        """The rows of an orders file that redeem points, checked and written at its end."""
        if file.loyalty is None or not file.loyalty.staged:
            return
        assert file.sink is not None
        self.deferred.rebuild(LedgerEntry)  # the check reads its customers' entries
        written, refused = file.loyalty.settle(file.sink.write)
        file.report.imported += written
        file.report.bad += len(refused)
        self.report.problems += [
            f"{file.path}:{line}: {reason}" for line, reason in sorted(refused)
        ]
        self.orders_written = self.orders_written or written > 0

    def _known(self, good: Lines, bad: Lines, position: int, column: str, target: Any) -> Lines:
        """The rows whose reference exists; the others become bad rows."""
        wanted = {row[position] for _, row in good}
        lookup = self.lookups.get(target)
        if lookup is None:
            lookup = self.lookups[target] = _Lookup(self.connection, target)
        if not wanted or lookup.count(wanted) == len(wanted):
            return good  # the usual case, answered by a count
        found = lookup.found(wanted)
        kept: Lines = []
        for line, row in good:
            if row[position] in found:
                kept.append((line, row))
            else:
                bad.append((line, f"unknown {column} {show(row[position])}"))
        return kept

    def mark_redemptions(self) -> None:
        """Coupons redeemed by the orders this import wrote, named by their earn entries
        (every order, on a first import)."""
        if not self.orders_written:
            return
        written = None
        if self.ledger_before:
            written = select(LedgerEntry.order_id).where(LedgerEntry.id > self.ledger_before)
        mark_redemptions(self.connection, written, self.settings.shop.tz)

    def refresh_summaries(self, on: date) -> None:
        """Summaries of the customers with new ledger entries (new orders, reversals,
        redemptions, interactions) and of the carts with new events (all of them on a first
        import). New rows have ids above the ones before."""
        if self.orders_written or self.ledger_written:
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


class _Lookup:
    """Which of many values exist in a column, by one statement whatever their number: a
    JSON array on SQLite (json_each), an array on PostgreSQL (= ANY). Not an IN list of a
    placeholder per value, in driver SQL as SQLAlchemy's expanding IN costs more per value
    than the lookup itself, and not one per count of values either: each such statement
    stays compiled in the driver's cache (at 1M customers, 60 MB of cart events' lookups)."""

    def __init__(self, connection: Connection, target: Any) -> None:
        quote = connection.dialect.identifier_preparer
        table, column = quote.format_table(target.table), quote.quote(target.name)
        if connection.dialect.name == "sqlite":
            where = f"{column} IN (SELECT value FROM json_each(?))"  # noqa: S608 (our names)
            self.values: Callable[[set[str]], Any] = lambda values: json.dumps(list(values))
        else:
            where = f"{column} = ANY(%s)"
            self.values = list
        self.connection = connection
        self.count_sql = f"SELECT count(*) FROM {table} WHERE {where}"  # noqa: S608 (our names)
        self.found_sql = f"SELECT {column} FROM {table} WHERE {where}"  # noqa: S608

    def count(self, values: set[str]) -> int:
        found = self.connection.exec_driver_sql(self.count_sql, (self.values(values),))
        return int(found.scalar_one())

    def found(self, values: set[str]) -> set[str]:
        found = self.connection.exec_driver_sql(self.found_sql, (self.values(values),))
        return set(found.scalars())


class _DeferredIndexes:
    """The non-unique indexes of empty tables, dropped for a first bulk load and built
    again at its end: one sorted build costs far less than millions of random inserts
    into B-trees bigger than the cache. Unique ones stay: ON CONFLICT needs them; partial
    ones too: they hold few rows (none an import writes, for the ledger's spend index), and
    building one reads the whole table. DDL is transactional on SQLite and PostgreSQL, so
    a rolled-back import keeps its indexes."""

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
                if not index.unique and not _partial(index):
                    index.drop(connection)
                    self.dropped.append(index)

    def rebuild(self, *only: type[Base]) -> None:
        """The dropped indexes (`only` those of these tables: before the import's end, when
        it must read them, and back to the import's cache afterwards)."""
        tables = {model.__table__ for model in only}
        wanted = [index for index in self.dropped if not only or index.table in tables]
        if not wanted:
            return
        sqlite = self.connection.dialect.name == "sqlite"
        if sqlite:
            self.connection.exec_driver_sql(f"PRAGMA cache_size=-{SORT_CACHE_KIB}")
        for index in wanted:
            index.create(self.connection)
        self.dropped = [index for index in self.dropped if index not in wanted]
        if sqlite and only:
            self.connection.exec_driver_sql(f"PRAGMA cache_size={IMPORT_PRAGMAS['cache_size']}")


def _orders_target(target: Target, optional: tuple[str, ...]) -> Target:
    """Orders as the file's optional columns fill them: with a loyalty one, every column and
    the fill of status and delivery on a conflict; else without the loyalty columns (and
    without the coupon ones when the file has none), written once as before."""
    if set(optional) - set(COUPON_COLUMNS):
        return replace(target, fill=ORDER_FILL)
    skipped = LOYALTY_FILLED if optional else (*COUPON_FILLED, *LOYALTY_FILLED)
    return replace(target, skip=(*target.skip, *skipped))


def _partial(index: Index) -> bool:
    return any(
        index.dialect_options[dialect]["where"] is not None for dialect in ("sqlite", "postgresql")
    )
