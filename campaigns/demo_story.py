"""The demo's story: the weeks before today, as if Leal had run them, with a known effect.

Each past day runs as the daily run would have (holdouts drawn, coupons issued) and its
messages count as delivered that day. Then customers answer: a treated customer who would
not have bought in the attribution window buys with the campaign's known probability (the
effect below), most of them with the moment's coupon; some treated customers who bought
anyway use their coupon too (the discount a campaign gives away on orders it did not
cause). Held-out customers only do what they did anyway: the shop's own history. The
orders go in through the importer, like a shop's, so `leal report` measures them as it
would a real shop's and can be checked against the truth the story knows.
"""

from __future__ import annotations

import csv
import dataclasses
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, and_, case, func, select, update

from campaigns.daily import daily_run
from campaigns.holdout import HOLDOUT
from campaigns.loader import Config
from shop.importer import import_dir
from shop.models import Coupon, Order, OutboxMessage, Run
from shop.redemptions import mark_redemptions

STORY_DAYS = 28
# Conversion points a campaign adds among customers who would not have bought, by trigger.
# A survey or a review request sells nothing: their 0 is an A/A check of the report.
EFFECTS = {
    "abandoned_cart": 0.10,
    "birthday": 0.06,
    "win_back": 0.03,
    "tier_change": 0.04,
    "points_expiring": 0.05,
    "milestone": 0.03,
    "welcome": 0.08,
    "reward_available": 0.07,
    "at_risk": 0.04,
    "post_purchase_survey": 0.0,
    "review_request": 0.0,
}
USES_COUPON = 0.8  # caused orders that use the moment's coupon
ANYWAY_USES_COUPON = 0.3  # orders that would have happened, and use the coupon all the same
ORDER_MEDIAN_CENTS = 3_500


@dataclass
class Truth:
    """What the story caused, per campaign: the known answer the report should find."""

    treated: Counter[str]
    caused: Counter[str]

    def effect(self, campaign: str) -> float | None:
        """Conversions caused per treated moment: the true uplift of the treated."""
        treated = self.treated[campaign]
        return self.caused[campaign] / treated if treated else None


@dataclass(frozen=True)
class _Moment:
    campaign: str
    trigger: str
    customer_id: str
    at: datetime
    treated: bool
    coupon: str | None
    percent_off: int | None


def run_past_days(engine: Engine, config: Config, at: datetime, days: int = STORY_DAYS) -> None:
    """The daily runs of the `days` days before `at`, each delivered on its day."""
    past = _without_recommendations(config)
    for back in range(days, 0, -1):
        instant = at - timedelta(days=back)
        result = daily_run(engine, past, instant)
        with engine.begin() as connection:
            connection.execute(
                update(OutboxMessage)
                .where(OutboxMessage.run_id == result.run_id, OutboxMessage.status == "queued")
                .values(status="sent", sent_at=instant, updated_at=instant)
            )


def _without_recommendations(config: Config) -> Config:
    """The settings with no campaign picking products: the past runs' messages count as
    delivered and are never rendered, and fitting the recommender once per past day was
    about a third of `leal demo`'s time."""
    settings = config.settings
    campaigns = {
        name: campaign.model_copy(update={"recommendations": 0})
        for name, campaign in settings.campaigns.items()
    }
    return dataclasses.replace(
        config, settings=settings.model_copy(update={"campaigns": campaigns})
    )


def simulate_answers(
    engine: Engine, config: Config, at: datetime, folder: Path, seed: int
) -> Truth:
    """Write and import the orders the past runs' moments led to; returns the truth."""
    rng = random.Random(seed)
    moments = _moments(engine, at)
    anyway = _orders_anyway(engine, moments, config)
    rows: list[list[str]] = []
    used: dict[str, tuple[str, int]] = {}  # orders of the history that use a coupon
    truth = Truth(Counter(), Counter())
    for moment in moments:
        if not moment.treated:
            continue
        truth.treated[moment.campaign] += 1
        window = config.settings.campaigns[moment.campaign].attribution_days
        bought = anyway.get((moment.customer_id, moment.at))
        if bought is not None:
            if moment.coupon and rng.random() < ANYWAY_USES_COUPON:
                used[bought[0]] = (moment.coupon, _discount(bought[3], moment))
            continue
        if rng.random() < EFFECTS.get(moment.trigger, 0.0):
            truth.caused[moment.campaign] += 1
            rows.append(_caused_order(rng, moment, at, window, len(rows)))
    _import(engine, config, folder, rows, at)
    _use_coupons(engine, used)
    return truth


