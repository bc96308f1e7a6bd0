"""The outbox ledger's delivery states, moved atomically: the ledger decides, not the broker.

queued | retry (due) --claim--> sending --finish--> sent | retry | failed | skipped

A claim is one UPDATE whose WHERE re-checks the state, so two workers (or a redelivered
task) can never both own a row: PostgreSQL skips rows another transaction holds
(`FOR UPDATE SKIP LOCKED`), SQLite serialises writers. A row left `sending` by a worker
that died is given back by `release_stale`.

Each claim writes a random token, the owner's name. A worker proves it still owns a row
right before sending it (`hold`, which also renews the claim), and every outcome write
names the token, so a worker whose row was given back to another can neither send it nor
overwrite the other's outcome.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    delete,
    func,
    or_,
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
WORKER_LOST = "worker_lost"


def new_token() -> str:
    """A claim's owner: 64 random bits, one per claimed batch."""
    return secrets.token_hex(8)


@dataclass
class Claim:
    """A batch one worker claims: its owner token, and the clock of its outcomes."""

    started: datetime  # the batch's `now`, on the caller's clock
    token: str = field(default_factory=new_token)
    _began: float = field(default_factory=time.monotonic)
    _renewed: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        """This moment: `started` plus the time elapsed since on the monotonic clock, so
        each outcome is stamped when it happened, and a test's injected instant still
        sets the timeline."""
        return self.started + timedelta(seconds=time.monotonic() - self._began)

    def renewal_due(self, every: timedelta) -> bool:
        """Whether the rest of the batch needs its claim renewed (then counted as done)."""
        if time.monotonic() - self._renewed < every.total_seconds():
            return False
        self._renewed = time.monotonic()
        return True


def claim(connection: Connection, ids: Sequence[int], now: datetime, token: str) -> list[int]:
    """Move the due, claimable rows among `ids` to `sending`, owned by `token`; returns the
    ones won."""
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
            claim_token=token,
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


_HOLD = Prepared(
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("outbox_id"),
        OutboxMessage.status == SENDING,
        OutboxMessage.claim_token == bindparam("token"),
    )
    .values(claimed_at=bindparam("now"))
)


def hold(connection: Connection, outbox_id: int, token: str, now: datetime) -> bool:
    """Right before sending: whether `token` still owns the row, renewing its claim if so.
    Committed here, before the send, it keeps `release_stale` off the row for the whole
    claim timeout, however long the batch before it took."""
    values = {"outbox_id": outbox_id, "token": token, "now": now}
    return _HOLD.execute_committed(connection, values) == 1


def renew(connection: Connection, ids: Sequence[int], token: str, now: datetime) -> int:
    """Renew the claim on the rows among `ids` that `token` still owns; returns how many."""
    if not ids:
        return 0
    renewed = connection.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == SENDING,
            OutboxMessage.claim_token == token,
        )
        .values(claimed_at=now)
    )
    return renewed.rowcount


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
        .where(
            OutboxMessage.id == bindparam("outbox_id"),
            OutboxMessage.claim_token == bindparam("token"),
            # Still held, or given back by recovery while this worker was sending it and
            # not claimed by another since: what was sent is recorded, not sent again.
            or_(OutboxMessage.status == SENDING, OutboxMessage.reason == WORKER_LOST),
        )
        .values(values)
    )


# Built and compiled once: a worker records thousands of outcomes, and SQLAlchemy's
# per-call work cost more than running the statement.
_FINISH = _finish_statement(provider=False)
_FINISH_WITH_PROVIDER_ID = _finish_statement(provider=True)


def finish(
    connection: Connection,
    outbox_id: int,
    token: str,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    detail: str | None = None,
    due_at: datetime | None = None,
    provider_id: str | None = None,
    commit: bool = False,
) -> bool:
    """Record the outcome of a row `token` holds; False if another owns it now. In the
    connection's transaction, or with `commit`, committed with it (or alone) at once."""
    if status not in (*FINAL, RETRY):
        raise ValueError(f"not an outcome: {status!r}")
    values = {
        "outbox_id": outbox_id,
        "token": token,
        "status": status,
        "reason": reason,
        "detail": detail,
        "now": now,
        "sent_at": now if status == SENT else None,
        "due_at": due_at,
    }
    statement = _FINISH
    if provider_id is not None and status == SENT:
        values["provider_id"] = provider_id
        statement = _FINISH_WITH_PROVIDER_ID
    run = statement.execute_committed if commit else statement.execute
    return run(connection, values) == 1


def defer(
    connection: Connection, outbox_id: int, token: str, until: datetime, now: datetime,
    reason: str,
) -> bool:  # fmt: skip
    """Give a row `token` holds back as `queued`, due at `until`; not an attempt."""
    done = connection.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.status == SENDING,
            OutboxMessage.claim_token == token,
        )
        .values(
            status=QUEUED,
            due_at=until,
            reason=reason,
            updated_at=now,
            attempts=OutboxMessage.attempts - 1,
        )
    )
    return done.rowcount == 1


def release_stale(
    connection: Connection, claimed_before: datetime, now: datetime, *,
    max_attempts: int = MAX_ATTEMPTS,
) -> int:  # fmt: skip
    """Give rows stuck in `sending` since before `claimed_before` back as `retry`.

    A worker sends its batch in id order, so of each batch a dead worker left (the rows of
    one claim token) the first still `sending` is the one it was on: that row keeps its
    attempt, the rest never left and get theirs back. The row in flight fails once it
    has used every attempt, so a message that kills its worker cannot loop forever, and
    the rows batched with it are not charged for it.
    """
    stale = (text(SENDING_SQL), OutboxMessage.claimed_at < claimed_before)
    batch = aliased(OutboxMessage)
    in_flight = (
        select(func.min(batch.id))
        .where(batch.status == SENDING, batch.claim_token == OutboxMessage.claim_token)
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
            reason=WORKER_LOST,
            detail="the worker was lost during the last attempt",
            updated_at=now,
        )
    )
    retried = connection.execute(
        update(OutboxMessage).where(*stale).values(status=RETRY, reason=WORKER_LOST, updated_at=now)
    )
    return failed.rowcount + retried.rowcount
