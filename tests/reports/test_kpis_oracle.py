"""A random shop on SQLite and PostgreSQL: the same KPIs on both, and the same as a plain
per-customer Python reading of the definitions (docs/kpis.md), survey answers included."""

import random
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text

from campaigns.config import LoyaltySettings
from reports.kpis import ACTIVE_DAYS, Kpis, loyalty_kpis
from reports.kpis_orders import OrderActivity
from reports.kpis_points import PointsDay
from reports.kpis_surveys import UNHAPPY, FollowUp, SurveyFacts
from reports.rfm import SEGMENTS, segment_of
from reports.tier_history import TierHistory
from shop.db import make_engine
from shop.loyalty import earn_entry
from shop.models import (
    Base,
    Customer,
    LedgerEntry,
    Order,
    OutboxMessage,
    SurveyClick,
    SurveyResponse,
)
from tests.factories import MADRID

# a tier window unlike the active one, thresholds that random orders reach and leave
LOYALTY = LoyaltySettings(points_expire_days=200, tiers={"bronze": 0, "silver": 60, "gold": 200})
COUNTING = LOYALTY.model_copy(update={"actions_count_toward_tiers": True})  # bonus points too
START, END = date(2026, 3, 20), date(2026, 4, 12)  # summer time begins on 03-29
MARGIN = Decimal("0.35")
KINDS = {"nps_after": "nps", "csat_after": "csat", "ces_after": "ces", "cli_after": "cli"}
SCALE = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7), "cli": (0, 10)}
Shop = dict[str, list[dict[str, Any]]]


@pytest.fixture
def engines(tmp_path: Path, sqlite_template: Path, request: pytest.FixtureRequest) -> Iterator[
    list[Engine]
]:  # fmt: skip
    postgres: Engine = request.getfixturevalue("postgres_engine")
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with postgres.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    shutil.copy(sqlite_template, tmp_path / "leal.db")
    sqlite = make_engine(f"sqlite:///{tmp_path / 'leal.db'}")
    yield [sqlite, postgres]
    sqlite.dispose()


def random_shop(seed: int, customers: int = 120) -> Shop:
    rng = random.Random(seed)
    shop: Shop = {"customers": [], "orders": [], "ledger": [], "answers": [], "outbox": [],
                  "clicks": []}  # fmt: skip
    first = datetime(2024, 9, 1, tzinfo=UTC)
    for n in range(customers):
        cid = f"c{n:03d}"
        shop["customers"].append({"id": cid, "first_name": "", "last_name": ""})
        for k in range(rng.choice([0, 1, 1, 2, 3, 5, 9])):
            at = first + timedelta(minutes=rng.randrange(60 * 24 * 620))  # to 2026-05
            day, cents = at.astimezone(MADRID).date(), rng.choice([0, 990, 2500, 4000, 12_345])
            order = f"o{n:03d}-{k}"
            shop["orders"].append(
                {"id": order, "customer_id": cid, "ordered_at": at, "local_date": day,
                 "total_cents": cents}
            )  # fmt: skip
            earned = earn_entry(order, cid, at, day, cents, LOYALTY)
            shop["ledger"].append(earned)
            if earned["points"] and rng.random() < 0.15:  # cancelled: dated as its order
                shop["ledger"].append(_entry(cid, "reverse", -earned["points"], day))
        for _ in range(rng.choice([0, 0, 1, 3, 5])):
            day = date(2025, 6, 1) + timedelta(days=rng.randrange(330))
            kind = rng.choice(["redeem", "reward", "bonus", "refund", "expire", "adjust"])
            positive = kind in ("bonus", "refund") or (kind == "adjust" and rng.random() < 0.5)
            points = rng.randrange(1, 300) * (1 if positive else -1)
            shop["ledger"].append(_entry(cid, kind, points, day))
        _surveys(rng, shop, cid, first)
    return shop


def _entry(customer: str, kind: str, points: int, day: date) -> dict[str, Any]:
    at = datetime(day.year, day.month, day.day, tzinfo=MADRID)
    return {"customer_id": customer, "kind": kind, "points": points, "on_date": day, "at": at,
            "expires_on": None, "order_id": None, "lot_id": None, "note": None}  # fmt: skip


