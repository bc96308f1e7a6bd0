"""birthday: the customer's birthday is `days_before` days after the run date.

Rule: month/day of `birth_date` == month/day of (run date + days_before), shop-local.
A 29 February birthday matches 28 February in non-leap years. Once per customer per
year: the occasion is `birthday:<year of the birthday>`.

Cost: one equality on the indexed `birth_mmdd` column.
"""

from __future__ import annotations

import calendar
from datetime import timedelta

from pydantic import Field
from sqlalchemy import literal, select

from shop.models import Customer
from triggers.base import CandidateQuery, Params, RunContext, Trigger


class BirthdayParams(Params):
    days_before: int = Field(0, ge=0, le=60)


def birthday_keys(month: int, day: int, year: int) -> list[int]:
    """The `birth_mmdd` values whose birthday falls on this date of `year`."""
    keys = [month * 100 + day]
    if (month, day) == (2, 28) and not calendar.isleap(year):
        keys.append(229)
    return keys


def candidates(params: BirthdayParams, run: RunContext) -> CandidateQuery:
    birthday = run.run_date + timedelta(days=params.days_before)
    return select(
        Customer.id.label("customer_id"),
        literal(f"birthday:{birthday.year}").label("occasion"),
        literal(birthday.isoformat()).label("birthday_on"),
    ).where(Customer.birth_mmdd.in_(birthday_keys(birthday.month, birthday.day, birthday.year)))


TRIGGER = Trigger(
    name="birthday",
    params=BirthdayParams,
    candidates=candidates,
    summary="the customer's birthday, optionally some days ahead",
)
