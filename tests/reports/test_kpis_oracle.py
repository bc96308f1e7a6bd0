"""A random shop on SQLite and PostgreSQL: the same KPIs on both, and the same as a plain
per-customer Python reading of the definitions (docs/kpis.md)."""

import random
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text

from campaigns.config import LoyaltySettings
from reports.kpis import ACTIVE_DAYS, Kpis, loyalty_kpis
from reports.kpis_orders import OrderActivity
from reports.kpis_points import PointsDay
from reports.rfm import SEGMENTS, segment_of
from reports.tier_history import TierHistory
from shop.db import make_engine
from shop.loyalty import earn_entry
from shop.models import Base, Customer, LedgerEntry, Order
from tests.factories import MADRID

# a tier window unlike the active one, thresholds that random orders reach and leave
LOYALTY = LoyaltySettings(points_expire_days=200, tiers={"bronze": 0, "silver": 60, "gold": 200})
START, END = date(2026, 3, 20), date(2026, 4, 12)  # summer time begins on 03-29
MARGIN = Decimal("0.35")
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
    shop: Shop = {"customers": [], "orders": [], "ledger": []}
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
            shop["ledger"].append(earn_entry(order, cid, at, day, cents, LOYALTY))
        for _ in range(rng.choice([0, 0, 1, 3])):
            day = date(2025, 6, 1) + timedelta(days=rng.randrange(330))
            kind = rng.choice(["redeem", "expire", "adjust"])
            points = rng.randrange(1, 300) * (1 if kind == "adjust" and rng.random() < 0.5 else -1)
            shop["ledger"].append(
                {"customer_id": cid, "kind": kind, "points": points, "on_date": day,
                 "at": datetime(day.year, day.month, day.day, tzinfo=MADRID), "expires_on": None,
                 "order_id": None, "lot_id": None, "note": None}
            )  # fmt: skip
    return shop


def write(engine: Engine, shop: Shop) -> None:
    with engine.begin() as connection:
        connection.execute(insert(Customer), shop["customers"])
        connection.execute(insert(Order), shop["orders"])
        connection.execute(insert(LedgerEntry), shop["ledger"])


def found(engine: Engine) -> Kpis:
    with engine.connect() as connection:
        return loyalty_kpis(connection, LOYALTY, START, END, gross_margin=MARGIN, tz=MADRID)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_kpis_on_both_databases_as_the_definitions(engines: list[Engine], seed: int) -> None:
    shop = random_shop(seed)
    for engine in engines:
        write(engine, shop)
    on_sqlite, on_postgres = (found(engine) for engine in engines)
    assert on_sqlite.as_json() == on_postgres.as_json()
    assert on_sqlite == oracle(shop)


def oracle(shop: Shop) -> Kpis:
    return Kpis(
        start=START,
        end=END,
        orders=_orders(shop["orders"]),
        points_daily=_days(shop["ledger"]),
        tiers=_tiers(shop["ledger"]),
        rfm=_rfm(shop["orders"]),
        gross_margin=MARGIN,
        reward_points=LOYALTY.reward_points,
        reward_percent_off=LOYALTY.reward_percent_off,
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
        flow = {kind: 0 for kind in ("earn", "redeem", "expire", "adjust")}
        for entry in ledger:
            if entry["on_date"] == day:
                flow[entry["kind"]] += entry["points"]
        days.append(PointsDay(day, flow["earn"], -flow["redeem"], -flow["expire"]))
    return tuple(days)


def _tiers(ledger: list[dict[str, Any]]) -> TierHistory:
    names = list(LOYALTY.tiers)
    migration = {name: dict.fromkeys(names, 0) for name in names}
    outstanding = 0
    for entries in _by_customer(ledger, "on_date").values():
        tiers = [LOYALTY.tier_for(_earned(entries, day)) for day in (START - timedelta(1), END)]
        migration[tiers[0]][tiers[1]] += 1
        outstanding += sum(entry["points"] for entry in entries)
    distribution = {name: sum(row[name] for row in migration.values()) for name in names}
    return TierHistory(distribution, migration, outstanding)


def _earned(entries: list[dict[str, Any]], day: date) -> int:
    first = day - timedelta(days=LOYALTY.points_expire_days)
    return sum(e["points"] for e in entries if e["kind"] == "earn" and first < e["on_date"] <= day)


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