def _surveys(rng: random.Random, shop: Shop, cid: str, first: datetime) -> None:
    """A customer's survey moments around the period: sent or not, answered or not, clicked."""
    for k in range(rng.choice([0, 0, 1, 2])):
        campaign = rng.choice([*KINDS, "retired"])
        kind = KINDS.get(campaign, "nps")
        occasion = f"survey:{cid}-{k}"
        sent_at = first + timedelta(days=560, minutes=rng.randrange(60 * 24 * 60))  # Mar-May
        run_date = sent_at.astimezone(MADRID).date()
        for channel in rng.choice([["email"], ["email"], ["email", "sms"]]):
            status = rng.choice(["sent", "sent", "sent", "holdout", "failed"])
            shop["outbox"].append(
                {"campaign": campaign, "trigger": "post_purchase_survey", "customer_id": cid,
                 "channel": channel, "occasion": occasion, "status": status, "context": {},
                 "run_date": run_date, "due_at": sent_at, "created_at": sent_at,
                 "updated_at": sent_at, "sent_at": sent_at if status == "sent" else None}
            )  # fmt: skip
        # about 3 days later, some right at a local midnight (the period's edges)
        answered = sent_at + timedelta(minutes=rng.randrange(60 * 24 * 6))
        if rng.random() < 0.2:
            day = answered.astimezone(MADRID).date()
            answered = datetime.combine(day, time(0), tzinfo=MADRID) - timedelta(
                microseconds=rng.choice([1, 0])
            )
        if rng.random() < 0.6:
            low, high = SCALE[kind]
            score = rng.randint(low, high)
            scores: dict[str, int] = {kind: score}
            if kind == "cli":
                scores = {"recommend": score, "buy_again": rng.randint(low, high),
                          "try_other": rng.randint(low, high)}  # fmt: skip
            shop["answers"].append(
                {"campaign": campaign, "customer_id": cid, "occasion": occasion, "kind": kind,
                 "score": score, "scores": scores, "comment": rng.choice([None, "¡Genial!"]),
                 "locale": "es", "answered_at": answered, "updated_at": answered}
            )  # fmt: skip
        for _ in range(rng.choice([0, 1, 2])):
            shop["clicks"].append(
                {"campaign": campaign, "customer_id": cid, "occasion": occasion,
                 "at": answered - timedelta(minutes=rng.randrange(5)), "link": "score",
                 "score": None, "seconds_after_send": 3, "suspect": rng.random() < 0.3}
            )  # fmt: skip


def write(engine: Engine, shop: Shop) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Customer), shop["customers"])
        connection.execute(insert(Order), shop["orders"])
        connection.execute(insert(LedgerEntry), shop["ledger"])
        for table, rows in ((SurveyResponse, "answers"), (OutboxMessage, "outbox"),
                            (SurveyClick, "clicks")):  # fmt: skip
            if shop[rows]:
                connection.execute(insert(table), shop[rows])


def found(engine: Engine, loyalty: LoyaltySettings = LOYALTY) -> Kpis:
    with engine.connect() as connection:
        return loyalty_kpis(
            connection, loyalty, START, END, gross_margin=MARGIN, tz=MADRID, survey_kinds=KINDS
        )


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("seed", "loyalty"),
    [(1, LOYALTY), (2, COUNTING), (3, LOYALTY)],
    ids=["1-orders-only", "2-actions-count", "3-orders-only"],
)
def test_same_kpis_on_both_databases_as_the_definitions(
    engines: list[Engine], seed: int, loyalty: LoyaltySettings
) -> None:
    shop = random_shop(seed)
    for engine in engines:
        write(engine, shop)
    on_sqlite, on_postgres = (found(engine, loyalty) for engine in engines)
    assert on_sqlite.as_json() == on_postgres.as_json()
    assert on_sqlite == oracle(shop, loyalty)


def oracle(shop: Shop, loyalty: LoyaltySettings = LOYALTY) -> Kpis:
    return Kpis(
        start=START,
        end=END,
        orders=_orders(shop["orders"]),
        points_daily=_days(shop["ledger"]),
        tiers=_tiers(shop["ledger"], loyalty),
        rfm=_rfm(shop["orders"]),
        gross_margin=MARGIN,
        reward_points=LOYALTY.reward_points,
        reward_percent_off=LOYALTY.reward_percent_off,
        surveys=_survey_facts(shop),
    )


def _by_customer(rows: list[dict[str, Any]], day: str) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row[day] <= END:
            grouped[row["customer_id"]].append(row)
    return grouped


def _orders(orders: list[dict[str, Any]]) -> OrderActivity:
    year = END - timedelta(days=ACTIVE_DAYS)
    counts: dict[str, int] = defaultdict(int)
    for placed in _by_customer(orders, "local_date").values():
        days = [o["local_date"] for o in placed]
        before = [
            o["total_cents"]
            for o in placed
            if START - timedelta(ACTIVE_DAYS) <= o["local_date"] < START
        ]
        period = [o["total_cents"] for o in placed if o["local_date"] >= START]
        in_year = [o["total_cents"] for o in placed if o["local_date"] > year]
        counts["customers_at_start"] += bool(before)
        counts["customers_at_end"] += bool(in_year)
        counts["new_customers"] += bool(in_year) and min(days) >= START
        counts["orders"] += len(period)
        counts["revenue_cents"] += sum(period)
        counts["buyers"] += bool(period)
        counts["repeat_buyers"] += len(period) >= 2
        counts["returning_buyers"] += bool(before and period)
        if before and period:
            counts["upsold_buyers"] += sum(period) / len(period) > sum(before) / len(before)
        counts["lifetime_customers"] += 1
        counts["lifetime_cents"] += sum(o["total_cents"] for o in placed)
        counts["year_orders"] += len(in_year)
        counts["year_cents"] += sum(in_year)
    return OrderActivity(**counts)


