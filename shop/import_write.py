"""Writing an import's rows: INSERT … ON CONFLICT, straight through the driver.

SQLite: executemany of tuples to sqlite3 (SQLAlchemy's per-row parameter processing costs more
than SQLite's insert itself). PostgreSQL: a big file is COPYed, block by block, into a
temporary staging table and moved by one INSERT … SELECT … ON CONFLICT, as executemany costs
the server a statement per row; small imports (an event, a few rows) use executemany, where
making a staging table would cost more than it saves. Both paths write the same rows: the
first of two rows with one key wins where conflicts do nothing, the last where they update.

Rows arrive as the parsers write them (instants and dates as the text SQLite stores and COPY
reads), encoded by the parse helper where a path needs more (`encoders`: psycopg's
executemany binds datetimes).

An upsert updates a row only when a value differs, so importing the same files again rewrites
nothing (nor the customers' address-hash indexes, whose keys are random), and never updates
an erased customer. A row written once (an order) may still have `fill` columns: one still at
its initial value takes a later row's other value, once (an order's status leaves `placed`,
its delivery instant is set), and never changes again.

An order's earn entry (shop.loyalty.earn_entry) is computed by the database from the orders
the import just wrote, set-based, instead of a Python row per order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Date,
    Dialect,
    Table,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import distinct_on

from campaigns.config import LoyaltySettings
from shop.csv_rows import Lines, max_order_total
from shop.loyalty import points_for
from shop.models import Base, Order
from shop.sql import upsert_insert
from shop.types import UTCDateTime

Encoder = Callable[[Any], Any]
INT64_MAX = 2**63 - 1
EARN_COLUMNS = "customer_id, kind, points, on_date, at, expires_on, order_id"
ORDER_COLUMNS = ("id", "customer_id", "ordered_at", "local_date", "total_cents")  # earn reads
_POINTS_FUNCTION = "leal_points"


class Sink(Protocol):
    """Where one file's rows go: `columns` is the rows' order, `encoders` what the parse
    helper applies to them, `write` takes (line, row) pairs."""

    columns: list[str]
    encoders: list[tuple[int, Encoder]]

    def write(self, lines: Lines) -> None: ...


@dataclass(frozen=True)
class Target:
    """A table as one file writes it: its columns (the autoincrement id and `skip` left
    out), the conflict keys, and whether a conflict updates the row."""

    model: type[Base]
    keys: tuple[str, ...]
    update: bool = False
    skip: tuple[str, ...] = ()
    only_if: ColumnElement[bool] | None = None  # also needed for an update to happen
    # Without `update`: (column, its initial value) that a conflict may still fill, once
    fill: tuple[tuple[str, object], ...] = ()

    @property
    def table(self) -> Table:
        table = self.model.__table__
        assert isinstance(table, Table)
        return table

    @property
    def columns(self) -> list[str]:
        auto = self.table.autoincrement_column
        return [c.name for c in self.table.columns if c is not auto and c.name not in self.skip]


def sink(connection: Connection, target: Target, *, bulk: bool) -> Sink:
    """COPY for a big file on PostgreSQL, executemany otherwise."""
    if bulk and connection.dialect.name == "postgresql":
        return CopySink(connection, target)
    return ManySink(connection, target)


def order_sink(
    connection: Connection, target: Target, loyalty: LoyaltySettings, *, bulk: bool
) -> Sink:
    """Orders and their earn entries: on SQLite the entries are selected from the orders
    written since the last batch (by rowid), on PostgreSQL from the orders INSERT returns."""
    earn = _EarnSql(connection, loyalty)
    if connection.dialect.name == "sqlite":
        return _SqliteOrders(connection, target, earn)
    if bulk:
        return CopySink(connection, target, earn.after)
    return ManySink(connection, target, earn.after)


class ManySink:
    """INSERT … ON CONFLICT of many rows through the driver's executemany."""

    def __init__(
        self, connection: Connection, target: Target, wrap: Callable[[str], str] | None = None
    ) -> None:
        self.columns = target.columns
        self.encoders = encoders(target, connection.dialect, copy=False)
        values: dict[str, Any] = {name: bindparam(name) for name in self.columns}
        insert = upsert(connection, target, upsert_insert(connection, target.table).values(values))
        compiled = insert.compile(dialect=connection.dialect)
        assert compiled.positiontup in (None, self.columns), "parameters in column order"
        self.connection = connection
        self.sql = wrap(compiled.string) if wrap else compiled.string
        self.named = not compiled.positional  # psycopg: dicts, sqlite3: tuples

    def write(self, lines: Lines) -> None:
        if not lines:
            return
        if self.named:
            columns = self.columns
            parameters: Any = [dict(zip(columns, row, strict=True)) for _, row in lines]
        else:
            parameters = [row for _, row in lines]
        self.connection.exec_driver_sql(self.sql, parameters)


