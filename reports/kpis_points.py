"""Points issued, redeemed and expired per shop-local day of a period, from the ledger.

Every entry carries its shop-local `on_date` (an earn entry its order's date, a reverse
entry its order's date too, an expire entry the day its lot expired), so a day's flow is
one GROUP BY on_date; the period's totals are the days' sums. The kinds of
`shop.models`, each in one flow at most:

- issued: `earn` (orders) and `bonus` (interactions), less `reverse` (a cancelled or
  refunded order's points taken back: points never really issued, not a redemption);
- redeemed: `redeem` (points an order spent) and `reward` (a reward coupon's points cost),
  less `refund` (what a cancelled or refunded order had spent, given back). A refund is
  dated the day Leal learned of it, so a day with more refunded than spent redeems less
  than nothing; the period's figure is still the days' sum;
- expired: `expire`;
- `adjust` (a correction by hand) is in no flow: it moves the balance only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Connection, case, func, select

from shop.models import BONUS, EARN, EXPIRE, REDEEM, REFUND, REVERSE, REWARD, LedgerEntry

# Summed with their signs, then negated for the spends: a reverse entry (-) nets out of
# what was issued, a refund (+) out of what was redeemed.
ISSUED = (EARN, BONUS, REVERSE)
REDEEMED = (REDEEM, REWARD, REFUND)
EXPIRED = (EXPIRE,)


@dataclass(frozen=True)
class PointsDay:
    """One day's flow in points: issued net of reversals, redeemed net of refunds."""

    day: date
    issued: int = 0
    redeemed: int = 0
    expired: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "date": self.day.isoformat(),
            "issued": self.issued,
            "redeemed": self.redeemed,
            "expired": self.expired,
        }


def points_days(connection: Connection, start: date, end: date) -> tuple[PointsDay, ...]:
    """Every day of [start, end], days without entries as zeros."""
    flows = (
        select(
            LedgerEntry.on_date,
            _sum_of(ISSUED),
            -_sum_of(REDEEMED),
            -_sum_of(EXPIRED),
        )
        .where(LedgerEntry.on_date >= start, LedgerEntry.on_date <= end)
        .group_by(LedgerEntry.on_date)
    )
    found = {
        day: PointsDay(day, int(issued), int(redeemed), int(expired))
        for day, issued, redeemed, expired in connection.execute(flows)
    }
    days = (start + timedelta(days=offset) for offset in range((end - start).days + 1))
    return tuple(found.get(day, PointsDay(day)) for day in days)


def _sum_of(kinds: tuple[str, ...]) -> ColumnElement[int]:
    return func.sum(case((LedgerEntry.kind.in_(kinds), LedgerEntry.points), else_=0))
