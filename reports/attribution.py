"""What each campaign moment led to: its group, and the orders in its attribution window.

Intent-to-treat: a moment is treated when the plan meant to send it (whatever delivery did
later: a failed or skipped message stays treated, as in reality), held out when the ledger
kept it as `holdout`. Its reference instant is the run that planned it; a conversion is an
order of the customer in (instant, instant + attribution_days], unless it was cancelled or
refunded. One query per campaign: the moments grouped from the ledger, joined to their run's
window and to the orders index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import (
    CTE,
    Connection,
    Date,
    Integer,
    Label,
    Select,
    Subquery,
    and_,
    case,
    column,
    func,
    select,
    text,
    values,
)

from campaigns.config import Channel
from campaigns.holdout import GLOBAL_HOLDOUT, HOLDOUT
from reports.stats import ArmOutcomes
from shop.models import CANCELLED_SQL, Coupon, Order, OutboxMessage, Run
from shop.types import UTCDateTime

SENT = "sent"


class MomentRow(NamedTuple):
    treated: int
    global_holdout: int
    sent_email: int
    sent_sms: int
    day: date
    orders: int
    revenue_cents: int

    @property
    def sent(self) -> int:
        return self.sent_email + self.sent_sms


@dataclass(frozen=True)
class Day:
    """One run date of a campaign: its moments by group, messages sent, treated revenue."""

    day: date
    treated: int = 0
    holdout: int = 0
    messages: int = 0
    attributed_revenue_cents: int = 0


@dataclass(frozen=True)
class CampaignOutcomes:
    treated: ArmOutcomes
    holdout: ArmOutcomes
    sent: Counter[str]  # channel → messages sent
    coupons_redeemed: int
    discounts_cents: int  # discounts on the orders that redeemed the treated moments' coupons
    global_holdout: int  # moments of the global holdout, left out of this comparison
    days: list[Day] = field(default_factory=list)


def campaign_outcomes(
    connection: Connection, campaign: str, start: date, end: date, attribution_days: int
) -> CampaignOutcomes:
    """The moments `campaign` planned on run dates [start, end] and what followed each."""
    windows = _windows(connection, start, end, attribution_days)
    if windows is None:
        return _empty()
    moments = _moments(campaign, start, end).subquery("moments")
    per_moment = (
        select(
            moments.c.customer_id,
            moments.c.treated,
            moments.c.global_holdout,
            moments.c.sent_email,
            moments.c.sent_sms,
            windows.c.day,
            windows.c.opens,
            windows.c.closes,
            func.count(Order.id).label("orders"),
            func.coalesce(func.sum(Order.total_cents), 0).label("revenue"),
        )
        .select_from(moments)
        .join(windows, windows.c.run_id == moments.c.run_id)
        .outerjoin(
            Order,
            and_(
                Order.customer_id == moments.c.customer_id,
                Order.ordered_at > windows.c.opens,
                Order.ordered_at <= windows.c.closes,
            ),
        )
        .group_by(
            moments.c.customer_id,
            moments.c.occasion,
            moments.c.treated,
            moments.c.global_holdout,
            moments.c.sent_email,
            moments.c.sent_sms,
            windows.c.day,
            windows.c.opens,
            windows.c.closes,
        )
        .subquery("per_moment")
    )
    # int(): PostgreSQL sums BIGINT as NUMERIC
    rows = [
        MomentRow(t, g, int(e), int(s), day, int(o), int(r))
        for t, g, e, s, day, o, r in connection.execute(_without_cancelled(per_moment))
    ]
    redeemed, discounts = _redemptions(connection, campaign, moments)
    return _outcomes(rows, redeemed, discounts)


def _without_cancelled(per_moment: Subquery) -> Select[Any]:
    """Each moment's orders less its cancelled or refunded ones (no conversion): those few
    come from a partial index, so the main pass stays on the covering orders index."""
    in_window = and_(
        Order.customer_id == per_moment.c.customer_id,
        Order.ordered_at > per_moment.c.opens,
        Order.ordered_at <= per_moment.c.closes,
        text(CANCELLED_SQL),  # as the partial index says it, so SQLite uses it
    )
    count = select(func.count()).where(in_window).scalar_subquery()
    lost = select(func.coalesce(func.sum(Order.total_cents), 0)).where(in_window)
    p = per_moment.c
    return select(
        p.treated, p.global_holdout, p.sent_email, p.sent_sms, p.day,
        p.orders - count, p.revenue - lost.scalar_subquery(),
    )  # fmt: skip


def _moments(
    campaign: str, start: date, end: date
) -> Select[str, str, int | None, Any, Any, Any, Any]:
    """One row per moment: its first run, whether it was treated, messages it sent."""
    outbox = OutboxMessage
    return (
        select(
            outbox.customer_id,
            outbox.occasion,
            func.min(outbox.run_id).label("run_id"),
            func.max(case((outbox.status != HOLDOUT, 1), else_=0)).label("treated"),
            func.max(case((outbox.reason == GLOBAL_HOLDOUT, 1), else_=0)).label("global_holdout"),
            _sent_on("email"),
            _sent_on("sms"),
        )
        .where(outbox.campaign == campaign, outbox.run_date >= start, outbox.run_date <= end)
        .group_by(outbox.customer_id, outbox.occasion)
    )


def _windows(connection: Connection, start: date, end: date, days: int) -> CTE | None:
    """The attribution window of each run in the period, as a VALUES table: the run's
    instant plus `days` is computed here, where both dialects agree on what a day is."""
    runs = connection.execute(
        select(Run.id, Run.at, Run.run_date).where(Run.run_date >= start, Run.run_date <= end)
    ).all()
    if not runs:
        return None
    span = timedelta(days=days)
    return (
        values(
            column("run_id", Integer),
            column("day", Date),
            column("opens", UTCDateTime),
            column("closes", UTCDateTime),
            name="windows",
        )
        .data([(run_id, day, at, at + span) for run_id, at, day in runs])
        .cte("windows")
    )


def _redemptions(connection: Connection, campaign: str, moments: Subquery) -> tuple[int, int]:
    """Coupons of the treated moments that an order redeemed, and those orders' discounts."""
    query = (
        select(func.count(Coupon.code), func.coalesce(func.sum(Order.discount_cents), 0))
        .select_from(Coupon)
        .join(
            moments,
            and_(
                moments.c.customer_id == Coupon.customer_id,
                moments.c.occasion == Coupon.occasion,
                moments.c.treated == 1,
            ),
        )
        .join(Order, Order.id == Coupon.redeemed_order_id)
        .where(Coupon.campaign == campaign)
    )
    count, discounts = connection.execute(query).one()
    return int(count), int(discounts)


