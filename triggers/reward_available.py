"""reward_available: the customer's points balance reached a reward since the day before.

Rule, for the run instant T and its previous run P (same local time, one calendar day
earlier): the customer has an entry that can add points (`earn`, `bonus`, `adjust`) booked
in (P, T] (only those can raise a balance), and their balance, the sum of
their entries booked by T (`at <= T`), is at least `[loyalty] reward_points` while the sum
of those booked by P was below it. The daily run books the day's expiries before it plans,
so the sum is the FIFO balance (shop.loyalty.balance_on). Once per crossing: the occasion is
`reward:<run date>`, so a customer who spends below the reward and climbs back over it gets
a new moment. The message carries a reward coupon (campaigns.offers): `[loyalty]
reward_percent_off` off, valid `valid_days`, costing `reward_points` points when an order
redeems it. `rewards` says how many rewards the balance pays for.

Cost: the customers with such an entry booked in (P, T] (a range of the covering `at`
index, which carries kind, points and id; the day's expiries and redemptions alone bring
nobody in); their balances come from their summaries (triggers.ledger_sums), or, for a
customer whose summary does not hold those entries, from the covering
(customer_id, on_date, kind, at, points) index.
"""

from __future__ import annotations

from pydantic import Field
from sqlalchemy import Subquery, func, literal, select

from shop.models import ADJUST, LOT_KINDS, CustomerStats
from triggers.base import CandidateQuery, Params, RunContext, Trigger
from triggers.ledger_sums import sums_now_and_before

RISING_KINDS = (*LOT_KINDS, ADJUST)  # the kinds whose entries may be positive


class RewardAvailableParams(Params):
    valid_days: int = Field(30, ge=1, le=365)


def candidates(params: RewardAvailableParams, run: RunContext) -> CandidateQuery:
    reward = run.loyalty.reward_points
    balances = _balance_now_and_before(run)
    return select(
        balances.c.customer_id,
        literal(f"reward:{run.run_date.isoformat()}").label("occasion"),
        balances.c.now.label("points_balance"),
        (balances.c.now // reward).label("rewards"),
    ).where(balances.c.now >= reward, balances.c.before < reward)


def _balance_now_and_before(run: RunContext) -> Subquery:
    """The balance at T and at P of each customer with a rising entry booked in (P, T]
    (triggers.ledger_sums)."""
    # The balance rises only with a positive entry (a lot, or an adjustment): customers
    # whose only movements since P are spends and expiries cannot cross upward.
    net = func.coalesce(CustomerStats.points_net, 0)  # not NULL where the summary holds
    return sums_now_and_before(run, "balance", RISING_KINDS, None, net)


TRIGGER = Trigger(
    name="reward_available",
    params=RewardAvailableParams,
    candidates=candidates,
    summary="the points balance reached a reward since the day before",
)
