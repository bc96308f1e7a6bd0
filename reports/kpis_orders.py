"""The order KPIs of a period, from one grouped pass over the orders up to its end.

Each customer's orders on or before `end` are summed once (per customer, by CASE over
the shop-local `local_date`), and one outer row adds those sums up: active customers at
both edges, new ones, the period's orders and buyers, the upsell comparison, and the
lifetime totals behind historic CLV. Lifetime totals need every order up to `end`, so
the pass reads them all; splitting the groups into separate queries would read them again.
Definitions: docs/kpis.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, select

from shop.models import Order


@dataclass(frozen=True)
class OrderActivity:
    """Exact integer counts and cents; rates are derived by `reports.kpis`."""

    customers_at_start: int = 0  # an order in the `active_days` days before `start`
    customers_at_end: int = 0  # an order in the `active_days` days ending on `end`
    new_customers: int = 0  # active at end, first order ever in [start, end]
    orders: int = 0  # in [start, end]
    revenue_cents: int = 0
    buyers: int = 0  # customers with an order in [start, end]
    repeat_buyers: int = 0  # ... with two or more
    returning_buyers: int = 0  # buyers also active at start
    upsold_buyers: int = 0  # returning buyers whose average order grew
    lifetime_customers: int = 0  # customers with an order on or before `end`
    lifetime_cents: int = 0
    year_orders: int = 0  # orders in the `active_days` days ending on `end`
    year_cents: int = 0


def order_activity(
    connection: Connection, start: date, end: date, active_days: int
) -> OrderActivity:
    """The period's order figures, all from one statement."""
    per = _per_customer(start, end, active_days).subquery()
    returning = and_(per.c.n_before > 0, per.c.n_period > 0)
    # avg(period) > avg(before), cross-multiplied: exact integers on both dialects
    grew = per.c.v_period * per.c.n_before > per.c.v_before * per.c.n_period
    row = connection.execute(
        select(
            _count_if(per.c.n_before > 0),
            _count_if(per.c.n_year > 0),
            _count_if(and_(per.c.n_year > 0, per.c.first_on >= start)),
            func.sum(per.c.n_period),
            func.sum(per.c.v_period),
            _count_if(per.c.n_period > 0),
            _count_if(per.c.n_period >= 2),
            _count_if(returning),
            _count_if(and_(returning, grew)),
            func.count(),
            func.sum(per.c.v_all),
            func.sum(per.c.n_year),
            func.sum(per.c.v_year),
        )
    ).one()
    return OrderActivity(*(int(value or 0) for value in row))


def _per_customer(start: date, end: date, active_days: int) -> Any:
    """One row per customer with an order on or before `end`: counts and cents by range."""
    day = Order.local_date
    before = and_(day >= start - timedelta(days=active_days), day < start)
    in_period = day >= start
    in_year = day > end - timedelta(days=active_days)
    return (
        select(
            func.min(day).label("first_on"),
            _sum_if(before, 1).label("n_before"),
            _sum_if(before, Order.total_cents).label("v_before"),
            _sum_if(in_period, 1).label("n_period"),
            _sum_if(in_period, Order.total_cents).label("v_period"),
            _sum_if(in_year, 1).label("n_year"),
            _sum_if(in_year, Order.total_cents).label("v_year"),
            func.sum(Order.total_cents).label("v_all"),
        )
        .where(day <= end)
        .group_by(Order.customer_id)
    )


def _sum_if(condition: ColumnElement[bool], value: Any) -> ColumnElement[int]:
    return func.sum(case((condition, value), else_=0))


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return _sum_if(condition, 1)
