"""RFM segments of the customers active at the end of a period, set-based.

For each customer with an order in the `active_days` days ending on `end`: recency (the
date of the last order), frequency (orders in that window) and monetary (cents spent in
it), each scored 1 to 5 by where the customer stands among the active customers:
score = 1 + floor(5 x (rank - 1) / n), rank = RANK() ascending (ties share the lowest).
So a score is the quintile of "customers with a strictly smaller value"; equal behaviour
gets an equal score, which NTILE would not promise (it splits ties by row order, which
differs between SQLite and PostgreSQL). The segment is read off the R x FM grid below,
FM = round-half-up of (F + M) / 2. Definitions: docs/kpis.md.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from shop.models import Order

SEGMENTS = (
    "champions",
    "loyal",
    "potential_loyalists",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "lost",
)

# GRID[r - 1][fm - 1]: rows recency 1 (longest ago) .. 5, columns FM 1 .. 5.
GRID = (
    ("lost", "lost", "at_risk", "at_risk", "cannot_lose"),
    ("hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"),
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    ("promising", "potential_loyalists", "potential_loyalists", "loyal", "loyal"),
    ("new", "potential_loyalists", "potential_loyalists", "champions", "champions"),
)


def segment_of(recency: int, fm: int) -> str:
    """The segment of one cell of the grid (scores 1..5)."""
    return GRID[recency - 1][fm - 1]


def rfm_segments(connection: Connection, end: date, active_days: int) -> dict[str, int]:
    """Active customers per segment (every segment present, 0 when empty)."""
    scores = _scores(end, active_days).subquery()
    scored = select(scores.c.r, ((scores.c.f + scores.c.m + 1) // 2).label("fm")).subquery()
    cells = select(scored.c.r, scored.c.fm, func.count()).group_by(scored.c.r, scored.c.fm)
    counts = dict.fromkeys(SEGMENTS, 0)
    for recency, fm_score, customers in connection.execute(cells):
        counts[segment_of(int(recency), int(fm_score))] += int(customers)
    return counts


def _scores(end: date, active_days: int) -> Any:
    """One row per active customer: its R, F and M scores."""
    day = Order.local_date
    per = (
        select(
            func.max(day).label("last_on"),
            func.count().label("orders"),
            func.sum(Order.total_cents).label("cents"),
        )
        .where(day > end - timedelta(days=active_days), day <= end)
        .group_by(Order.customer_id)
        .subquery()
    )
    active = func.count().over()
    return select(
        *(
            (1 + (5 * (func.rank().over(order_by=column) - 1)) // active).label(name)
            for name, column in (("r", per.c.last_on), ("f", per.c.orders), ("m", per.c.cents))
        )
    )
