"""Delivering a batch of outbox rows: claim, re-check, compose, send, record.

Every row is claimed in the ledger first, so a redelivered task or a second worker finds
nothing left to do. Consent, suppression and the address are checked again at send time
(a customer may have opted out since the plan), and each outcome is committed on its
own, so a crash costs at most the message in flight.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from campaigns.loader import Config
from campaigns.offers import find_coupons
from campaigns.policies import Recipient, recipient_columns
from shop.models import Customer, OutboxMessage
from shop.suppressions import suppress
from templates.context import MessageRef, Personal, build_contexts
from templates.unsubscribe import Signer
from workers import ledger
from workers.channels.base import Channel, Outcome, OutgoingEmail, OutgoingSms
from workers.compose import Claimed, Composed, Composer, Done, Later

# Outcomes that say the provider, not the recipient, is failing.
PROVIDER_FAILURES = frozenset(
    {"smtp_unavailable", "smtp_temporary", "smtp_auth", "smtp_rejected", "smtp_sender",
     "twilio_unavailable", "twilio_temporary", "rate_limited", "twilio_error"}
)  # fmt: skip
log = logging.getLogger("leal.delivery")


class Deliverer:
    """Delivers outbox rows through one channel; keep one per worker process."""

    def __init__(self, engine: Engine, config: Config, channel: Channel, signer: Signer) -> None:
        self.engine, self.config, self.channel, self.signer = engine, config, channel, signer
        self.composer = Composer(config)
        self.failures: Counter[str] = Counter()  # consecutive provider failures per campaign
        self.paused: set[str] = set()

    def deliver(self, ids: Sequence[int], now: datetime) -> Counter[str]:
        """Outcomes by status (and skip reason) of the rows among `ids` this call won."""
        # Paused campaigns are not claimed; this set only holds back the rest of a batch
        # during which a campaign paused, so a later `leal resume` is seen by this worker.
        self.paused.clear()
        tally = self._deliver_batch(ids, now)
        _freeze_once()  # after the batch: its messages are garbage by now, never frozen
        return tally

    def _deliver_batch(self, ids: Sequence[int], now: datetime) -> Counter[str]:
        with self.engine.begin() as connection:
            won = ledger.claim(connection, ids, now)
        if not won:
            return Counter()
        with self.engine.connect() as connection:
            claimed = _load(connection, self.config, won)
            on = now.astimezone(self.config.settings.shop.tz).date()
            coupons = find_coupons(connection, [c.ref.moment_key for c in claimed])
            refs = [c.ref for c in claimed]
            contexts = build_contexts(
                connection, self.config.settings, refs, on, self.signer, Personal(coupons)
            )
        composed = [
            self.composer.compose(item, context, now)
            for item, context in zip(claimed, contexts, strict=True)
        ]
        tally: Counter[str] = Counter()
        with _outcomes_connection(self.engine) as connection:  # one commit per message
            for item, message in zip(claimed, composed, strict=True):
                tally[self._deliver_one(connection, item, message, now)] += 1
                connection.commit()
        return tally

    def _deliver_one(
        self, connection: Connection, item: Claimed, message: Composed, now: datetime
    ) -> str:
        """Send one composed row (or defer it) and record the outcome; returns its tally key."""
        outbox_id = item.ref.outbox_id or 0
        if item.ref.campaign in self.paused:  # paused during this batch: give the rest back
            message = Later(now, "campaign_paused")
        if isinstance(message, Later):
            ledger.defer(connection, outbox_id, message.until, now, message.reason)
            return f"deferred:{message.reason}"
        done = message if isinstance(message, Done) else self._send(message, item.attempts, now)
        # What the outcome implies is written first and the outcome last: a crash between
        # leaves the row `sending`, and its retry meets the suppression at send time.
        self._count_failure(connection, item.ref.campaign, done, now)
        if done.reason == "hard_bounce" and item.recipient.email:
            suppress(connection, "email", item.recipient.email, done.reason, now)
        if done.reason in ("opted_out", "invalid_number") and item.recipient.phone:
            suppress(connection, "sms", item.recipient.phone, done.reason, now)
        ledger.finish(
            connection, outbox_id, done.status, now, reason=done.reason, detail=done.detail,
            due_at=done.due_at, provider_id=done.provider_id,
        )  # fmt: skip
        log.info(
            "outbox=%d campaign=%s channel=%s status=%s reason=%s attempt=%d",
            outbox_id,
            item.ref.campaign,
            item.ref.channel,
            done.status,
            done.reason or "-",
            item.attempts,
        )  # fmt: skip  (ids and states only: never an address, a name or a token)
        return f"{done.status}:{done.reason}" if done.reason else done.status

    def _count_failure(
        self, connection: Connection, campaign: str, done: Done, now: datetime
    ) -> None:
        """Pause the campaign after `pause_after_failures` provider failures in a row."""
        if done.status == ledger.SENT:
            self.failures[campaign] = 0
        elif done.reason in PROVIDER_FAILURES:
            self.failures[campaign] += 1
            limit = self.config.settings.delivery.pause_after_failures
            if self.failures[campaign] >= limit:
                why = f"{limit} provider failures in a row, the last: {done.reason} {done.detail}"
                ledger.pause(connection, campaign, why, now)
                self.paused.add(campaign)
                self.failures[campaign] = 0  # counted afresh once resumed

    def _send(self, message: OutgoingEmail | OutgoingSms, attempts: int, now: datetime) -> Done:
        if isinstance(message, OutgoingSms):
            return _recorded(self.channel.send_sms(message), attempts, now)
        return _recorded(self.channel.send_email(message), attempts, now)


def _outcomes_connection(engine: Engine) -> Connection:
    """Where outcomes are recorded. On PostgreSQL in autocommit: each statement commits
    itself, so recording an outcome is one round trip to the server, not an UPDATE and then
    a COMMIT (~80 µs of client CPU and one wait less per message). SQLite keeps its
    transactions: there a commit is a local call, and its pool relies on our BEGIN."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