def _sent_on(channel: Channel) -> Label[Any]:
    """The moment's messages sent on `channel`: the report's message costs."""
    outbox = OutboxMessage
    sent = and_(outbox.status == SENT, outbox.channel == channel)
    return func.sum(case((sent, 1), else_=0)).label(f"sent_{channel}")


def _outcomes(rows: Sequence[MomentRow], redeemed: int, discounts: int) -> CampaignOutcomes:
    treated_rows = [r for r in rows if r.treated and not r.global_holdout]
    holdout_rows = [r for r in rows if not r.treated and not r.global_holdout]
    return CampaignOutcomes(
        treated=_arm(treated_rows),
        holdout=_arm(holdout_rows),
        sent=Counter(email=sum(r.sent_email for r in rows), sms=sum(r.sent_sms for r in rows)),
        coupons_redeemed=redeemed,
        discounts_cents=discounts,
        global_holdout=sum(1 for r in rows if r.global_holdout),
        days=_days(treated_rows, holdout_rows),
    )


def _arm(rows: Sequence[MomentRow]) -> ArmOutcomes:
    orders = np.fromiter((r.orders for r in rows), dtype=np.int64, count=len(rows))
    revenue = np.fromiter((r.revenue_cents for r in rows), dtype=np.int64, count=len(rows))
    return ArmOutcomes(converted=orders > 0, revenue_cents=revenue)


def _days(treated: Sequence[MomentRow], holdout: Sequence[MomentRow]) -> list[Day]:
    tally: dict[date, Counter[str]] = {}
    for row in treated:
        day = tally.setdefault(row.day, Counter())
        day["treated"] += 1
        day["messages"] += row.sent
        day["revenue"] += row.revenue_cents
    for row in holdout:
        tally.setdefault(row.day, Counter())["holdout"] += 1
    return [
        Day(d, c["treated"], c["holdout"], c["messages"], c["revenue"])
        for d, c in sorted(tally.items())
    ]


def _empty() -> CampaignOutcomes:
    none = ArmOutcomes(converted=np.zeros(0, dtype=bool), revenue_cents=np.zeros(0, dtype=np.int64))
    return CampaignOutcomes(none, none, Counter(), 0, 0, 0, [])


__all__ = ["CampaignOutcomes", "Day", "campaign_outcomes"]
