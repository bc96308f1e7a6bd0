"""Writing the plan to the outbox ledger, once.

Planned messages are queued; held-out ones are kept with status `holdout` (never claimed,
so never delivered) for the report to compare. Rows are inserted with ON CONFLICT DO NOTHING
on (campaign, customer, channel, occasion): a re-run, or two overlapping runs, cannot add a
message twice. A message another run wrote first is reported as skipped,
`already_in_outbox`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from campaigns.plan import ALREADY_IN_OUTBOX, PLANNED, Message, Plan
from shop.models import OutboxMessage, Run
from shop.sql import upsert_insert

QUEUED = "queued"
_BATCH = 2000


def record_run(connection: Connection, plan: Plan, started_at: datetime) -> int:
    """Insert the Run row and the plan's messages; returns the run id."""
    run_id: int = connection.execute(
        insert(Run).returning(Run.id),
        {
            "at": plan.run.at,
            "run_date": plan.run.run_date,
            "started_at": started_at,
            "finished_at": None,
            "summary": {},
        },
    ).scalar_one()
    recorded = plan.recorded
    for start in range(0, len(recorded), _BATCH):
        _insert_batch(connection, recorded[start : start + _BATCH], plan, run_id, started_at)
    return run_id


def _insert_batch(
    connection: Connection, batch: Sequence[Message], plan: Plan, run_id: int, now: datetime
) -> None:
    rows = [_row(message, plan, run_id, now) for message in batch]
    statement = (
        upsert_insert(connection, OutboxMessage)
        .on_conflict_do_nothing(index_elements=["campaign", "customer_id", "channel", "occasion"])
        .returning(
            OutboxMessage.campaign,
            OutboxMessage.customer_id,
            OutboxMessage.channel,
            OutboxMessage.occasion,
        )
    )
    inserted = {tuple(row) for row in connection.execute(statement, rows)}
    for message in batch:
        if message.key not in inserted:
            message.skip(ALREADY_IN_OUTBOX)


def _row(message: Message, plan: Plan, run_id: int, now: datetime) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "campaign": message.campaign,
        "trigger": message.trigger,
        "customer_id": message.customer_id,
        "channel": message.channel,
        "occasion": message.occasion,
        "priority": message.priority,
        "status": QUEUED if message.status == PLANNED else message.status,
        "reason": message.reason,
        "context": message.context,
        "run_date": plan.run.run_date,
        "due_at": plan.run.at,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
    }


__all__ = ["QUEUED", "record_run"]
