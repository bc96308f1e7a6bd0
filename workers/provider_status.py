"""A provider's later word on a sent message (Twilio's status callbacks), applied in order.

Callbacks arrive out of order and more than once, so each state has a rank and a row
only moves up: a late `sent` or `queued` never overwrites `delivered`. The ledger row
follows the provider's latest word:

- `failed`, `undelivered`, `canceled`: the row becomes `failed`, reason `undelivered`.
- `delivered` (or `read`) ranks above them: it reached the phone, so a `delivered` that
  comes after an `undelivered` is recorded truthfully: the row is `sent` again with no
  reason. A suppression the earlier callback caused stays (stopping texts to a number is
  the safe side; an operator can lift it).
- `accepted`, `queued`, `sending`, `sent` only record the provider status: the row is
  already `sent`.

The rank check is in the UPDATE's WHERE, so two callbacks racing each other cannot
apply out of order either (PostgreSQL re-checks the WHERE on the row it locked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, case, select, update

from shop.models import OutboxMessage
from workers.ledger import FAILED, SENT

RANKS = {
    "accepted": 1, "scheduled": 1, "queued": 1,
    "sending": 2,
    "sent": 3,
    "failed": 4, "undelivered": 4, "canceled": 4,
    "delivered": 5,
    "read": 6,
}  # fmt: skip
NOT_DELIVERED = frozenset({"failed", "undelivered", "canceled"})
REACHED = frozenset({"delivered", "read"})


@dataclass(frozen=True)
class ProviderUpdate:
    outbox_id: int  # the ledger row the provider's id belongs to
    applied: bool  # False when the row already holds a later state


def apply_provider_status(
    connection: Connection, provider_id: str, state: str, detail: str, now: datetime
) -> ProviderUpdate | None:
    """Record `state` on the sent row with `provider_id`; None if no such row (or an
    unknown state, which is ignored: a provider's new word must not fail a callback)."""
    rank = RANKS.get(state)
    if rank is None or not provider_id:
        return None
    ours = (OutboxMessage.provider_id == provider_id, OutboxMessage.status.in_((SENT, FAILED)))
    row_id = connection.scalar(select(OutboxMessage.id).where(*ours).limit(1))
    if row_id is None:
        return None
    applied = connection.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, *ours, _rank_of_current() < rank)
        .values(_values(state, detail, now))
    )
    return ProviderUpdate(int(row_id), applied.rowcount == 1)


def _values(state: str, detail: str, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {"provider_status": state, "detail": detail[:500],
                                 "updated_at": now}  # fmt: skip
    if state in NOT_DELIVERED:
        values.update(status=FAILED, reason="undelivered")
    elif state in REACHED:
        values.update(status=SENT, reason=None)
    return values


def _rank_of_current() -> ColumnElement[int]:
    """The rank of the row's provider_status in SQL; 0 before any callback."""
    return case(RANKS, value=OutboxMessage.provider_status, else_=0)