def _days(ledger: list[dict[str, Any]]) -> tuple[PointsDay, ...]:
    days = []
    for offset in range((END - START).days + 1):
        day = START + timedelta(days=offset)
        flow: dict[str, int] = defaultdict(int)
        for entry in ledger:
            if entry["on_date"] == day:
                flow[entry["kind"]] += entry["points"]
        # issued: orders and interactions, less cancelled orders; redeemed: points spent on
        # orders and reward coupons, less what refunds gave back; adjust: in no flow
        issued = flow["earn"] + flow["bonus"] + flow["reverse"]
        redeemed = -(flow["redeem"] + flow["reward"] + flow["refund"])
        days.append(PointsDay(day, issued, redeemed, -flow["expire"]))
    return tuple(days)


def _tiers(ledger: list[dict[str, Any]], loyalty: LoyaltySettings) -> TierHistory:
    names = list(loyalty.tiers)
    migration = {name: dict.fromkeys(names, 0) for name in names}
    outstanding = 0
    for entries in _by_customer(ledger, "on_date").values():
        ends = (START - timedelta(1), END)
        tiers = [loyalty.tier_for(_earned(entries, day, loyalty)) for day in ends]
        migration[tiers[0]][tiers[1]] += 1
        outstanding += sum(entry["points"] for entry in entries)
    distribution = {name: sum(row[name] for row in migration.values()) for name in names}
    return TierHistory(distribution, migration, outstanding)


def _earned(entries: list[dict[str, Any]], day: date, loyalty: LoyaltySettings) -> int:
    """Points earned in the tier window ending `day`: orders' less cancelled orders', plus
    interactions' when they count (docs/kpis.md); spending, expiry, corrections never."""
    kinds = {"earn", "reverse"} | ({"bonus"} if loyalty.actions_count_toward_tiers else set())
    first = day - timedelta(days=loyalty.points_expire_days)
    return sum(e["points"] for e in entries if e["kind"] in kinds and first < e["on_date"] <= day)


def _rfm(orders: list[dict[str, Any]]) -> dict[str, int]:
    year = END - timedelta(days=ACTIVE_DAYS)
    active = [
        [o for o in placed if o["local_date"] > year]
        for placed in _by_customer(orders, "local_date").values()
    ]
    values = [
        (max(o["local_date"] for o in mine), len(mine), sum(o["total_cents"] for o in mine))
        for mine in active
        if mine
    ]
    segments = dict.fromkeys(SEGMENTS, 0)
    for mine in values:
        r, f, m = (_score([v[i] for v in values], mine[i]) for i in range(3))
        segments[segment_of(r, (f + m + 1) // 2)] += 1
    return segments


def _score(column: list[Any], value: Any) -> int:
    below = sum(1 for other in column if other < value)
    return 1 + 5 * below // len(column)


def _survey_facts(shop: Shop) -> SurveyFacts:
    """Answers and clicks whose instant falls on a local date of the period; survey moments
    with a sent message on a run date of it, counted once per moment."""

    def in_period(at: datetime) -> bool:
        return START <= at.astimezone(MADRID).date() <= END

    answers: dict[Any, int] = defaultdict(int)
    for row in shop["answers"]:
        if in_period(row["answered_at"]):
            cli = row["kind"] == "cli"
            again, other = (row["scores"][q] if cli else None for q in ("buy_again", "try_other"))
            answers[(row["kind"], row["score"], again, other)] += 1
    moments = {
        (row["campaign"], row["customer_id"], row["occasion"])
        for row in shop["outbox"]
        if row["status"] == "sent" and START <= row["run_date"] <= END
    }
    sent: dict[str, int] = defaultdict(int)
    for campaign, _, _ in moments:
        sent[campaign] += 1
    clicks = [row for row in shop["clicks"] if in_period(row["at"])]
    follow_up = sorted(
        (
            FollowUp(
                r["customer_id"],
                r["campaign"],
                r["kind"],
                r["score"],
                r["answered_at"].astimezone(UTC),
                r["comment"],
            )
            for r in shop["answers"]
            if in_period(r["answered_at"]) and r["score"] <= UNHAPPY[r["kind"]]
        ),
        key=lambda f: (f.answered_at, f.campaign, f.customer_id),
    )
    return SurveyFacts(
        answers=dict(answers),
        sent=dict(sent),
        kinds=KINDS,
        clicks=len(clicks),
        suspect_clicks=sum(row["suspect"] for row in clicks),
        follow_up=tuple(follow_up),
    )
