"""Recommendations for a plan, decided once per run and kept in the messages' context.

One model is fitted per run on the orders placed by the run instant, from the purchase
summaries kept at ingest and the planned customers' own purchases; every planned email
of a campaign that shows products gets its SKUs in its context, so the ledger row holds
what the customer will see, whenever and however often it is rendered.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection

from campaigns.loader import Config
from campaigns.plan import Message, Plan
from templates.context_data import cart_lines
from templates.recommend import Recommender


def recommend_for_plan(connection: Connection, config: Config, plan: Plan) -> int:
    """Adds `recommendations` (SKUs) to the context of planned emails; returns how many."""
    campaigns = config.settings.campaigns
    wanted = [
        m for m in plan.planned if m.channel == "email" and campaigns[m.campaign].recommendations
    ]
    if not wanted:
        return 0
    customers = [m.customer_id for m in wanted]
    model = Recommender.from_summaries(connection, as_of=plan.run.at, customer_ids=customers)
    by_campaign: dict[str, list[Message]] = defaultdict(list)
    for message in wanted:
        by_campaign[message.campaign].append(message)
    for name, messages in by_campaign.items():
        campaign = campaigns[name]
        picks = model.recommend(
            [m.customer_id for m in messages],
            k=campaign.recommendations,
            exclude_purchased=not campaign.recommend_bought,
            cart_skus=_carts(connection, messages),
        )
        for message in messages:
            message.context["recommendations"] = picks[message.customer_id]
    return len(wanted)


def _carts(connection: Connection, messages: list[Message]) -> dict[str, list[str]]:
    """The cart lines of abandoned-cart moments, by customer."""
    carts = {
        str(m.context["cart_id"]): (
            m.customer_id,
            datetime.fromisoformat(m.context["last_change_at"]),
        )
        for m in messages
        if m.trigger == "abandoned_cart"
    }
    lines = cart_lines(connection, [(cart, at) for cart, (_, at) in carts.items()])
    return {customer: [sku for sku, _ in lines[cart]] for cart, (customer, _) in carts.items()}
