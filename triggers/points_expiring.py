"""points_expiring: points of the customer's lots expire in `days_before` days.

Rule, for the run date D and days_before d: the moment is (customer, expiry date E) with
E = D + d, i.e. its warning day E - d falls in (previous run date, D]: a daily run fires
each moment exactly once. The points are what is still unspent at the run instant T in the
customer's lots (`earn` and `bonus` entries) that expire on E; the moment fires when they
are at least `min_points`. Once per (customer, expiry date) and campaign: the occasion is
`expiring:<E>`, so a 30-day "warning" campaign and a 7-day "last chance" campaign each fire
once for the same points. A day without a run is recovered as for every trigger, by running
that date (`leal run --date D`): the rule does not fire late on its own.

Unspent points, FIFO: spends, reversals and expiries consume the oldest lots first, so the
positive entries ordered by (on_date, id) are consumed as a prefix: what is left of lot i is
clamp(points of the lots through i - all points that went out, 0, points of i), "went out"
being the customer's negative entries booked by T (redeem, reward, reverse, expire, negative
adjust). That holds because a lot expires no earlier than those before it, counting the
expiries the daily run books before it plans; it is shop.loyalty.balance_on's answer. Summed
over the lots of one day, and since the lots minus what went out is the balance, it is
clamp(balance - points of the lots booked on later days, 0, points of the day's lots): one
aggregate per customer, no window to sort. (A positive `adjust` dated on that very day
counts as before the day's lots.)

Lots expire points_expire_days after the shop-local day they were booked (expires_on =
on_date + points_expire_days, as shop.expiry counts): the lots due are those booked on
E - points_expire_days.

Cost: that day's lots give the customers (a range of the covering `at` index); their sums
read only the covering (customer_id, on_date, kind, at, points) index, in its order.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import Select, and_, case, func, literal, select

from shop.models import LOT_KINDS, LedgerEntry
from triggers.base import CandidateQuery, Params, RunContext, Trigger, clamp


class PointsExpiringParams(Params):
    days_before: int = Field(30, ge=1, le=365)
    min_points: int = Field(1, ge=1)


def candidates(params: PointsExpiringParams, run: RunContext) -> CandidateQuery:
    expires_on = run.run_date + timedelta(days=params.days_before)
    earned_on = expires_on - timedelta(days=run.loyalty.points_expire_days)
    customers = select(LedgerEntry.customer_id).where(
        LedgerEntry.at >= run.start_of(earned_on),
        LedgerEntry.at < run.start_of(earned_on + timedelta(days=1)),
        LedgerEntry.at <= run.at,
        LedgerEntry.kind.in_(LOT_KINDS),
    )
    sums = _sums(run, customers, earned_on).subquery("sums")
    points = clamp(sums.c.balance - sums.c.later, 0, sums.c.due)
    expiring = (
        select(sums.c.customer_id, points.label("points"))
        .where(sums.c.due > 0)
        .subquery("expiring")
    )
    day = expires_on.isoformat()
    return select(
        expiring.c.customer_id,
        literal(f"expiring:{day}").label("occasion"),
        expiring.c.points,
        literal(day).label("expires_on"),
    ).where(expiring.c.points >= params.min_points)


def _sums(run: RunContext, customers: Select[Any], earned_on: date) -> CandidateQuery:
    """Per customer, over the entries booked by T: the balance, the points of the lots of
    `earned_on` (`due`) and of the positive entries dated after it (`later`)."""
    positive = LedgerEntry.points > 0
    due = and_(LedgerEntry.on_date == earned_on, LedgerEntry.kind.in_(LOT_KINDS), positive)
    later = and_(LedgerEntry.on_date > earned_on, positive)
    return (
        select(
            LedgerEntry.customer_id.label("customer_id"),
            func.sum(LedgerEntry.points).label("balance"),
            func.sum(case((later, LedgerEntry.points), else_=0)).label("later"),
            func.sum(case((due, LedgerEntry.points), else_=0)).label("due"),
        )
        .where(LedgerEntry.customer_id.in_(customers), LedgerEntry.at <= run.at)
        .group_by(LedgerEntry.customer_id)
    )


TRIGGER = Trigger(
    name="points_expiring",
    params=PointsExpiringParams,
    candidates=candidates,
    summary="points of the customer's lots expire in days_before days",
)
