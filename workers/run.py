"""A delivery pass over the due outbox rows, in batches, in this process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, update

from campaigns.loader import Config
from shop.db import writer
from shop.models import OutboxMessage
from templates.unsubscribe import Signer
from workers import channel_health, ledger
from workers.channels import close_channel, make_channel
from workers.deliver import Deliverer


def deliver_due(
    engine: Engine,
    config: Config,
    *,
    limit: int | None = None,
    signer: Signer | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[int], None] | None = None,
    probe_now: bool = False,
) -> Counter[str]:
    """Deliver every due row (at most `limit`); the signer defaults to LEAL_SECRET_KEY.
    Paused channels are probed first (all of them with `probe_now`, else those due)."""
    channel = make_channel(config)
    deliverer = Deliverer(engine, config, channel, signer or Signer.from_env())
    batch = config.settings.delivery.batch
    tally: Counter[str] = Counter()
    left = limit
    try:
        channel_health.probe_due(engine, channel, clock(), force=probe_now)
        while left is None or left > 0:
            now = clock()
            with engine.connect() as connection:
                size = batch if left is None else min(batch, left)
                ids = channel_health.due_ids(connection, now, size)
            if not ids:
                break
            tally += deliverer.deliver(ids, now)
            if progress is not None:
                progress(len(ids))
            left = None if left is None else left - len(ids)
    finally:
        close_channel(channel)
    return tally


def release_lost(engine: Engine, config: Config, now: datetime) -> int:
    """Give back the rows of workers that died mid-send (claimed too long ago)."""
    timeout = timedelta(minutes=config.settings.delivery.claim_timeout_minutes)
    with writer(engine).begin() as connection:
        return ledger.release_stale(connection, now - timeout, now)


# A failed row whose message may have reached the server before its worker died: sending
# it again could deliver it twice, so it is never requeued.
MAYBE_SENT = frozenset({"worker_lost"})
REQUEUEABLE = (ledger.SKIPPED, ledger.FAILED)


def requeue(
    connection: Connection,
    campaign: str,
    reason: str,
    now: datetime,
    *,
    statuses: Sequence[str] = REQUEUEABLE,
    run_date: date | None = None,
) -> int:
    """Put the skipped/failed rows of `campaign` with `reason` back in the queue (attempts
    and reason cleared), due now; returns how many. Never a sent, queued or sending row, so
    it is idempotent and every message still goes out once; a paused campaign's rows wait."""
    if reason in MAYBE_SENT:
        raise ValueError(f"{reason} rows may have reached the server: requeueing could send twice")
    if not set(statuses) <= set(REQUEUEABLE):
        raise ValueError(f"only {' or '.join(REQUEUEABLE)} rows can be requeued")
    query = update(OutboxMessage).where(
        OutboxMessage.campaign == campaign,
        OutboxMessage.reason == reason,
        OutboxMessage.status.in_(statuses),
    )
    if run_date is not None:
        query = query.where(OutboxMessage.run_date == run_date)
    done = connection.execute(
        query.values(
            status=ledger.QUEUED, attempts=0, reason=None, detail=None, due_at=now, updated_at=now
        )
    )
    return done.rowcount
