"""The daily run's plan: trigger candidates -> policies -> messages -> the outbox ledger.

Each campaign's candidates come from one set-based query that also carries what the
policies need (consent, addresses, suppressions, what the ledger already holds). The
contact budget is then applied across campaigns, highest priority first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, exists, func, select

from campaigns.config import Campaign, Channel
from campaigns.holdout import HOLDOUT, HoldoutDraw
from campaigns.loader import Config
from campaigns.policies import Recipient, channel_block, recipient_columns
from shop.models import Customer, OutboxMessage
from triggers import TRIGGERS
from triggers.base import RunContext

PLANNED, SKIPPED = "planned", "skipped"
ALREADY_IN_OUTBOX, CONTACT_BUDGET = "already_in_outbox", "contact_budget"


class PlanError(Exception):
    """The run was asked for something the configuration does not allow."""


@dataclass
class Message:
    campaign: str
    trigger: str
    customer_id: str
    channel: Channel
    occasion: str
    priority: int
    status: str = PLANNED
    reason: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.campaign, self.customer_id, self.channel, self.occasion)

    @property
    def moment(self) -> tuple[str, str, str]:
        """The campaign's moment this message is for (one per channel shares it)."""
        return (self.campaign, self.customer_id, self.occasion)

    def skip(self, reason: str) -> None:
        self.status, self.reason = SKIPPED, reason

    def hold_out(self, reason: str) -> None:
        """Kept in the ledger, never delivered: `holdout`, or `global_holdout` as reason."""
        self.status, self.reason = HOLDOUT, (None if reason == HOLDOUT else reason)

    def as_json(self) -> dict[str, Any]:
        """The message as JSON values, sharing its context: `asdict` would deep-copy every
        context, which cost more than the whole plan at a million customers."""
        data: dict[str, Any] = {
            "campaign": self.campaign,
            "trigger": self.trigger,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "occasion": self.occasion,
            "priority": self.priority,
            "status": self.status,
        }
        if self.reason is not None:
            data["reason"] = self.reason
        data["context"] = self.context
        return data


@dataclass
class Plan:
    run: RunContext
    messages: list[Message]

    @property
    def planned(self) -> list[Message]:
        """What will be delivered."""
        return [m for m in self.messages if m.status == PLANNED]

    @property
    def recorded(self) -> list[Message]:
        """What the ledger keeps: planned and held-out messages."""
        return [m for m in self.messages if m.status in (PLANNED, HOLDOUT)]

    def counts(self) -> dict[str, Counter[str]]:
        """campaign -> counts of 'planned' and of each skip reason."""
        counts: dict[str, Counter[str]] = {}
        tally = Counter((m.campaign, m.reason or m.status) for m in self.messages)
        for (campaign, outcome), count in tally.items():  # in the messages' order
            counts.setdefault(campaign, Counter())[outcome] = count
        return counts


def make_plan(
    connection: Connection, config: Config, run: RunContext, only: Sequence[str] = ()
) -> Plan:
    """Evaluate the enabled campaigns (or `only` these) and apply every policy."""
    campaigns = _campaigns(config, only)
    messages: list[Message] = []
    for name, campaign in campaigns:
        messages += _campaign_messages(connection, config, name, campaign, run)
    _apply_contact_budget(connection, messages, run.run_date, config)
    _draw_holdouts(messages, config)
    return Plan(run, messages)


def _campaigns(config: Config, only: Sequence[str]) -> list[tuple[str, Campaign]]:
    campaigns = config.settings.campaigns
    unknown = sorted(set(only) - set(campaigns))
    if unknown:
        raise PlanError(f"no campaign named {', '.join(unknown)}")
    disabled = sorted(name for name in only if not campaigns[name].enabled)
    if disabled:
        raise PlanError(f"campaign {', '.join(disabled)} is disabled (enabled = false)")
    chosen = [(n, c) for n, c in campaigns.items() if c.enabled and (not only or n in only)]
    return sorted(chosen, key=lambda item: (-item[1].priority, item[0]))


def _campaign_messages(
    connection: Connection, config: Config, name: str, campaign: Campaign, run: RunContext
) -> list[Message]:
    candidates = TRIGGERS[campaign.trigger].candidates(config.trigger_params(name), run)
    found = candidates.subquery("candidates")
    context_columns = [c.name for c in found.c if c.name not in ("customer_id", "occasion")]

    def in_outbox(channel: str) -> Any:
        return exists().where(
            OutboxMessage.campaign == name,
            OutboxMessage.customer_id == found.c.customer_id,
            OutboxMessage.channel == channel,
            OutboxMessage.occasion == found.c.occasion,
        )

    query = (
        select(
            found,
            *recipient_columns(),
            *(in_outbox(ch).label(f"{ch}_in_outbox") for ch in campaign.channels),
        )
        .join(Customer, Customer.id == found.c.customer_id)
        .order_by(found.c.customer_id, found.c.occasion)
    )
    messages = []
    result = connection.execute(query)
    place = {name: index for index, name in enumerate(result.keys())}
    customer, occasion = place["customer_id"], place["occasion"]
    in_context = [(column, place[column]) for column in context_columns]
    channels = [(ch, place[f"{ch}_in_outbox"]) for ch in campaign.channels]
    for row in result:  # by position: a mapping per row cost a fifth of the plan
        recipient = Recipient.from_row(row._mapping)
        context = {column: _jsonable(row[index]) for column, index in in_context}
        for channel, taken in channels:
            message = Message(
                name, campaign.trigger, row[customer], channel, row[occasion],
                campaign.priority, context=context,
            )  # fmt: skip
            block = ALREADY_IN_OUTBOX if row[taken] else channel_block(recipient, channel)
            if block:
                message.skip(block)
            messages.append(message)
    return messages


def _apply_contact_budget(
    connection: Connection, messages: Iterable[Message], day: date, config: Config
) -> None:
    """At most `max_messages_per_day` per customer and shop-local day, across campaigns.

    Messages already in the ledger for that day count; `messages` arrive in priority order.
    """
    limit = config.settings.policy.max_messages_per_day
    already = connection.execute(
        select(OutboxMessage.customer_id, func.count())
        .where(OutboxMessage.run_date == day)
        .group_by(OutboxMessage.customer_id)
    )
    used = Counter({customer_id: count for customer_id, count in already})
    for message in messages:
        if message.status != PLANNED:
            continue
        if used[message.customer_id] >= limit:
            message.skip(CONTACT_BUDGET)
        else:
            used[message.customer_id] += 1


def _draw_holdouts(messages: Iterable[Message], config: Config) -> None:
    """Among the messages that would go out, hold out each campaign's share of moments.

    After consent, suppression and the contact budget, so the groups are drawn among the
    reachable, and a held-out moment keeps its budget slot: the other campaigns see the
    same world either way. Both channels of a moment share their customer's draw.
    """
    settings = config.settings
    percents = {name: c.holdout_percent for name, c in settings.campaigns.items()}
    draw = HoldoutDraw(settings.measurement, percents)
    for message in messages:
        if message.status == PLANNED:
            reason = draw.reason(message.campaign, message.customer_id)
            if reason is not None:
                message.hold_out(reason)


_AS_IS = {str, int, float, bool, type(None)}  # JSON values already


def _jsonable(value: Any) -> Any:
    if type(value) in _AS_IS:  # most values: one set lookup
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value