def _moments(engine: Engine, before: datetime) -> list[_Moment]:
    outbox = OutboxMessage
    query = (
        select(
            outbox.campaign,
            outbox.trigger,
            outbox.customer_id,
            Run.at,
            func.max(case((outbox.status == HOLDOUT, 0), else_=1)),
            Coupon.code,
            Coupon.percent_off,
        )
        .join(Run, Run.id == outbox.run_id)
        .outerjoin(
            Coupon,
            and_(
                Coupon.campaign == outbox.campaign,
                Coupon.customer_id == outbox.customer_id,
                Coupon.occasion == outbox.occasion,
            ),
        )
        .where(Run.at < before, outbox.reason.is_(None))
        .group_by(
            outbox.campaign,
            outbox.trigger,
            outbox.customer_id,
            outbox.occasion,
            Run.at,
            Coupon.code,
            Coupon.percent_off,
        )
        .order_by(Run.at, outbox.campaign, outbox.customer_id)
    )
    with engine.connect() as connection:
        return [_Moment(*row) for row in connection.execute(query)]


def _orders_anyway(
    engine: Engine, moments: list[_Moment], config: Config
) -> dict[tuple[str, datetime], tuple[str, str, datetime, int]]:
    """(customer, run instant) → the first order the shop's history holds in the window."""
    found: dict[tuple[str, datetime], tuple[str, str, datetime, int]] = {}
    customers = sorted({m.customer_id for m in moments if m.treated})
    with engine.connect() as connection:
        orders: dict[str, list[tuple[str, str, datetime, int]]] = {}
        for start in range(0, len(customers), 500):
            chunk = customers[start : start + 500]
            query = select(Order.id, Order.customer_id, Order.ordered_at, Order.total_cents)
            for row in connection.execute(query.where(Order.customer_id.in_(chunk))):
                orders.setdefault(row[1], []).append(tuple(row))  # type: ignore[arg-type]
    for moment in moments:
        days = config.settings.campaigns[moment.campaign].attribution_days
        closes = moment.at + timedelta(days=days)
        inside = sorted(o for o in orders.get(moment.customer_id, []) if moment.at < o[2] <= closes)
        if inside:
            found[(moment.customer_id, moment.at)] = min(inside, key=lambda o: o[2])
    return found


def _use_coupons(engine: Engine, used: dict[str, tuple[str, int]]) -> None:
    """Put the coupons on the history's orders that used them. The history was generated
    before the story's runs issued any code, and an import never rewrites an order it holds
    (its points are booked), so the story writes them here, then redeems as an import does."""
    if not used:
        return
    with engine.begin() as connection:
        for order_id, (code, discount) in used.items():
            connection.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(coupon_code=code, discount_cents=discount)
            )
        mark_redemptions(connection, select(Order.id).where(Order.id.in_(list(used))))


def _caused_order(
    rng: random.Random, moment: _Moment, now: datetime, window: int, number: int
) -> list[str]:
    """An order the campaign caused, inside the window and never after the demo's now."""
    span = min(moment.at + timedelta(days=window), now) - moment.at
    ordered_at = moment.at + span * rng.uniform(0.02, 0.98)
    total = int(ORDER_MEDIAN_CENTS * rng.lognormvariate(0, 0.5))
    coupon = moment.coupon if moment.coupon and rng.random() < USES_COUPON else None
    discount = _discount(total, moment) if coupon else 0
    order_id = f"S{number + 1:07d}"
    return [order_id, moment.customer_id, ordered_at.isoformat(timespec="seconds"), _money(total),
            coupon or "", _money(discount)]  # fmt: skip


def _discount(total_cents: int, moment: _Moment) -> int:
    """What the coupon took off an order that paid `total_cents` after it."""
    if not moment.percent_off:
        return 0
    before = total_cents * 100 // (100 - moment.percent_off)
    return before - total_cents


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _import(
    engine: Engine, config: Config, folder: Path, rows: list[list[str]], at: datetime
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "orders.csv").open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["order_id", "customer_id", "ordered_at", "total", "coupon_code", "discount"]
        )
        writer.writerows(rows)
    on = at.astimezone(config.settings.shop.tz).date()
    report = import_dir(engine, folder, config.settings, strict=True, on=on)
    if not report.committed:  # the story writes its own files: a problem is a bug here
        raise RuntimeError("the demo's answers did not import: " + "; ".join(report.problems))