class CopySink:
    """PostgreSQL: COPY into a temporary staging table, then one INSERT … SELECT … ON
    CONFLICT. The staging table holds each row's line, so rows move in file order and,
    where a conflict updates, only the last row of a key is kept (one statement may not
    update a row twice)."""

    def __init__(
        self, connection: Connection, target: Target, wrap: Callable[[str], str] | None = None
    ) -> None:
        self.columns = target.columns
        self.encoders = encoders(target, connection.dialect, copy=True)
        self.cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        name = f"leal_stage_{target.table.name}"
        listed = ", ".join(self.columns)
        self.cursor.execute(
            f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS SELECT 0 AS leal_line, "  # noqa: S608 (our names)
            f"{listed} FROM {target.table.name} WITH NO DATA"
        )
        self.copy_sql = f"COPY {name} (leal_line, {listed}) FROM STDIN"
        self.truncate_sql = f"TRUNCATE {name}"
        stage = table(name, column("leal_line"), *(column(c) for c in self.columns))
        rows = select(*(stage.c[c] for c in self.columns))
        keys = [stage.c[key] for key in target.keys]
        if target.update:  # the last row of each key
            rows = rows.ext(distinct_on(*keys)).order_by(*keys, stage.c.leal_line.desc())
        elif target.fill:  # one row per key, as rows one after another would leave it
            rows = _first_filled(stage, target, keys)
        else:
            rows = rows.order_by(stage.c.leal_line)
        source = upsert_insert(connection, target.table).from_select(self.columns, rows)
        sql = upsert(connection, target, source).compile(dialect=connection.dialect).string
        self.sql = wrap(sql) if wrap else sql

    def write(self, lines: Lines) -> None:
        if not lines:
            return
        with self.cursor.copy(self.copy_sql) as copy:
            for line, row in lines:
                copy.write_row((line, *row))
        self.cursor.execute(self.sql)
        self.cursor.execute(self.truncate_sql)


def _first_filled(stage: Any, target: Target, keys: list[Any]) -> Any:
    """The staged rows of a `fill` target, one per key (one statement may not update a row
    twice): the first row's values, and for each fill column the first value in line order
    that is not the initial one, which is what those rows written one by one would leave."""
    line, initial = stage.c.leal_line, dict(target.fill)

    def first(name: str) -> Any:
        unset = _is(stage.c[name], initial[name])
        return func.first_value(stage.c[name]).over(partition_by=keys, order_by=(unset, line))

    picked = [first(name).label(name) if name in initial else stage.c[name]
              for name in target.columns]  # fmt: skip
    return select(*picked).ext(distinct_on(*keys)).order_by(*keys, line)


def _is(value: Any, initial: object) -> ColumnElement[bool]:
    """Written out, not bound: the statements are run with their rows' parameters only."""
    if initial is None:
        return value.is_(None)  # type: ignore[no-any-return]
    assert isinstance(initial, str) and "'" not in initial, "a plain text constant"
    return value == literal_column(f"'{initial}'")  # type: ignore[no-any-return]


def upsert(connection: Connection, target: Target, insert: Any) -> Any:
    """`insert` with the target's ON CONFLICT: nothing, or an update of the non-key columns
    when one of them differs (and `only_if` holds), or of the `fill` columns still at their
    initial value when the new row has another."""
    if target.fill:
        return _fill(target, insert)
    if not target.update:
        return insert.on_conflict_do_nothing(index_elements=target.keys)
    changed = [name for name in target.columns if name not in target.keys]
    columns, excluded = target.table.c, insert.excluded
    differs = or_(*(columns[name].is_distinct_from(excluded[name]) for name in changed))
    where = differs if target.only_if is None else and_(target.only_if, differs)
    return insert.on_conflict_do_update(
        index_elements=target.keys,
        set_={name: insert.excluded[name] for name in changed},
        where=where,
    )


def _fill(target: Target, insert: Any) -> Any:
    """ON CONFLICT: each fill column still at its initial value takes the new row's value;
    the row is updated only when one of them changes."""
    stored, excluded = target.table.c, insert.excluded
    unset = {name: _is(stored[name], initial) for name, initial in target.fill}
    changes = [and_(unset[name], ~_is(excluded[name], initial)) for name, initial in target.fill]
    return insert.on_conflict_do_update(
        index_elements=target.keys,
        set_={name: case((unset[name], excluded[name]), else_=stored[name]) for name in unset},
        where=or_(*changes),
    )


