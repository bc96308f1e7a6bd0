"""A delivery pass over the due outbox rows, in batches (what a worker task does)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from campaigns.loader import Config
from templates.unsubscribe import Signer
from workers import ledger
from workers.channels.base import Channel
from workers.channels.file import FileChannel
from workers.channels.smtp import SmtpChannel, SmtpServer
from workers.deliver import Deliverer


def deliver_due(
    engine: Engine, config: Config, *, limit: int | None = None, signer: Signer | None = None
) -> Counter[str]:
    """Deliver every due row (at most `limit`); the signer defaults to LEAL_SECRET_KEY."""
    settings = config.settings.delivery
    folder = (
        settings.folder
        if settings.folder.is_absolute() or config.path is None
        else (config.path.parent / settings.folder)
    )
    channel = _channel(config, folder)
    deliverer = Deliverer(engine, config, channel, signer or Signer.from_env())
    tally: Counter[str] = Counter()
    left = limit
    while left is None or left > 0:
        now = datetime.now(UTC)
        size = settings.batch if left is None else min(settings.batch, left)
        with engine.connect() as connection:
            ids = ledger.due_ids(connection, now, size)
        if not ids:
            break
        tally += deliverer.deliver(ids, now)
        left = None if left is None else left - len(ids)
    if isinstance(channel, SmtpChannel):
        channel.close()
    return tally


def _channel(config: Config, folder: Path) -> Channel:
    settings = config.settings
    if settings.delivery.channel == "smtp":
        smtp = settings.smtp
        envelope = smtp.envelope_from or settings.email.from_address
        return SmtpChannel(SmtpServer(smtp.host, smtp.port, smtp.security, smtp.username, envelope))
    return FileChannel(folder)
