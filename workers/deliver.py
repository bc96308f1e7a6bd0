"""Delivering a batch of outbox rows: claim, re-check, compose, send, record.

Every row is claimed in the ledger first, so a redelivered task or a second worker finds
nothing left to do. Consent, suppression and the address are checked again at send time
(a customer may have opted out since the plan), and each outcome is committed on its
own, so a crash costs at most the message in flight.

The claim carries an owner token: right before each send the worker proves it still owns
the row and renews its claim (`ledger.hold`, committed), so recovery never takes a row
from a live worker mid-send, and a row recovery did give to another worker is neither
sent nor recorded by this one. Between the provider's answer and the outcome's commit
there is nothing but the outcome's own writes (docs/delivery.md, "What a crash costs").
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select

from campaigns.loader import Config
from campaigns.offers import find_coupons
from campaigns.policies import Recipient, recipient_columns
from shop.db import immediate
from shop.models import Customer, OutboxMessage
from shop.suppressions import suppress
from templates.context import MessageRef, Personal, build_contexts
from templates.unsubscribe import Signer
from workers import channel_health, ledger
from workers.channels.base import Channel, Outcome, OutgoingEmail, OutgoingSms
from workers.compose import Claimed, Composed, Composer, Done, Later, customer_zone

# Outcomes that say the provider refuses this campaign's messages (not the recipient, and
# not the whole channel: those are channel_health.CHANNEL_FAILURES and pause the channel).
PROVIDER_FAILURES = frozenset({"smtp_temporary", "smtp_rejected", "smtp_sender", "twilio_error"})
log = logging.getLogger("leal.delivery")


class Deliverer:
    """Delivers outbox rows through one channel; keep one per worker process."""

    def __init__(self, engine: Engine, config: Config, channel: Channel, signer: Signer) -> None:
        self.engine, self.config, self.channel, self.signer = engine, config, channel, signer
        self.composer = Composer(config)
        # Renewed well before recovery would judge the rest of a long batch lost.
        self.renew_every = timedelta(minutes=config.settings.delivery.claim_timeout_minutes) / 4
        self.failures: Counter[str] = Counter()  # consecutive provider failures per campaign
        self.paused: set[str] = set()
        self.channel_failures: Counter[str] = Counter()  # consecutive, per channel
        self.paused_channels: set[str] = set()

    def deliver(self, ids: Sequence[int], now: datetime) -> Counter[str]:
        """Outcomes by status (and skip reason) of the rows among `ids` this call won."""
        # Paused campaigns are not claimed; this set only holds back the rest of a batch
        # during which a campaign paused, so a later `leal resume` is seen by this worker.
        self.paused.clear()
        self.paused_channels = self._paused_channels()
        tally = self._deliver_batch(ids, now)
        _freeze_once()  # after the batch: its messages are garbage by now, never frozen
        return tally

    def _deliver_batch(self, ids: Sequence[int], now: datetime) -> Counter[str]:
        claim = ledger.Claim(now)
        with self.engine.begin() as connection:
            won = ledger.claim(connection, ids, now, claim.token)
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
        with _outcomes_connection(self.engine) as connection:  # one commit per outcome
            for index, (item, message) in enumerate(zip(claimed, composed, strict=True)):
                if claim.renewal_due(self.renew_every):  # a long batch: keep the rest ours
                    rest = [c.ref.outbox_id or 0 for c in claimed[index:]]
                    ledger.renew(connection, rest, claim.token, claim.now())
                    connection.commit()
                tally[self._deliver_one(connection, claim, item, message)] += 1
        return tally

    def _deliver_one(
        self, connection: Connection, claim: ledger.Claim, item: Claimed, message: Composed
    ) -> str:
        """Send one composed row (or defer it) and record the outcome; returns its tally key."""
        outbox_id = item.ref.outbox_id or 0
        if item.ref.campaign in self.paused:  # paused during this batch: give the rest back
            message = Later(claim.now(), "campaign_paused")
        elif item.ref.channel in self.paused_channels:
            message = Later(claim.now(), "channel_paused")
        if isinstance(message, Later):
            ledger.defer(connection, outbox_id, claim.token, message.until, claim.now(),
                         message.reason)  # fmt: skip
            connection.commit()
            return f"deferred:{message.reason}"
        if isinstance(message, Done):
            done = message
        elif self._still_ours(connection, claim, outbox_id):
            done = self._send(message, item.attempts, claim)
        else:
            return "taken_over"
        # From the provider's answer to the commit only the outcome's own writes run: a
        # crash in between sends the message again (docs/delivery.md). What the outcome
        # implies is written first and the outcome last: a crash between leaves the row
        # `sending`, and its retry meets the suppression at send time.
        now = claim.now()
        self._count_failure(connection, item.ref, done, now)
        if done.reason == "hard_bounce" and item.recipient.email:
            suppress(connection, "email", item.recipient.email, done.reason, now)
        if done.reason in ("opted_out", "invalid_number") and item.recipient.phone:
            suppress(connection, "sms", item.recipient.phone, done.reason, now)
        recorded = ledger.finish(
            connection, outbox_id, claim.token, done.status, now, reason=done.reason,
            detail=done.detail, due_at=done.due_at, provider_id=done.provider_id, commit=True,
        )  # fmt: skip
        if not recorded:  # given to another worker meanwhile: its outcome stands
            log.warning("outbox=%d status=%s claim taken over: outcome not recorded",
                        outbox_id, done.status)  # fmt: skip
            return f"taken_over:{done.status}"
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
        self, connection: Connection, ref: MessageRef, done: Done, now: datetime
    ) -> None:
        """Pause the channel after `channel_pause_after_failures` outage outcomes in a row
        (it resumes by itself once a probe answers), and the campaign after
        `pause_after_failures` refusals of its own messages (it waits for `leal resume`)."""
        delivery = self.config.settings.delivery
        if done.status == ledger.SENT:
            self.failures[ref.campaign] = self.channel_failures[ref.channel] = 0
        elif done.reason in channel_health.CHANNEL_FAILURES:
            self.channel_failures[ref.channel] += 1
            if self.channel_failures[ref.channel] >= delivery.channel_pause_after_failures:
                why = f"{done.reason} {done.detail or ''}".strip()
                channel_health.pause(connection, ref.channel, why, now)
                self.paused_channels.add(ref.channel)
                self.channel_failures[ref.channel] = 0
        elif done.reason in PROVIDER_FAILURES:
            self.failures[ref.campaign] += 1
            if self.failures[ref.campaign] >= delivery.pause_after_failures:
                why = f"{delivery.pause_after_failures} provider failures in a row, the last: "
                ledger.pause(connection, ref.campaign, f"{why}{done.reason} {done.detail}", now)
                self.paused.add(ref.campaign)
                self.failures[ref.campaign] = 0  # counted afresh once resumed

    def _paused_channels(self) -> set[str]:
        with self.engine.connect() as connection:
            return channel_health.paused_channels(connection)

    def _still_ours(self, connection: Connection, claim: ledger.Claim, outbox_id: int) -> bool:
        """Renew the row's claim right before its send, committed; False if it was given
        to another worker (then it is left alone: not sent, not recorded)."""
        held = ledger.hold(connection, outbox_id, claim.token, claim.now())
        if not held:
            log.warning("outbox=%d claim taken over before the send: not sent", outbox_id)
        return held

    def _send(
        self, message: OutgoingEmail | OutgoingSms, attempts: int, claim: ledger.Claim
    ) -> Done:
        if isinstance(message, OutgoingSms):
            outcome = self.channel.send_sms(message)
        else:
            outcome = self.channel.send_email(message)
        return _recorded(outcome, attempts, claim.now())  # a retry counts from its answer


def _outcomes_connection(engine: Engine) -> Connection:
    """Where outcomes are recorded. On PostgreSQL in autocommit: each statement commits
    itself, so recording an outcome is one round trip to the server, not an UPDATE and then
    a COMMIT (~80 µs of client CPU and one wait less per message). SQLite keeps its
    transactions: there a commit is a local call, and its pool relies on our BEGIN, here
    IMMEDIATE: an outcome's writes wait for another worker's commit instead of failing
    on a lock upgrade."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        return connection.execution_options(isolation_level="AUTOCOMMIT")
    return immediate(connection)


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
                customer_zone(row["timezone"], config.settings.shop.tz),
            )
        )
    return claimed
