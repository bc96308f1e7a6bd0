"""Offers: one unique coupon code per campaign moment, stored with its value and expiry.

Codes are 10 random characters from an alphabet without look-alikes (0/O, 1/I/L), about
50 bits: nobody guesses a neighbour's code. Issuing is idempotent: a moment that already
has a coupon keeps it, so a re-run or a retried message shows the same code.

A `reward_available` campaign needs no `offer`: its moments get the loyalty program's
reward, `[loyalty] reward_percent_off` off for the trigger's `valid_days`, a coupon that
costs `[loyalty] reward_points` points when an order redeems it (`points_cost`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, select, tuple_

from campaigns.config import Campaign, Offer
from campaigns.loader import Config
from campaigns.plan import Plan
from shop.models import Coupon
from shop.sql import upsert_insert
from triggers.reward_available import RewardAvailableParams

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
Moment = tuple[str, str, str]  # (campaign, customer_id, occasion)


@dataclass(frozen=True)
class IssuedCoupon:
    code: str
    percent_off: int | None
    amount_off_cents: int | None
    free_shipping: bool
    expires_on: date
    points_cost: int | None = None  # a reward coupon: the points its redemption spends


def new_code() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def issue_coupons(
    connection: Connection,
    offer: Offer,
    moments: Iterable[Moment],
    run_date: date,
    points_cost: int | None = None,
) -> dict[Moment, IssuedCoupon]:
    """The coupon of each moment, issued now unless it exists: valid through
    `run_date + valid_days - 1` (shop-local); a reward coupon costs `points_cost`."""
    wanted = sorted(set(moments))
    expires_on = run_date + timedelta(days=offer.valid_days - 1)
    now = datetime.now(UTC)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for _ in range(3):  # a code collision (1 in ~10^15) leaves a moment to retry
            existing = _existing(connection, chunk)
            missing = [moment for moment in chunk if moment not in existing]
            if not missing:
                break
            rows = [_row(moment, offer, expires_on, now, points_cost) for moment in missing]
            connection.execute(upsert_insert(connection, Coupon).on_conflict_do_nothing(), rows)
    return _existing(connection, wanted)


def issue_for_plan(connection: Connection, config: Config, plan: Plan) -> int:
    """Coupons for the planned moments of campaigns with an offer, and the reward coupons
    of reward_available campaigns; returns how many moments hold one now (both channels
    of a moment share it)."""
    issued = 0
    for name, campaign in config.settings.campaigns.items():
        offer, points_cost = _offer(config, name, campaign)
        if offer is None:
            continue
        moments = {
            (m.campaign, m.customer_id, m.occasion) for m in plan.planned if m.campaign == name
        }
        issued += len(issue_coupons(connection, offer, moments, plan.run.run_date, points_cost))
    return issued


def _offer(config: Config, name: str, campaign: Campaign) -> tuple[Offer | None, int | None]:
    """The campaign's offer and the points its coupon costs: the loyalty reward for
    reward_available (the loader refuses an `offer` of its own there)."""
    if campaign.trigger != "reward_available":
        return campaign.offer, None
    params = config.trigger_params(name)
    assert isinstance(params, RewardAvailableParams)
    loyalty = config.settings.loyalty
    reward = Offer(percent_off=loyalty.reward_percent_off, valid_days=params.valid_days)
    return reward, loyalty.reward_points


def find_coupons(connection: Connection, moments: Iterable[Moment]) -> dict[Moment, IssuedCoupon]:
    """The coupons already issued for these moments."""
    return _existing(connection, sorted(set(moments)))


def _row(
    moment: Moment, offer: Offer, expires_on: date, now: datetime, points_cost: int | None
) -> dict[str, object]:
    campaign, customer_id, occasion = moment
    return {
        "code": new_code(),
        "campaign": campaign,
        "customer_id": customer_id,
        "occasion": occasion,
        "percent_off": offer.percent_off,
        "amount_off_cents": offer.amount_off_cents,
        "free_shipping": offer.free_shipping,
        "expires_on": expires_on,
        "created_at": now,
        "redeemed_at": None,
        "points_cost": points_cost,
    }


def _existing(connection: Connection, moments: list[Moment]) -> dict[Moment, IssuedCoupon]:
    found: dict[Moment, IssuedCoupon] = {}
    for start in range(0, len(moments), 500):
        chunk = moments[start : start + 500]
        key = tuple_(Coupon.campaign, Coupon.customer_id, Coupon.occasion)
        query = select(Coupon.__table__).where(key.in_(chunk))
        for row in connection.execute(query).mappings():
            found[(row["campaign"], row["customer_id"], row["occasion"])] = IssuedCoupon(
                row["code"],
                row["percent_off"],
                row["amount_off_cents"],
                row["free_shipping"],
                row["expires_on"],
                row["points_cost"],
            )
    return found
