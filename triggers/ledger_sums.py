"""Ledger sums of the customers with entries booked since the previous run, read from their
summaries where those hold every entry a trigger counts, else from the ledger.

Summing each such customer's whole ledger costs the run one index range per customer (at
1M customers, 63k buyers a day with 26 entries each: 0.5 s per trigger). The summary
(`customer_stats`, shop.stats) already holds those sums, refreshed by every writer of
entries and by the daily run for the customers moved since the previous run. A trigger
trusts it for a customer when it holds every entry booked in (P, T] (its `ledger_through`
is at least their highest id) and nothing booked after T (`ledger_last_at` <= T): then the
sum at T is the summary's, and the sum at P is that less the entries of (P, T]. Any other
customer (a summary not refreshed since, or a replay of a past date) is summed from the
ledger as before, so the answer is the same either way.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import CTE, ColumnElement, Subquery, and_, case, func, select, true, union_all

from shop.models import CustomerStats, LedgerEntry
from shop.stats import counts_actions
from triggers.base import RunContext


def points_of(kinds: tuple[str, ...], *conditions: ColumnElement[bool]) -> ColumnElement[int]:
    """SUM of the points of entries of `kinds` (and `conditions`), 0 when none."""
    return func.sum(
        case((and_(LedgerEntry.kind.in_(kinds), *conditions), LedgerEntry.points), else_=0)
    )


def any_of(kinds: tuple[str, ...]) -> ColumnElement[int]:
    """1 when the group has an entry of `kinds`, else 0."""
    return func.max(case((LedgerEntry.kind.in_(kinds), 1), else_=0))


def booked_since_previous_run(run: RunContext, **sums: ColumnElement[int]) -> Subquery:
    """Per customer with an entry booked in (P, T]: the `sums` over those entries, and their
    highest id (`last_id`). A range of the covering `at` index, which carries kind, points,
    date and id."""
    return (
        select(
            LedgerEntry.customer_id.label("customer_id"),
            func.max(LedgerEntry.id).label("last_id"),
            *(expression.label(name) for name, expression in sums.items()),
        )
        .where(LedgerEntry.at > run.previous_run_at, LedgerEntry.at <= run.at)
        .group_by(LedgerEntry.customer_id)
        .subquery("booked")
    )


def summary_holds(booked: Subquery, run: RunContext) -> ColumnElement[bool]:
    """The customer's summary holds every entry booked in (P, T] and none booked after T."""
    stats = CustomerStats
    return and_(stats.ledger_through >= booked.c.last_id, stats.ledger_last_at <= run.at)


def with_summaries(
    run: RunContext,
    name: str,
    booked: Subquery,
    moved: ColumnElement[bool],
    usable: ColumnElement[bool],
    **values: ColumnElement[int],
) -> CTE:
    """The `moved` customers of `booked` with their summary's `values` and `held`: 1 when
    the summary holds their entries and is `usable`, else 0 (also for a missing one, whose
    columns are NULL). A CTE, read twice (the customers summed from their summary, and the
    others, summed from the ledger) but computed once: both databases materialize a CTE
    named twice."""
    held = case((and_(summary_holds(booked, run), usable), 1), else_=0)
    return (
        select(
            *booked.c,
            *(value.label(label) for label, value in values.items()),
            held.label("held"),
        )
        .outerjoin(CustomerStats, CustomerStats.customer_id == booked.c.customer_id)
        .where(moved)
        .cte(name)
    )


def earned(run: RunContext, part: Literal["lifetime", "window", "left"]) -> ColumnElement[int]:
    """The summary's points earned (the program's tier kinds): lifetime, in the tier window
    as of its `computed_on`, or dated on the day that left the window then."""
    stats = CustomerStats
    orders, actions = {
        "lifetime": (stats.earned_orders, stats.earned_actions),
        "window": (stats.window_orders, stats.window_actions),
        "left": (stats.left_orders, stats.left_actions),
    }[part]
    both = orders + actions if counts_actions(run.loyalty) else orders
    return func.coalesce(both, 0)  # not NULL where summary_holds


def sums_now_and_before(
    run: RunContext,
    name: str,
    rising: tuple[str, ...],
    kinds: tuple[str, ...] | None,
    summary: ColumnElement[int],
) -> Subquery:
    """(customer_id, now, before): the sum of the entries of `kinds` (all when None) booked
    by T and by P, for each customer with an entry of `rising` booked in (P, T]; `summary`
    is that sum as the summary holds it (all of the customer's entries)."""
    of_kinds = (LedgerEntry.kind.in_(kinds),) if kinds is not None else ()
    gained = points_of(kinds) if kinds is not None else func.sum(LedgerEntry.points)
    booked = booked_since_previous_run(run, rose=any_of(rising), gained=gained)
    moved = with_summaries(run, name, booked, booked.c.rose == 1, true(), summed=summary)
    from_summary = select(
        moved.c.customer_id,
        moved.c.summed.label("now"),
        (moved.c.summed - moved.c.gained).label("before"),
    ).where(moved.c.held == 1)
    unsummarized = select(moved.c.customer_id).where(moved.c.held == 0)
    from_ledger = (
        select(
            LedgerEntry.customer_id,
            func.sum(LedgerEntry.points),
            func.sum(case((LedgerEntry.at <= run.previous_run_at, LedgerEntry.points), else_=0)),
        )
        .where(LedgerEntry.customer_id.in_(unsummarized), *of_kinds, LedgerEntry.at <= run.at)
        .group_by(LedgerEntry.customer_id)
    )
    return union_all(from_summary, from_ledger).subquery(name + "_sums")
