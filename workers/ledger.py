"""The outbox ledger's delivery states, moved atomically: the ledger decides, not the broker.

queued | retry (due) --claim--> sending --finish--> sent | retry | failed | skipped

A claim is one UPDATE whose WHERE re-checks the state, so two workers (or a redelivered
task) can never both own a row: PostgreSQL skips rows another transaction holds
(`FOR UPDATE SKIP LOCKED`), SQLite serialises writers. A row left `sending` by a worker
that died is given back by `release_stale`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import aliased

from shop.models import CLAIMABLE_SQL, SENDING_SQL, CampaignPause, OutboxMessage
from shop.sql import upsert_insert
from shop.types import UTCDateTime
from workers.prepared import Prepared

QUEUED, SENDING, SENT = "queued", "sending", "sent"
RETRY, FAILED, SKIPPED = "retry", "failed", "skipped"
CLAIMABLE = (QUEUED, RETRY)
RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=6))
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
FINAL = (SENT, FAILED, SKIPPED)


def claim(connection: Connection, ids: Sequence[int], now: datetime) -> list[int]:
    """Move the due, claimable rows among `ids` to `sending`; returns the ones won."""
    if not ids:
        return []
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status.in_(CLAIMABLE),
            OutboxMessage.due_at <= now,
            _not_paused(),
        )
        .with_for_update(skip_locked=True)  # ignored by SQLite, which serialises writers
    )
    won = connection.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()), OutboxMessage.status.in_(CLAIMABLE))
        .values(
            status=SENDING,
            claimed_at=now,
            updated_at=now,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage.id)
    )
    return sorted(won.scalars())


def _not_paused() -> ColumnElement[bool]:
    return OutboxMessage.campaign.not_in(select(CampaignPause.campaign))


def pause(connection: Connection, campaign: str, reason: str, now: datetime) -> None:
    """Stop delivering `campaign` until it is resumed (idempotent)."""
    insert = upsert_insert(connection, CampaignPause).on_conflict_do_nothing(
        index_elements=["campaign"]
    )
    connection.execute(insert, {"campaign": campaign, "paused_at": now, "reason": reason[:500]})


def resume(connection: Connection, campaign: str) -> bool:
    done = connection.execute(delete(CampaignPause).where(CampaignPause.campaign == campaign))
    return done.rowcount == 1


def due_ids(connection: Connection, now: datetime, limit: int) -> list[int]:
    """Claimable rows whose time has come, oldest first."""
    return list(connection.scalars(due_query(now, limit)))


def due_query(now: datetime, limit: int) -> Select[int]:
    """A range scan of the partial queue index (`ix_outbox_due`), already in order."""
    return (
        select(OutboxMessage.id)
        .where(text(CLAIMABLE_SQL), OutboxMessage.due_at <= now, _not_paused())
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )


def _finish_statement(*, provider: bool) -> Prepared:
    values = {
        "status": bindparam("status"),
        "reason": bindparam("reason"),
        "detail": bindparam("detail"),
        "updated_at": bindparam("now"),
        "sent_at": func.coalesce(bindparam("sent_at", type_=UTCDateTime()), OutboxMessage.sent_at),
        "due_at": func.coalesce(bindparam("due_at", type_=UTCDateTime()), OutboxMessage.due_at),
    }
    if provider:  # only when there is one: an assigned column is an index entry rewritten
        values["provider_id"] = bindparam("provider_id")
    return Prepared(
        update(OutboxMessage)
        .where(OutboxMessage.id == bindparam("outbox_id"), OutboxMessage.status == SENDING)
        .values(values)
    )


# Built and compiled once: a worker records thousands of outcomes, and SQLAlchemy's
# per-call work cost more than running the statement.
_FINISH = _finish_statement(provider=False)
_FINISH_WITH_PROVIDER_ID = _finish_statement(provider=True)


def finish(
    connection: Connection,
    outbox_id: int,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    detail: str | None = None,
    due_at: datetime | None = None,
    provider_id: str | None = None,
) -> bool:
    """Record the outcome of a row this worker holds; False if it no longer holds it."""
    if status not in (*FINAL, RETRY):
        raise ValueError(f"not an outcome: {status!r}")
    values = {
        "outbox_id": outbox_id,
        "status": status,
        "reason": reason,
        "detail": detail,
        "now": now,
        "sent_at": now if status == SENT else None,
        "due_at": due_at,
    }
    if provider_id is not None and status == SENT:
        values["provider_id"] = provider_id
        return _FINISH_WITH_PROVIDER_ID.execute(connection, values) == 1
    return _FINISH.execute(connection, values) == 1


def defer(
    connection: Connection, outbox_id: int, until: datetime, now: datetime, reason: str
) -> bool:
    """Give a held row back as `queued`, due at `until`; a deferral is not an attempt."""
    done = connection.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.status == SENDING)
        .values(
            status=QUEUED,
            due_at=until,
            reason=reason,
            updated_at=now,
            attempts=OutboxMessage.attempts - 1,
        )
    )
    return done.rowcount == 1


def provider_update(
    connection: Connection, provider_id: str, delivered: bool, detail: str, now: datetime
) -> int | None:
    """A provider's later word on a sent message (a status callback); the row's id, or None.
    An undelivered message becomes `failed`; a delivered one stays `sent`."""
    values: dict[str, object] = {"detail": detail[:500], "updated_at": now}
    if not delivered:
        values.update(status=FAILED, reason="undelivered")
    row = connection.execute(
        update(OutboxMessage)
        .where(OutboxMessage.provider_id == provider_id, OutboxMessage.status.in_((SENT, FAILED)))
        .values(**values)
        .returning(OutboxMessage.id)
    ).first()
    return None if row is None else int(row[0])


def release_stale(
    connection: Connection, claimed_before: datetime, now: datetime, *,
    max_attempts: int = MAX_ATTEMPTS,
) -> int:  # fmt: skip
    """Give rows stuck in `sending` since before `claimed_before` back as `retry`.

    A worker sends its batch in id order, so of each batch a dead worker left (the rows it
    claimed at one instant) the first still `sending` is the one it was on: that row keeps
    its attempt, the rest never left and get theirs back. The row in flight fails once it
    has used every attempt, so a message that kills its worker cannot loop forever, and
    the rows batched with it are not charged for it.
    """
    stale = (text(SENDING_SQL), OutboxMessage.claimed_at < claimed_before)
    batch = aliased(OutboxMessage)
    in_flight = (
        select(func.min(batch.id))
        .where(batch.status == SENDING, batch.claimed_at == OutboxMessage.claimed_at)
        .scalar_subquery()
    )
    connection.execute(
        update(OutboxMessage)
        .where(*stale, OutboxMessage.id > in_flight)
        .values(attempts=OutboxMessage.attempts - 1)
    )
    failed = connection.execute(
        update(OutboxMessage)
        .where(*stale, OutboxMessage.attempts >= max_attempts)
        .values(
            status=FAILED,
            reason="worker_lost",
            detail="the worker was lost during the last attempt",
            updated_at=now,
        )
    )
    retried = connection.execute(
        update(OutboxMessage)
        .where(*stale)
        .values(status=RETRY, reason="worker_lost", updated_at=now)
    )
    return failed.rowcount + retried.rowcount
