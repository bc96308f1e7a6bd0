"""Channel pauses: an outage of the shop's own relay or provider account pauses the channel
(`email`, `sms`), not the campaigns that happened to be sending.

Rows of a paused channel wait in the ledger without spending attempts. Every delivery pass
(`leal send`, `leal run`, `leal recover`, the workers' `leal.dispatch` that beat's
`leal.recover` rings every 5 minutes) first probes the paused channels whose
`next_probe_at` has come, through the channel itself (SMTP: connect, TLS, login, NOOP;
Twilio: fetch the account), and deletes the pause when the probe answers. Failed probes
back off up to `PROBE_AFTER[-1]`, and never stop: no person is needed to recover.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Select, delete, select, update

from shop.db import writer
from shop.models import ChannelPause, OutboxMessage
from shop.sql import upsert_insert
from workers import ledger
from workers.channels import Routed

# Outcomes that say the channel's provider is unreachable or refuses the shop itself.
CHANNEL_FAILURES = frozenset(
    {"smtp_unavailable", "smtp_auth", "twilio_unavailable", "twilio_auth", "twilio_temporary",
     "rate_limited"}
)  # fmt: skip
PROBE_AFTER = tuple(timedelta(minutes=m) for m in (1, 2, 5, 10, 15))
log = logging.getLogger("leal.delivery")


@dataclass(frozen=True)
class Probed:
    channel: str
    problem: str | None  # None: it answered and the pause is lifted

    @property
    def resumed(self) -> bool:
        return self.problem is None


def paused_channels(connection: Connection) -> set[str]:
    return set(connection.scalars(select(ChannelPause.channel)))


def pause(connection: Connection, channel: str, reason: str, now: datetime) -> None:
    """Stop delivering `channel` until a probe succeeds (idempotent: the first reason stays)."""
    insert = upsert_insert(connection, ChannelPause).on_conflict_do_nothing(
        index_elements=["channel"]
    )
    values = {"channel": channel, "paused_at": now, "reason": reason[:500], "probes": 0,
              "next_probe_at": now + PROBE_AFTER[0]}  # fmt: skip
    connection.execute(insert, values)
    log.warning("channel=%s paused reason=%s", channel, reason.split(" ", 1)[0])


def resume(connection: Connection, channel: str) -> bool:
    done = connection.execute(delete(ChannelPause).where(ChannelPause.channel == channel))
    return done.rowcount == 1


def probe_due(
    engine: Engine, channel: Routed, now: datetime, *, force: bool = False
) -> list[Probed]:
    """Probe each paused channel whose next probe has come (every one with `force`); lift
    the pauses of those that answer, back off the others."""
    query = select(ChannelPause.channel, ChannelPause.probes)
    if not force:
        query = query.where(ChannelPause.next_probe_at <= now)
    with engine.connect() as connection:
        due = connection.execute(query).all()
    results = []
    for name, probes in due:  # outside any transaction: a probe waits on the network
        problem = channel.probe(name)
        with writer(engine).begin() as connection:
            _record(connection, name, probes, problem, now)
        results.append(Probed(name, problem))
    return results


def _record(
    connection: Connection, channel: str, probes: int, problem: str | None, now: datetime
) -> None:
    if problem is None:
        if resume(connection, channel):
            log.warning("channel=%s resumed after %d failed probes", channel, probes)
        return
    wait = PROBE_AFTER[min(probes, len(PROBE_AFTER) - 1)]
    connection.execute(
        update(ChannelPause)
        .where(ChannelPause.channel == channel)
        .values(probes=probes + 1, last_probe=problem[:500], next_probe_at=now + wait)
    )


def due_query(now: datetime, limit: int) -> Select[int]:
    """The ledger's due rows (its queue index, in order) without those of paused channels."""
    held = select(ChannelPause.channel)
    return ledger.due_query(now, limit).where(OutboxMessage.channel.not_in(held))


def due_ids(connection: Connection, now: datetime, limit: int) -> list[int]:
    return list(connection.scalars(due_query(now, limit)))
