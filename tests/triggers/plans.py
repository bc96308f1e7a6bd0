"""The database's query plan of a trigger's SQL, to hold that it reads its indexes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from triggers import TRIGGERS
from triggers.base import RunContext


class Explain(Executable, ClauseElement):
    """EXPLAIN (QUERY PLAN) of a statement, its parameters bound as usual."""

    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(Explain)
def _explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN" if compiler.dialect.name == "sqlite" else "EXPLAIN"
    return f"{prefix} {compiler.process(element.statement, **kw)}"


def query_plan(engine: Engine, trigger: str, run: RunContext, **params: Any) -> str:
    """The plan's text. PostgreSQL is told to avoid sequential scans: the test tables are
    tiny, where a scan wins; at scale its statistics pick the indexes (docs/performance.md)."""
    spec = TRIGGERS[trigger]
    query = spec.candidates(spec.params(**params), run)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return " | ".join(str(row[-1]) for row in connection.execute(Explain(query)))
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # this transaction only
        plan = " | ".join(str(row[0]) for row in connection.execute(Explain(query)))
        connection.rollback()
        return plan
