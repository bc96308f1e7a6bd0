"""A delivery pass over the due outbox rows, in batches, in this process."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine

from campaigns.loader import Config
from templates.unsubscribe import Signer
from workers import ledger
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
) -> Counter[str]:
    """Deliver every due row (at most `limit`); the signer defaults to LEAL_SECRET_KEY."""
    channel = make_channel(config)
    deliverer = Deliverer(engine, config, channel, signer or Signer.from_env())
    batch = config.settings.delivery.batch
    tally: Counter[str] = Counter()
    left = limit
    try:
        while left is None or left > 0:
            now = clock()
            with engine.connect() as connection:
                ids = ledger.due_ids(connection, now, batch if left is None else min(batch, left))
            if not ids:
                break
            tally += deliverer.deliver(ids, now)
            if progress is not None:
                progress(len(ids))
            left = None if left is None else left - len(ids)
    finally:
        close_channel(channel)
    return tally
