"""The outcome write that skips SQLAlchemy's per-call work (`workers.prepared`) still
behaves like a Core execute: typed values, the caller's transaction, rows matched."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select, text

from shop.models import OutboxMessage
from tests.factories import ShopFactory
from workers import ledger

NOW = datetime(2026, 6, 15, 8, 30, 15, 123456, tzinfo=UTC)
TOKEN = "0123456789abcdef"


def _held_row(engine: Engine, shop: ShopFactory) -> int:
    customer = shop.customer()
    with engine.begin() as connection:
        return int(connection.execute(
            insert(OutboxMessage).returning(OutboxMessage.id),
            {"campaign": "birthday", "trigger": "birthday", "customer_id": customer,
             "channel": "email", "occasion": "birthday:2026", "status": ledger.SENDING,
             "context": {}, "run_date": date(2026, 6, 15), "due_at": NOW, "created_at": NOW,
             "updated_at": NOW, "attempts": 1, "priority": 0, "claim_token": TOKEN},
        ).scalar_one())  # fmt: skip


def test_an_outcome_reads_back_exactly_as_written(engine: Engine, shop: ShopFactory) -> None:
    outbox_id = _held_row(engine, shop)
    later = NOW + timedelta(minutes=5)
    with engine.connect() as connection:
        assert ledger.finish(connection, outbox_id, TOKEN, ledger.SENT, later, provider_id="SM1")
        connection.commit()
        assert not ledger.finish(connection, outbox_id, TOKEN, ledger.SENT, later)  # no longer held
    with engine.connect() as connection:
        row = connection.execute(select(OutboxMessage).where(OutboxMessage.id == outbox_id)).one()
    assert (row.status, row.sent_at, row.updated_at, row.provider_id, row.due_at) == (
        ledger.SENT,
        later,
        later,
        "SM1",
        NOW,
    )


def test_an_outcome_belongs_to_the_callers_transaction(engine: Engine, shop: ShopFactory) -> None:
    outbox_id = _held_row(engine, shop)
    with engine.connect() as connection:
        later = NOW + timedelta(minutes=1)
        assert ledger.finish(connection, outbox_id, TOKEN, ledger.RETRY, NOW,
                             reason="smtp_temporary", due_at=later)  # fmt: skip
        connection.rollback()
    with engine.connect() as connection:
        status = connection.scalar(
            select(OutboxMessage.status).where(OutboxMessage.id == outbox_id)
        )
    assert status == ledger.SENDING


def test_an_instant_on_the_second_is_stored_as_the_orm_stores_it(
    engine: Engine, shop: ShopFactory
) -> None:
    # SQLite compares datetimes as text: '… 12:00:00' and '… 12:00:00.000000' differ
    outbox_id = _held_row(engine, shop)
    on_the_second = NOW.replace(microsecond=0)
    with engine.connect() as connection:
        assert ledger.finish(connection, outbox_id, TOKEN, ledger.SENT, on_the_second)
        connection.commit()
        found = connection.scalar(
            select(OutboxMessage.id).where(OutboxMessage.sent_at == on_the_second)
        )
    assert found == outbox_id


def test_a_naive_instant_is_refused_as_by_the_orm(engine: Engine, shop: ShopFactory) -> None:
    outbox_id = _held_row(engine, shop)
    with engine.connect() as connection, pytest.raises(ValueError, match="naive datetime"):
        ledger.finish(connection, outbox_id, TOKEN, ledger.SENT, NOW.replace(tzinfo=None))


def test_a_dropped_database_connection_is_not_reused(engine: Engine, shop: ShopFactory) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a server that can drop the connection")
    outbox_id = _held_row(engine, shop)
    with engine.connect() as connection:
        backend = connection.scalar(text("SELECT pg_backend_pid()"))
        connection.commit()
        with engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(engine.dialect.loaded_dbapi.OperationalError):
            ledger.finish(connection, outbox_id, TOKEN, ledger.SENT, NOW)
        assert connection.invalidated  # the pool gets a fresh connection, not this one
