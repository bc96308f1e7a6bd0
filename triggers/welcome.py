"""welcome: a series of messages to customers who just joined, `days_after` days apart.

Rule, for the run instant T, its previous run P (same local time, one calendar day earlier)
and each step d of `days_after`: the customer's `created_at` lies in (P - d days, T - d days]
(the same local wall-clock time d calendar days earlier, so a DST night moves nothing), and
with `stop_on_order` (default) a step d > 0 is skipped once the customer placed an order
that is not cancelled in (created_at, T]. Step 0 is in (P, T]: a customer who joined at
23:59 yesterday is welcomed by today's run, one who joins a second after today's run by
tomorrow's. Once per step: the occasion is `welcome:<d>`.

Cost: one range of the indexed `customers.created_at` per step (a few hundred customers a
day); the order check probes the (customer_id, ordered_at) index for those only.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from sqlalchemy import Integer, exists, literal, select, union_all

from shop.models import Customer, Order
from triggers.base import CandidateQuery, Params, RunContext, Trigger, iso_text

CANCELLED = "cancelled"  # an order that never happened for the series; refunded ones did


class WelcomeParams(Params):
    days_after: list[int] = Field(default_factory=lambda: [0], min_length=1)
    stop_on_order: bool = True

    @field_validator("days_after")
    @classmethod
    def _steps(cls, days_after: list[int]) -> list[int]:
        if any(not 0 <= days <= 60 for days in days_after):
            raise ValueError("each step is 0 to 60 days after joining")
        if len(set(days_after)) != len(days_after):
            raise ValueError("a step is listed twice")
        return sorted(days_after)


def candidates(params: WelcomeParams, run: RunContext) -> CandidateQuery:
    steps = [_step(params, run, days) for days in params.days_after]
    return steps[0] if len(steps) == 1 else select(union_all(*steps).subquery("steps"))


def _step(params: WelcomeParams, run: RunContext, days: int) -> CandidateQuery:
    conditions = [
        Customer.created_at > run.wall_clock_days_ago(days + 1),
        Customer.created_at <= run.wall_clock_days_ago(days),
    ]
    if params.stop_on_order and days > 0:
        ordered = exists().where(
            Order.customer_id == Customer.id,
            Order.ordered_at > Customer.created_at,
            Order.ordered_at <= run.at,
            Order.status != CANCELLED,
        )
        conditions.append(~ordered)
    return select(
        Customer.id.label("customer_id"),
        literal(f"welcome:{days}").label("occasion"),
        literal(days, Integer()).label("step"),
        iso_text(Customer.created_at).label("joined_at"),
    ).where(*conditions)


TRIGGER = Trigger(
    name="welcome",
    params=WelcomeParams,
    candidates=candidates,
    summary="customers who joined days_after days ago (a series of steps)",
)
