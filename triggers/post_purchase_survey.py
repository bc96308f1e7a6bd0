"""post_purchase_survey: ask how a purchase went, `days_after` days after it arrived.

Rule, for the run instant T, its previous run P (same wall-clock time a calendar day
earlier) and d = `days_after`:
- an order that is not cancelled or refunded, whose reference instant R lies in
  (P - d days, T - d days], "d days" being d calendar days of shop-local wall-clock time
  (DST-aware, as P is): consecutive daily runs tile time, so every instant falls in
  exactly one run's window, whatever the hour of the run and even for d = 0;
- R is `delivered_at` when the shop sent it (and it is not after T), else `ordered_at`;
  with `wait_for_delivery` an order without a delivery by T is never surveyed;
- the customer has no outbox row of a campaign on this trigger (any campaign, any status,
  holdout included) with a run date in [run date - cooldown_days + 1, run date - 1];
- of a customer's qualifying orders in one run, only the latest (by R, then order id).
Once per order: the occasion is `survey:<order id>`.

An order surveyed on its `ordered_at` (no delivery known then) whose `delivered_at`
arrives later is a candidate again d days after delivery, with the same occasion: the
outbox refuses it for the same campaign, and the cooldown for any other survey campaign
(when cooldown_days exceeds the delay). Shops that send deliveries late set
`wait_for_delivery`, so orders are surveyed only after delivery.

Cost: a range of `ix_orders_ordered_at` and of the partial `ix_orders_delivered_at` (one
day of orders each), then one probe per customer found of the outbox index
`ix_outbox_customer (customer_id, trigger, run_date)` (migration 0021; without it each probe
scanned every message of the cooldown's days).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field
from sqlalchemy import ColumnElement, exists, func, or_, select, union_all

from shop.models import PLACED, Order, OutboxMessage
from triggers.base import CandidateQuery, Params, RunContext, Trigger, iso_text

NAME = "post_purchase_survey"


class PostPurchaseSurveyParams(Params):
    days_after: int = Field(3, ge=0, le=60)
    cooldown_days: int = Field(90, ge=0, le=3650)
    wait_for_delivery: bool = False


def candidates(params: PostPurchaseSurveyParams, run: RunContext) -> CandidateQuery:
    since = run.wall_clock_days_ago(params.days_after + 1)  # P - d days
    until = run.wall_clock_days_ago(params.days_after)  # T - d days
    branches = _reference_branches(params, run, since, until)
    orders = union_all(*branches) if len(branches) > 1 else branches[0]
    reference = orders.subquery()
    latest = (
        func.row_number()
        .over(
            partition_by=reference.c.customer_id,
            order_by=(reference.c.reference_at.desc(), reference.c.order_id.desc()),
        )
        .label("latest")
    )
    ranked = select(reference, latest).subquery()
    conditions: list[ColumnElement[bool]] = [ranked.c.latest == 1]
    if params.cooldown_days > 0:
        conditions.append(~_surveyed_recently(ranked.c.customer_id, run, params.cooldown_days))
    return select(
        ranked.c.customer_id,
        ("survey:" + ranked.c.order_id).label("occasion"),
        ranked.c.order_id,
        iso_text(ranked.c.ordered_at).label("ordered_at"),
        iso_text(ranked.c.delivered_at).label("delivered_at"),
    ).where(*conditions)


def _reference_branches(
    params: PostPurchaseSurveyParams, run: RunContext, since: datetime, until: datetime
) -> list[CandidateQuery]:
    """Orders whose reference instant lies in (since, until]: delivered ones by delivery
    (the partial delivery index), the others by order (the ordered_at index)."""
    columns = (Order.customer_id, Order.id.label("order_id"), Order.ordered_at, Order.delivered_at)
    delivered = select(*columns, Order.delivered_at.label("reference_at")).where(
        Order.delivered_at.is_not(None),
        Order.delivered_at > since,
        Order.delivered_at <= until,
        Order.status == PLACED,
    )
    if params.wait_for_delivery:
        return [delivered]
    # As of T: a delivery recorded after T (a replay) was not known at T.
    undelivered = or_(Order.delivered_at.is_(None), Order.delivered_at > run.at)
    ordered = select(*columns, Order.ordered_at.label("reference_at")).where(
        Order.ordered_at > since, Order.ordered_at <= until, undelivered, Order.status == PLACED
    )
    return [ordered, delivered]


def _surveyed_recently(
    customer_id: ColumnElement[str], run: RunContext, cooldown_days: int
) -> ColumnElement[bool]:
    """An outbox row of any campaign on this trigger in the cooldown before the run date.

    The run date itself is left out, so a re-run of the same day finds the same moments
    (the outbox then refuses them), and later rows are left out, so a replay of a past
    date sees what was asked before it.
    """
    first: date = run.days_ago(cooldown_days - 1)
    return exists().where(
        OutboxMessage.trigger == NAME,
        OutboxMessage.customer_id == customer_id,
        OutboxMessage.run_date >= first,
        OutboxMessage.run_date < run.run_date,
    )


TRIGGER = Trigger(
    name=NAME,
    params=PostPurchaseSurveyParams,
    candidates=candidates,
    summary="days_after days after an order (or its delivery): ask how it went",
)