_frozen = False


def _freeze_once() -> None:
    """After a process's first batch, move what lives as long as the worker (modules,
    compiled templates, the engine) out of the garbage collector's reach: full collections
    otherwise rescan it every few hundred messages (~6 % of a message's CPU). Once per
    process, so objects that die later are never kept from the collector more than once."""
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


def _recorded(outcome: Outcome, attempts: int, now: datetime) -> Done:
    if outcome.verdict == "retry" and attempts >= ledger.MAX_ATTEMPTS:
        return Done(ledger.FAILED, "retries_exhausted", outcome.detail)
    if outcome.verdict == "retry":
        return Done(
            ledger.RETRY, outcome.reason, outcome.detail, now + ledger.RETRY_AFTER[attempts - 1]
        )
    status = ledger.SENT if outcome.verdict == "sent" else ledger.FAILED
    return Done(status, outcome.reason, outcome.detail, provider_id=outcome.provider_id)


def _load(connection: Connection, config: Config, ids: list[int]) -> list[Claimed]:
    """The claimed rows with what the send-time checks need, in one query."""
    query = (
        select(OutboxMessage.__table__, Customer.timezone, *recipient_columns())
        .join(Customer, Customer.id == OutboxMessage.customer_id)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    )
    claimed = []
    for row in connection.execute(query).mappings():
        campaign = config.settings.campaigns.get(row["campaign"])
        ref = MessageRef(row["campaign"], row["trigger"], row["customer_id"], row["channel"],
                         row["occasion"], row["context"] or {}, row["id"])  # fmt: skip
        claimed.append(
            Claimed(
                ref,
                campaign.template if campaign else None,
                campaign.sms_max_segments if campaign else 2,
                Recipient.from_row(row),
                row["attempts"],
                ZoneInfo(row["timezone"] or config.settings.shop.timezone),
            )
        )
    return claimed
