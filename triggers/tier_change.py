"""tier_change: the customer's loyalty tier differs from the day before.

Tiers rank customers by points EARNED in a rolling window of `points_expire_days` days
(spending never lowers a tier): the ledger kinds `loyalty.tier_kinds` (orders' `earn`
entries, the `reverse` entries of cancelled or refunded orders, and interactions' `bonus`
entries when `actions_count_toward_tiers`). The tier as of an instant t counts those
entries booked by t (`at <= t`) whose shop-local date d satisfies
d > date(t) - points_expire_days. A reversal carries its order's date and the instant Leal
learned it: it lowers the window from that instant, as if the order had never earned.
The rule compares the tier at the run instant T with the tier at the previous day's run
instant P (same local time, one calendar day earlier), so every order counts in exactly
one daily run, also one placed after today's run. `direction` keeps ups, downs or both.
Once per (customer, new tier, run date): `tier:<new tier>:<run date>`.

Cost: only customers with a tier-kind entry booked in (P, T] (points earned, or taken
back) or with points that left the window on the run date can change; the covering `at`
index finds them and their window sums read only the covering
(customer_id, on_date, kind, at, points) index.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy import ColumnElement, Integer, Select, and_, case, func, literal, or_, select

from campaigns.config import LoyaltySettings
from shop.models import LedgerEntry
from shop.stats import tier_expression
from triggers.base import CandidateQuery, Params, RunContext, Trigger


class TierChangeParams(Params):
    direction: Literal["up", "down", "both"] = "up"


def tier_rank(points: ColumnElement[int], loyalty: LoyaltySettings) -> ColumnElement[int]:
    """The tier's position, lowest 0, as SQL."""
    thresholds = list(loyalty.tiers.values())
    whens = [
        (points >= threshold, rank) for rank, threshold in reversed(list(enumerate(thresholds)))
    ]
    return case(*whens[:-1], else_=0) if len(whens) > 1 else literal(0, Integer())


def window_changed(run: RunContext, *, gained: bool = True, lost: bool = True) -> Select[str]:
    """Customers whose tier window changed since the previous run: tier-kind entries
    booked in (P, T] (`gained`: points earned, or a cancelled order's taken back), or
    points earned on the day that left the window today (`lost`). A reversal leaves the
    window with its order's points, so only lots need finding by the day they left."""
    dropped_today = run.run_date - timedelta(days=run.loyalty.points_expire_days)
    ranges = []
    if gained:
        ranges.append(and_(LedgerEntry.at > run.previous_run_at, LedgerEntry.at <= run.at))
    if lost:
        ranges.append(
            and_(
                LedgerEntry.at >= run.start_of(dropped_today),
                LedgerEntry.at < run.start_of(dropped_today + timedelta(days=1)),
            )
        )
    kinds = run.loyalty.tier_kinds
    return (
        select(LedgerEntry.customer_id).where(LedgerEntry.kind.in_(kinds), or_(*ranges)).distinct()
    )


def candidates(params: TierChangeParams, run: RunContext) -> CandidateQuery:
    loyalty, now, before = run.loyalty, run.at, run.previous_run_at
    days = timedelta(days=loyalty.points_expire_days)
    window_now = LedgerEntry.on_date > run.run_date - days
    window_before = LedgerEntry.on_date > run.run_date - timedelta(days=1) - days
    # Points leaving the window only lower it: an up needs an entry booked since P (a
    # down may come from either: a reversal is booked, lots leave).
    moved = window_changed(run, lost=params.direction != "up")
    sums = (
        select(
            LedgerEntry.customer_id.label("customer_id"),
            func.sum(case((window_now, LedgerEntry.points), else_=0)).label("points_now"),
            func.sum(
                case((and_(window_before, LedgerEntry.at <= before), LedgerEntry.points), else_=0)
            ).label("points_before"),
        )
        .where(
            LedgerEntry.customer_id.in_(moved),
            LedgerEntry.kind.in_(loyalty.tier_kinds),
            window_before,
            LedgerEntry.at <= now,
        )
        .group_by(LedgerEntry.customer_id)
        .subquery()
    )
    rank_now = tier_rank(sums.c.points_now, loyalty)
    rank_before = tier_rank(sums.c.points_before, loyalty)
    changed = {"up": rank_now > rank_before, "down": rank_now < rank_before}.get(
        params.direction, rank_now != rank_before
    )
    new_tier = tier_expression(sums.c.points_now, loyalty)
    return select(
        sums.c.customer_id,
        ("tier:" + new_tier + f":{run.run_date.isoformat()}").label("occasion"),
        tier_expression(sums.c.points_before, loyalty).label("old_tier"),
        new_tier.label("new_tier"),
        sums.c.points_now.label("points_window"),
    ).where(changed)


TRIGGER = Trigger(
    name="tier_change",
    params=TierChangeParams,
    candidates=candidates,
    summary="the customer's loyalty tier went up (or down) since the day before",
)
