"""`leal preview`: exactly what one customer would get from a campaign on a date.

The customer's moment comes from the campaign's own trigger at the run instant, so the
preview shows the real cart lines, tiers and dates. Nothing is written: the coupon is the
one a run issued, else a placeholder, and the unsubscribe link is signed with a
throwaway key unless LEAL_SECRET_KEY is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from campaigns.config import Channel
from campaigns.loader import Config
from campaigns.offers import IssuedCoupon, find_coupons
from campaigns.personalize import recommend_for_plan
from campaigns.plan import Message, Plan
from templates.context import ContextFailure, MessageRef, Personal, build_contexts
from templates.loader import TemplateSet
from templates.render import RenderedEmail, RenderedSms, Renderer
from templates.unsubscribe import Signer
from triggers import TRIGGERS
from triggers.base import RunContext

PREVIEW_CODE = "PREVIEW-CODE"
_LISTED = 5


class PreviewError(ValueError):
    """The preview cannot be made; the message says what to change."""


@dataclass(frozen=True)
class Preview:
    customer_id: str
    occasion: str
    email: RenderedEmail | None
    sms: RenderedSms | None


def make_preview(
    connection: Connection,
    config: Config,
    campaign_name: str,
    at: datetime,
    customer_id: str | None,
    channels: list[Channel],
) -> Preview:
    campaign = config.settings.campaigns.get(campaign_name)
    if campaign is None:
        known = ", ".join(sorted(config.settings.campaigns)) or "none"
        raise PreviewError(f"no campaign named {campaign_name!r} (campaigns: {known})")
    settings = config.settings
    run = RunContext(at=at, tz=settings.shop.tz, loyalty=settings.loyalty)
    moment = _moment(connection, config, campaign_name, run, customer_id)
    customer, occasion = moment.pop("customer_id"), moment.pop("occasion")
    ref = MessageRef(campaign_name, campaign.trigger, customer, channels[0], occasion, moment)
    coupons = find_coupons(connection, [ref.moment_key])  # a run may have issued it
    if campaign.offer is not None and not coupons:
        expires_on = run.run_date + timedelta(days=campaign.offer.valid_days - 1)
        coupons[ref.moment_key] = IssuedCoupon(
            PREVIEW_CODE, campaign.offer.percent_off, campaign.offer.amount_off_cents,
            campaign.offer.free_shipping, expires_on,
        )  # fmt: skip
    signer = Signer.from_env(ephemeral_ok=True)
    personal = Personal(coupons, _recommendations(connection, config, campaign_name, ref, run))
    [context] = build_contexts(connection, settings, [ref], run.run_date, signer, personal)
    assert context is not None  # the trigger just found this customer
    if isinstance(context, ContextFailure):  # what a send would skip as `context_error`
        raise PreviewError(f"customer {ref.customer_id}: {context.detail}")
    renderer = Renderer(TemplateSet(config.templates_dir, settings.shop.default_locale))
    email = renderer.email(campaign.template, context) if "email" in channels else None
    sms = (
        renderer.sms(campaign.template, context, campaign.sms_max_segments)
        if "sms" in channels
        else None
    )
    return Preview(ref.customer_id, ref.occasion, email, sms)


def _recommendations(
    connection: Connection, config: Config, name: str, ref: MessageRef, run: RunContext
) -> dict[str, list[str]]:
    """What the daily run would pick for this message (a plan of just this message)."""
    message = Message(
        name, ref.trigger, ref.customer_id, "email", ref.occasion, 0, context=dict(ref.moment)
    )
    recommend_for_plan(connection, config, Plan(run, [message]))
    return {ref.customer_id: message.context.get("recommendations", [])}


def _moment(
    connection: Connection, config: Config, name: str, run: RunContext, customer_id: str | None
) -> dict[str, Any]:
    """The campaign's moment for this customer at the run instant (or the first one)."""
    campaign = config.settings.campaigns[name]
    trigger = TRIGGERS[campaign.trigger]
    found = trigger.candidates(config.trigger_params(name), run).subquery()
    query = select(found).order_by(found.c.customer_id, found.c.occasion)
    if customer_id is not None:
        row = connection.execute(query.where(found.c.customer_id == customer_id)).first()
        if row is not None:
            return dict(row._mapping)
        others = [r.customer_id for r in connection.execute(query.limit(_LISTED))]
        hint = f"; customers who do: {', '.join(others)}" if others else ""
        raise PreviewError(
            f"customer {customer_id} has no {campaign.trigger} moment at "
            f"{run.at.astimezone(run.tz):%Y-%m-%d %H:%M}{hint}"
        )
    row = connection.execute(query.limit(1)).first()
    if row is None:
        raise PreviewError(
            f"nobody has a {campaign.trigger} moment at {run.at.astimezone(run.tz):%Y-%m-%d %H:%M}"
            "; try another --date"
        )
    return dict(row._mapping)
