"""`record_run` writes a plan's messages once, with what each message and its run carry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from campaigns.outbox import QUEUED, record_run
from campaigns.plan import ALREADY_IN_OUTBOX, PLANNED, Message, Plan
from shop.models import OutboxMessage
from tests.factories import ShopFactory, local
from triggers.base import RunContext

AT = local("2026-06-15 09:00")


def _plan(customers: list[str]) -> Plan:
    run = RunContext(at=AT, tz=ZoneInfo("Europe/Madrid"))
    messages = [
        Message("birthday", "birthday", customer, channel, "2026", 50,
                context={"first_name": f"Zoë {customer}", "since": "2026-06-01", "n": 3})
        for customer in customers
        for channel in ("email", "sms")
    ]  # fmt: skip
    messages[1].hold_out("holdout")  # kept in the ledger, never delivered
    return Plan(run, messages)


def test_a_plan_is_written_with_its_values_and_a_second_run_finds_it_taken(
    engine: Engine, shop: ShopFactory
) -> None:
    # given three customers and a plan of two messages each (one held out)
    customers = [shop.customer(f"c{n}") for n in range(3)]
    started = datetime(2026, 6, 15, 7, 0, 1, tzinfo=UTC)
    first = _plan(customers)
    # when it is recorded
    with engine.begin() as connection:
        run_id = record_run(connection, first, started)
    # then every message is in the outbox as planned, with the run's instant and date
    with Session(engine) as session:
        written = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [(m.customer_id, m.channel) for m in written] == [
        (m.customer_id, m.channel) for m in first.messages
    ]
    assert [m.status for m in written] == [QUEUED, "holdout", *[QUEUED] * 4]
    assert {m.run_id for m in written} == {run_id}
    assert {(m.run_date, m.due_at, m.created_at) for m in written} == {
        (date(2026, 6, 15), AT, started)
    }
    assert written[0].context == {"first_name": "Zoë c0", "since": "2026-06-01", "n": 3}
    assert all(m.status in (PLANNED, "holdout") for m in first.messages)
    # when another run records the same messages (it planned before the first wrote)
    second = _plan(customers)
    with engine.begin() as connection:
        record_run(connection, second, started)
        count = len(connection.execute(select(OutboxMessage.id)).all())
    # then nothing is written twice, and each message says another run wrote it
    assert count == 6
    assert {m.reason for m in second.messages} == {ALREADY_IN_OUTBOX}
