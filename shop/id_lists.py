"""A column among many values, as one bound parameter: a JSON array on SQLite (json_each),
an array on PostgreSQL (= ANY). One statement shape whatever the number of values, unlike an
IN list of a placeholder per value, each count of which is another statement to compile and
cache (shop.importer's lookups do the same in driver SQL)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.sql import any_


def ids_in(connection: Connection, column: Any, name: str = "ids") -> ColumnElement[bool]:
    """`column` among the values of the parameter `name` (give it `ids_param(...)`)."""
    if connection.dialect.name == "sqlite":
        values: Any = select(literal_column("value")).select_from(func.json_each(bindparam(name)))
        return column.in_(values)  # type: ignore[no-any-return]
    return column == any_(bindparam(name, type_=ARRAY(String)))  # type: ignore[no-any-return]


def ids_param(connection: Connection, ids: Collection[str]) -> object:
    return json.dumps(list(ids)) if connection.dialect.name == "sqlite" else list(ids)
