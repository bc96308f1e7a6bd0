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
index finds them. The window at T of one with entries booked in (P, T] is their summary's
(triggers.ledger_sums) when it holds those entries and was computed for the run date (the
daily run refreshes the summaries of the customers it moved before it plans), and the
window at P follows from the entries of (P, T] and those dated on the day that left it.
The others' window sums read the covering (customer_id, on_date, kind, at, points) index.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    Subquery,
    and_,
    case,
    func,
    literal,
    select,
    union,
    union_all,
)

from campaigns.config import LoyaltySettings
from shop.models import CustomerStats, LedgerEntry
from shop.stats import tier_expression
from triggers.base import CandidateQuery, Params, RunContext, Trigger
from triggers.ledger_sums import (
    any_of,
    booked_since_previous_run,
    earned,
    points_of,
    with_summaries,
)


class TierChangeParams(Params):
    direction: Literal["up", "down", "both"] = "up"


def tier_rank(points: ColumnElement[int], loyalty: LoyaltySettings) -> ColumnElement[int]:
    """The tier's position, lowest 0, as SQL."""
    thresholds = list(loyalty.tiers.values())
    whens = [
        (points >= threshold, rank) for rank, threshold in reversed(list(enumerate(thresholds)))
    ]
    return case(*whens[:-1], else_=0) if len(whens) > 1 else literal(0, Integer())


def left_window_today(run: RunContext) -> Select[str]:
    """Customers with points earned on the day that left the tier window today (those
    with entries booked since the previous run are found by that range). A reversal leaves
    the window with its order's points, so only lots need finding by the day they left."""
    dropped_today = run.run_date - timedelta(days=run.loyalty.points_expire_days)
    return (
        select(LedgerEntry.customer_id)
        .where(
            LedgerEntry.kind.in_(run.loyalty.tier_kinds),
            LedgerEntry.at >= run.start_of(dropped_today),
            LedgerEntry.at < run.start_of(dropped_today + timedelta(days=1)),
        )
        .distinct()
    )


def candidates(params: TierChangeParams, run: RunContext) -> CandidateQuery:
    loyalty = run.loyalty
    sums = _windows_now_and_before(run, params)
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


def _windows_now_and_before(run: RunContext, params: TierChangeParams) -> Subquery:
    """The tier window at T and at P of each customer whose window changed: from the
    summary where it holds the entries booked in (P, T] and was computed for the run date,
    else from the ledger.

    From the summary: the window at T is its window. The window at P held the same entries
    less those booked in (P, T], plus those dated on the day that left the window today
    (`dropped`) and booked by P: the summary's `left` less those of them booked since P."""
    kinds, days = run.loyalty.tier_kinds, timedelta(days=run.loyalty.points_expire_days)
    dropped = run.run_date - days  # its entries were in P's window, not in T's
    window_now = LedgerEntry.on_date > dropped
    window_before = LedgerEntry.on_date > dropped - timedelta(days=1)
    booked = booked_since_previous_run(
        run,
        touched=any_of(kinds),
        gained=points_of(kinds, window_now),
        gained_left=points_of(kinds, LedgerEntry.on_date == dropped),
    )
    touched = with_summaries(
        run, "window_moved", booked, booked.c.touched == 1,
        CustomerStats.computed_on == run.run_date,  # the summary's window is the run date's
        window=earned(run, "window"), left=earned(run, "left"),
    )  # fmt: skip
    before = touched.c.window - touched.c.gained + touched.c.left - touched.c.gained_left
    from_summary = select(
        touched.c.customer_id,
        touched.c.window.label("points_now"),
        before.label("points_before"),
    ).where(touched.c.held == 1)
    unsummarized: CompoundSelect[tuple[str]] | Select[tuple[str]] = select(
        touched.c.customer_id
    ).where(touched.c.held == 0)
    if params.direction != "up":
        # Points leaving the window only lower it: a down may also come from lots that
        # left today, of customers with nothing booked since P.
        lost = left_window_today(run).subquery("lost")
        summarized = select(touched.c.customer_id).where(touched.c.held == 1)
        others = select(lost.c.customer_id).where(lost.c.customer_id.not_in(summarized))
        unsummarized = union(unsummarized, others)
    booked_by_p = LedgerEntry.at <= run.previous_run_at
    from_ledger = (
        select(
            LedgerEntry.customer_id,
            func.sum(case((window_now, LedgerEntry.points), else_=0)),
            func.sum(case((and_(window_before, booked_by_p), LedgerEntry.points), else_=0)),
        )
        .where(
            LedgerEntry.customer_id.in_(unsummarized),
            LedgerEntry.kind.in_(kinds),
            window_before,
            LedgerEntry.at <= run.at,
        )
        .group_by(LedgerEntry.customer_id)
    )
    return union_all(from_summary, from_ledger).subquery("windows")


TRIGGER = Trigger(
    name="tier_change",
    params=TierChangeParams,
    candidates=candidates,
    summary="the customer's loyalty tier went up (or down) since the day before",
)