class _SqliteOrders:
    """Orders by executemany, then one INSERT … SELECT of the earn entries of the orders
    written since the last batch: rowids of a rowid table only grow."""

    def __init__(self, connection: Connection, target: Target, earn: _EarnSql) -> None:
        self.orders = ManySink(connection, target)
        self.columns, self.encoders = self.orders.columns, self.orders.encoders
        self.connection, self.earn_sql = connection, earn.since_rowid
        self.mark = self._last_rowid()

    def write(self, lines: Lines) -> None:
        if not lines:
            return
        self.orders.write(lines)
        self.connection.exec_driver_sql(self.earn_sql, (self.mark,))
        self.mark = self._last_rowid()

    def _last_rowid(self) -> int:
        return int(self.connection.exec_driver_sql("SELECT max(rowid) FROM orders").scalar() or 0)


class _EarnSql:
    """The earn entries of orders as SQL: floor(total_cents × rate) points in exact integer
    arithmetic, on the order's local date, expiring points_expire_days later."""

    def __init__(self, connection: Connection, loyalty: LoyaltySettings) -> None:
        assert set(ORDER_COLUMNS) <= set(Order.__table__.columns.keys())
        rate = loyalty.points_rate
        numerator, denominator = rate.numerator, rate.denominator
        days = loyalty.points_expire_days
        if connection.dialect.name == "postgresql":  # numeric: exact for any rate
            points = f"CAST(div(total_cents::numeric * {numerator}, {denominator}) AS integer)"
            expires = f"local_date + {days}"
        else:
            points = self._sqlite_points(connection, loyalty, numerator, denominator)
            expires = f"date(local_date, '+{days} days')"
        earned = (
            f"SELECT customer_id, 'earn', CASE WHEN total_cents > 0 THEN {points} ELSE 0 END,"
            f" local_date, ordered_at, {expires}, id"
        )
        insert = f"INSERT INTO loyalty_ledger ({EARN_COLUMNS}) "
        conflict = " ON CONFLICT (order_id) DO NOTHING"
        self.since_rowid = f"{insert}{earned} FROM orders WHERE rowid > ?{conflict}"
        self._from_new = f"{insert}{earned} FROM new{conflict}"

    def after(self, orders_insert: str) -> str:
        """PostgreSQL: the orders INSERT, then the entries of the orders it wrote."""
        returning = f" RETURNING {', '.join(ORDER_COLUMNS)}"
        return f"WITH new AS ({orders_insert}{returning}) {self._from_new}"

    @staticmethod
    def _sqlite_points(
        connection: Connection, loyalty: LoyaltySettings, numerator: int, denominator: int
    ) -> str:
        """SQLite's integers are 64-bit, and a product that overflows becomes a float: a rate
        whose product could overflow (a numerator of many digits) asks Python instead."""
        if max_order_total(loyalty) * numerator <= INT64_MAX:
            return f"total_cents * {numerator} / {denominator}"
        raw: Any = connection.connection.dbapi_connection
        raw.create_function(
            _POINTS_FUNCTION, 1, lambda total: points_for(total, loyalty), deterministic=True
        )
        return f"{_POINTS_FUNCTION}(total_cents)"


def encoders(target: Target, dialect: Dialect, *, copy: bool) -> list[tuple[int, Encoder]]:
    """Per column, what turns a parsed value into what the path takes (None: as it is)."""
    return [
        (index, encode)
        for index, name in enumerate(target.columns)
        if (encode := _encoder(target.table.c[name], dialect, copy)) is not None
    ]


def _encoder(column: Column[Any], dialect: Dialect, copy: bool) -> Encoder | None:
    """SQLite and COPY take the parsers' values as they are (instants and dates as text);
    psycopg's executemany gets datetimes and dates for them, and SQLAlchemy's own bind
    processing for the rest."""
    encode: Encoder
    if copy or dialect.name == "sqlite":
        return None
    if isinstance(column.type, UTCDateTime):
        encode = datetime.fromisoformat  # naive UTC, as UTCDateTime binds it
    elif isinstance(column.type, Date):
        encode = date.fromisoformat
    else:
        return column.type.dialect_impl(dialect).bind_processor(dialect)
    return (lambda value: None if value is None else encode(value)) if column.nullable else encode


def encoded(lines: Lines, encoders: Sequence[tuple[int, Encoder]]) -> Lines:
    """`lines` with each column's encoder applied, a column at a time."""
    if not lines or not encoders:
        return lines
    columns = list(zip(*(row for _, row in lines), strict=True))
    for index, encode in encoders:
        columns[index] = tuple(map(encode, columns[index]))
    return list(zip((line for line, _ in lines), zip(*columns, strict=True), strict=True))
