"""milestone: the customer's lifetime points earned crossed a threshold since the day before.

Points earned, lifetime, as of an instant t: the sum of the customer's `loyalty.tier_kinds`
entries booked by t (`at <= t`): orders' points, less those of cancelled or refunded
orders, plus points for actions when `actions_count_toward_tiers`. Spending and expiry
never lower it. The rule compares it at the run instant T and at the previous run P (same
local time, one calendar day earlier), like tier_change, so each order counts in exactly one
daily run: for the highest threshold h with earned(T) >= h, the moment fires when
earned(P) < h. A run that crosses two thresholds at once (a big first order) fires the
highest only: the lower one is past, never sent later. Once per threshold ever: the
occasion is `milestone:<h>`, and the outbox holds it once, so a customer whose cancelled
order takes them back under a threshold is not congratulated twice for it.

Cost: only customers with points earned booked in (P, T] (an `earn` entry, or a `bonus` one
when it counts) can cross: the covering `at` index finds them; their lifetime sums come from
their summaries (triggers.ledger_sums), or, for a customer whose summary does not hold those
entries, from the covering (customer_id, on_date, kind, at, points) index.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Subquery,
    case,
    cast,
    literal,
    null,
    select,
)

from shop.models import LOT_KINDS
from triggers.base import CandidateQuery, Params, RunContext, Trigger
from triggers.ledger_sums import earned, sums_now_and_before


class MilestoneParams(Params):
    thresholds: list[int] = Field(default_factory=lambda: [1000], min_length=1)

    @field_validator("thresholds")
    @classmethod
    def _positive_and_unique(cls, thresholds: list[int]) -> list[int]:
        if any(threshold < 1 for threshold in thresholds):
            raise ValueError("thresholds are points earned: each at least 1")
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("a threshold is listed twice")
        return sorted(thresholds)


def candidates(params: MilestoneParams, run: RunContext) -> CandidateQuery:
    sums = _earned_now_and_before(run)
    reached = _highest_reached(sums.c.now, params.thresholds)
    crossed = (
        select(
            sums.c.customer_id,
            reached.label("threshold"),
            sums.c.now.label("points_earned"),
        )
        .where(reached.is_not(None), sums.c.before < reached)
        .subquery("crossed")
    )
    return select(
        crossed.c.customer_id,
        ("milestone:" + cast(crossed.c.threshold, String())).label("occasion"),
        crossed.c.threshold,
        crossed.c.points_earned,
    )


def _earned_now_and_before(run: RunContext) -> Subquery:
    """Lifetime points earned at T and at P of each customer with points earned booked in
    (P, T] (triggers.ledger_sums)."""
    kinds = run.loyalty.tier_kinds
    # Points earned rise only with a lot of a tier kind (a reversal lowers them).
    rising = tuple(kind for kind in kinds if kind in LOT_KINDS)
    return sums_now_and_before(run, "earned", rising, kinds, earned(run, "lifetime"))


def _highest_reached(points: ColumnElement[int], thresholds: list[int]) -> ColumnElement[int]:
    """The highest threshold at most `points`, NULL below the lowest."""
    whens = [(points >= threshold, literal(threshold, Integer())) for threshold in thresholds]
    return case(*reversed(whens), else_=null())


TRIGGER = Trigger(
    name="milestone",
    params=MilestoneParams,
    candidates=candidates,
    summary="lifetime points earned crossed a threshold (once per threshold)",
)
