"""The next due batch is a range scan of the partial queue index, whatever the ledger
holds: reading and sorting every queued row for each batch made a large run quadratic."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from workers import ledger

NOW = datetime(2026, 6, 15, 8, tzinfo=UTC)


def _plan(engine: Engine, sql: str) -> str:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table
        return "\n".join(str(row[-1]) for row in connection.exec_driver_sql(prefix + sql))


def test_the_due_batch_reads_the_queue_index_in_order(engine: Engine) -> None:
    query = ledger.due_query(NOW, 200).compile(engine, compile_kwargs={"literal_binds": True})
    plan = _plan(engine, str(query))
    assert "ix_outbox_due" in plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan  # no sort: the index is the order
