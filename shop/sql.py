"""Small SQL helpers that keep the rest of the code dialect-free."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase


def upsert_insert(connection: Connection, model: type[DeclarativeBase] | Table) -> Any:
    """An INSERT of the connection's dialect that supports ON CONFLICT (SQLite, PostgreSQL)."""
    table = model if isinstance(model, Table) else model.__table__
    assert isinstance(table, Table)
    name = connection.dialect.name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"Leal supports SQLite and PostgreSQL, not {name}")
