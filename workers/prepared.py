"""A statement compiled once per dialect and run on the connection's DBAPI cursor.

For the one write per delivered message. SQLAlchemy's Core `execute` spends ~80 µs of
Python per call (cache key, parameter processing, result object), four times what SQLite
takes to run the UPDATE itself. Here the SQL text, the parameter order and each
parameter's bind processor are worked out once, so values are still converted by their
column types (`UTCDateTime` still refuses a naive datetime and stores what the ORM reads
back), and the statement runs inside the connection's transaction, begun if needed, so
`connection.commit()` commits it with the rest of the message's writes; or, alone, as
its own transaction (`execute_committed`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.dml import UpdateBase


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter names, in order for a positional paramstyle
    positional: bool
    defaults: dict[str, Any]  # values the statement carries itself (`status == 'sending'`)
    processors: Mapping[str, Callable[[Any], Any]]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        merged = {**self.defaults, **values}
        converted = [self._convert(name, merged[name]) for name in self.names]
        return (
            tuple(converted) if self.positional else dict(zip(self.names, converted, strict=True))
        )

    def _convert(self, name: str, value: Any) -> Any:
        processor = self.processors.get(name)
        return value if processor is None or value is None else processor(value)


class Prepared:
    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._by_dialect: dict[tuple[str, str, str], _Compiled] = {}

    def execute(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Run with `values` (every bindparam the statement names) in the connection's
        transaction, begun if needed; the rows matched."""
        if not connection.in_transaction():
            connection.begin()
        return self._run(connection, values)

    def execute_committed(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """`execute`, then commit (with whatever the open transaction holds).

        Alone, on a driver that commits each statement by itself, the statement runs
        straight on it: SQLite under shop.db's pragmas outside a BEGIN (a lone write still
        waits out the busy timeout), or a connection in AUTOCOMMIT. That saves SQLAlchemy's
        begin and commit, about half of what recording a message costs on SQLite.
        """
        if connection.in_transaction() or not _autocommits(connection):
            matched = self.execute(connection, values)
            connection.commit()
            return matched
        return self._run(connection, values)

    def _run(self, connection: Connection, values: Mapping[str, Any]) -> int:
        dialect = connection.dialect
        compiled = self._by_dialect.get(_key(dialect)) or self._compile(dialect)
        dbapi_connection = connection.connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.parameters(values))
            return int(cursor.rowcount)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, cursor):
                connection.invalidate()  # as SQLAlchemy would: never back into the pool
            raise
        finally:
            cursor.close()

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        named = tuple(dict.fromkeys(compiled.bind_names.values()))
        names = tuple(compiled.positiontup or ()) if compiled.positional else named
        defaults: dict[str, Any] = {}
        processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            if not bind.required:
                defaults[name] = bind.effective_value
            # the dialect's own conversion (SQLite writes datetimes with microseconds)
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        prepared = _Compiled(compiled.string, names, compiled.positional, defaults, processors)
        self._by_dialect[_key(dialect)] = prepared
        return prepared


def _autocommits(connection: Connection) -> bool:
    """Whether the driver commits each statement itself: psycopg in autocommit, sqlite3
    without implicit BEGINs (`isolation_level = None`)."""
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        return getattr(driver, "isolation_level", "") is None
    return getattr(driver, "autocommit", False) is True


def _key(dialect: Dialect) -> tuple[str, str, str]:
    return dialect.name, dialect.driver, dialect.paramstyle
