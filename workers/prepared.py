"""A statement compiled once per dialect and run on the connection's DBAPI cursor.

For the one write per delivered message. SQLAlchemy's Core `execute` spends ~80 µs of
Python per call (cache key, parameter processing, result object), four times what SQLite
takes to run the UPDATE itself. Here the SQL text, the parameter order and each
parameter's bind processor are worked out once, so values are still converted by their
column types (`UTCDateTime` still refuses a naive datetime and stores what the ORM reads
back), and the statement runs inside the connection's transaction, begun if needed, so
`connection.commit()` commits it with the rest of the message's writes.
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
        """Run with `values` (every bindparam the statement names); the rows matched."""
        dialect = connection.dialect
        compiled = self._by_dialect.get(_key(dialect)) or self._compile(dialect)
        if not connection.in_transaction():
            connection.begin()
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


def _key(dialect: Dialect) -> tuple[str, str, str]:
    return dialect.name, dialect.driver, dialect.paramstyle
