"""The loyalty triggers' moments as typed values: what templates see as `moment`.

A trigger's context columns reach a message as the outbox stored them (JSON: ISO text for
dates and instants, numbers) or as its query returned them (`leal preview`). Each parser
checks and converts one trigger's columns and adds what the copy needs and the columns do
not say (days left, what points are worth, the shop-local day of an instant). A value that
does not parse raises MomentError, whose words quote no value: that message fails alone
(templates.context.ContextFailure), never its batch. docs/templates.md lists the fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from campaigns.config import LoyaltySettings

Moment = dict[str, Any]
SURVEY_OCCASION = "survey:"  # post_purchase_survey's occasions: survey:<order id>


class MomentError(ValueError):
    """A moment column that is missing or does not parse; the words name the column only."""


def whole(moment: Mapping[str, Any], name: str) -> int:
    """An integer column: an int, or text or a number that is one exactly (JSON, Decimal)."""
    value = _present(moment, name)
    if isinstance(value, bool):
        raise MomentError(f"{name} is not a whole number")
    if isinstance(value, int):
        return value
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, TypeError, ValueError):
        raise MomentError(f"{name} is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise MomentError(f"{name} is not a whole number")
    return int(number)


def decimal(moment: Mapping[str, Any], name: str) -> Decimal:
    value = _present(moment, name)
    if isinstance(value, bool):
        raise MomentError(f"{name} is not a number")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MomentError(f"{name} is not a number") from None
    if not number.is_finite():
        raise MomentError(f"{name} is not a number")
    return number


def day(moment: Mapping[str, Any], name: str) -> date:
    """A date column: ISO text (`2027-01-22`) or a date."""
    value = _present(moment, name)
    if isinstance(value, datetime):
        raise MomentError(f"{name} is not a date")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise MomentError(f"{name} is not a date") from None


def instant(moment: Mapping[str, Any], name: str) -> datetime:
    """An instant column: ISO text with its offset (`2026-12-20T10:30:00Z`), as UTC. Text
    without an offset is read as UTC: the triggers write instants in UTC (iso_text)."""
    value = _present(moment, name)
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value))
        except ValueError:
            raise MomentError(f"{name} is not an instant") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def text(moment: Mapping[str, Any], name: str) -> str:
    value = _present(moment, name)
    if not isinstance(value, str) or not value:
        raise MomentError(f"{name} is not a non-empty text")
    return value


def _present(moment: Mapping[str, Any], name: str) -> Any:
    value = moment.get(name)
    if value is None:
        raise MomentError(f"the moment has no {name}")
    return value


def points_expiring(moment: Moment, on: date, loyalty: LoyaltySettings) -> Moment:
    """`points` expire on `expires_on`, `days_left` days after `on` (the copy says "last
    chance" near the end); `worth`: the whole rewards those points buy."""
    points, expires_on = whole(moment, "points"), day(moment, "expires_on")
    return moment | {
        "points": points,
        "expires_on": expires_on,
        "days_left": max((expires_on - on).days, 0),
        "worth": worth(points, loyalty),
    }


def worth(points: int, loyalty: LoyaltySettings) -> dict[str, int]:
    """What `points` buy: `rewards` of `percent_off` % each, one per `reward_points`
    ("2 rewards of 10 % off" for 250 points at 100 points a reward)."""
    return {
        "rewards": max(points, 0) // loyalty.reward_points,
        "percent_off": loyalty.reward_percent_off,
        "reward_points": loyalty.reward_points,
    }


def milestone(moment: Moment) -> Moment:
    return moment | {
        "threshold": whole(moment, "threshold"),
        "points_earned": whole(moment, "points_earned"),
    }


def welcome(moment: Moment, tz: ZoneInfo, days_after: Sequence[int]) -> Moment:
    """`step` (days after joining) and its `position` in the campaign's series (1: the
    welcome, 2: the first order, 3 and later: the tiers), of `series_length`."""
    step, joined_at = whole(moment, "step"), instant(moment, "joined_at")
    if step < 0:
        raise MomentError("step is negative")
    steps = sorted({*days_after, step})
    return moment | {
        "step": step,
        "joined_at": joined_at,
        "joined_on": joined_at.astimezone(tz).date(),
        "position": steps.index(step) + 1,
        "series_length": len(steps),
    }


def reward_available(moment: Moment, loyalty: LoyaltySettings) -> Moment:
    balance = whole(moment, "points_balance")
    return moment | {
        "points_balance": balance,
        "rewards": whole(moment, "rewards"),
        "points_after_reward": max(balance - loyalty.reward_points, 0),
    }


def post_purchase_survey(moment: Moment, tz: ZoneInfo) -> Moment:
    """The order, when it was placed and delivered (instants, and their shop-local days);
    its total and lines come from the order itself (templates.context)."""
    ordered_at = instant(moment, "ordered_at")
    delivered_at = instant(moment, "delivered_at") if moment.get("delivered_at") else None
    return moment | {
        "order_id": text(moment, "order_id"),
        "ordered_at": ordered_at,
        "ordered_on": ordered_at.astimezone(tz).date(),
        "delivered_at": delivered_at,
        "delivered_on": delivered_at.astimezone(tz).date() if delivered_at else None,
    }


def at_risk(moment: Moment, on: date) -> Moment:
    """The last order's day and the customer's own rhythm: `mean_gap_days` as the trigger
    computed it, `usual_gap_days` that rounded to whole days for the copy."""
    last = day(moment, "last_order_on")
    gap = decimal(moment, "mean_gap_days")
    return moment | {
        "last_order_on": last,
        "mean_gap_days": float(gap),
        "usual_gap_days": max(int(gap.quantize(Decimal(1), ROUND_HALF_UP)), 1),
        "days_since_last_order": (on - last).days,
    }


def review_request(moment: Moment, loyalty: LoyaltySettings) -> Moment:
    """The promoter's `score`, the survey it answered and, when that survey was about an
    order, the `order_id` (its lines are the products to review); `review_points`: what a
    review earns (`[loyalty.actions] review`), or none."""
    occasion = text(moment, "survey_occasion")
    order_id = (
        occasion.removeprefix(SURVEY_OCCASION) if occasion.startswith(SURVEY_OCCASION) else ""
    )
    return moment | {
        "score": whole(moment, "score"),
        "survey_campaign": text(moment, "survey_campaign"),
        "order_id": order_id or None,
        "review_points": loyalty.actions.get("review"),
    }
