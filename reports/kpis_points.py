"""Points issued, redeemed and expired per shop-local day of a period, from the ledger.

Every entry carries its shop-local `on_date` (an earn entry its order's date, an expire
entry the day its lot expired), so a day's flow is one GROUP BY on_date; the period's
totals are the days' sums. `adjust` entries are in no flow (they move the balance only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, case, func, select

from shop.models import LedgerEntry


@dataclass(frozen=True)
class PointsDay:
    """One day's flow, each as a positive number of points."""

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
    kind, points = LedgerEntry.kind, LedgerEntry.points
    flows = (
        select(
            LedgerEntry.on_date,
            func.sum(case((kind == "earn", points), else_=0)),
            -func.sum(case((kind == "redeem", points), else_=0)),
            -func.sum(case((kind == "expire", points), else_=0)),
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
