"""win_back: the customer's last order is between `min_days` and `max_days` days old.

Rule: run date - shop-local date of the last order placed on or before the run date is
within [min_days, max_days]. Once per lapse: the occasion is `win_back:<last order date>`,
so a customer who orders again and lapses again is won back again.

Cost: a range on the indexed `customer_stats.last_order_on`. When the run date lies in
the past (a replay), customers whose summary already shows a later order are checked
against their orders, so the answer is exact for any run date.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator
from sqlalchemy import func, select, union_all

from shop.models import CustomerStats, Order
from triggers.base import CandidateQuery, Params, RunContext, Trigger, iso_text


class WinBackParams(Params):
    min_days: int = Field(90, ge=1)
    max_days: int = Field(120, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> WinBackParams:
        if self.min_days > self.max_days:
            raise ValueError("min_days must not exceed max_days")
        return self


def candidates(params: WinBackParams, run: RunContext) -> CandidateQuery:
    oldest, newest = run.days_ago(params.max_days), run.days_ago(params.min_days)
    current = select(
        CustomerStats.customer_id.label("customer_id"),
        CustomerStats.last_order_on.label("last_order_on"),
    ).where(CustomerStats.last_order_on.between(oldest, newest))
    # Only for replays of past dates: the summary shows an order after the run date, so
    # the last order as of the run date comes from the (customer_id, ordered_at) index.
    last_as_of_run = (
        select(func.max(Order.local_date))
        .where(
            Order.customer_id == CustomerStats.customer_id,
            Order.ordered_at < run.start_of(run.run_date + timedelta(days=1)),
        )
        .scalar_subquery()
    )
    later = (
        select(
            CustomerStats.customer_id.label("customer_id"),
            last_as_of_run.label("last_order_on"),
        )
        .where(CustomerStats.last_order_on > run.run_date)
        .subquery()
    )
    replayed = select(later).where(later.c.last_order_on.between(oldest, newest))
    lapsed = union_all(current, replayed).subquery()
    return select(
        lapsed.c.customer_id,
        ("win_back:" + iso_text(lapsed.c.last_order_on)).label("occasion"),
        iso_text(lapsed.c.last_order_on).label("last_order_on"),
    )


TRIGGER = Trigger(
    name="win_back",
    params=WinBackParams,
    candidates=candidates,
    summary="customers whose last order is min_days to max_days old",
)
