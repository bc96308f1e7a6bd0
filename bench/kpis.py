"""Time the loyalty KPIs (`reports.kpis.loyalty_kpis`) of a 30-day period on a large shop.

    python bench/kpis.py --customers 1000000 [--postgres URL] [--rebuild] [--repeat N]

Builds (or reuses) a synthetic shop with set-based INSERT … SELECTs (no CSV, no import):
N customers with 1 to 19 orders each (10 on average) spread over the 730 days to the
period's end, their earn entries, one redemption for a fifth of them and the expiry of
everyone else's lots that expired by then. Prints each KPI pass's seconds (best of
--repeat) and one whole `loyalty_kpis` call; --covering-index times them again with a second,
narrower covering index (the schema's ix_orders_customer_at covers the passes since 0018).
SQLite file: var/bench/kpis-N.db; with --postgres a schema `leal_bench_kpis_N` is built
once, then reused.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import best_of  # noqa: E402
from campaigns.config import LoyaltySettings  # noqa: E402
from reports.kpis import ACTIVE_DAYS, loyalty_kpis  # noqa: E402
from reports.kpis_orders import order_activity  # noqa: E402
from reports.kpis_points import points_days  # noqa: E402
from reports.rfm import rfm_segments  # noqa: E402
from reports.tier_history import tier_history  # noqa: E402
from shop.db import make_engine, migrate  # noqa: E402
from shop.models import Customer, LedgerEntry, Order  # noqa: E402
from shop.types import UTCDateTime  # noqa: E402

TZ = ZoneInfo("Europe/Madrid")
END = date(2026, 6, 14)  # fixed, so a built shop can be reused
START = END - timedelta(days=29)
HISTORY_DAYS = 730
COVERING = "bench_orders_customer_day ON orders (customer_id, local_date, total_cents)"
LOYALTY = LoyaltySettings()  # 1 point per unit, 365 days, 10 % off per 100 points
SLOTS = sa.Table(  # one row per local hour of the history: dates and instants made in Python
    "bench_kpi_slots", sa.MetaData(),
    sa.Column("slot", sa.Integer, primary_key=True), sa.Column("local_date", sa.Date),
    sa.Column("at", UTCDateTime), sa.Column("expires_on", sa.Date), sa.Column("hour", sa.Integer),
)  # fmt: skip


def main() -> None:
    args = _arguments()
    engines = {"SQLite": _sqlite(args)}
    if args.postgres:
        engines["PostgreSQL"] = _postgres(args)
    found = {}
    for name, engine in engines.items():
        if args.rebuild or _count(engine, Customer) == 0:
            _build(engine, args.customers)
        found[name] = _time(name, engine, args)
        if args.covering_index:
            found[f"{name} + index"] = _with_index(name, engine, args)
    first = next(iter(found.values()))
    print(f"\ncustomers {first['customers']}\norders {first['orders']}\npoints {first['points']}")
    if len(found) > 1:
        print(f"same JSON on every database: {all(kpis == first for kpis in found.values())}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--postgres", help="also on PostgreSQL: a URL (its own schema is used)")
    parser.add_argument("--rebuild", action="store_true", help="build the shop again")
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings")
    parser.add_argument("--covering-index", action="store_true", help=f"also with {COVERING}")
    return parser.parse_args()


def _sqlite(args: argparse.Namespace) -> sa.Engine:
    path = ROOT / "var" / "bench" / f"kpis-{args.customers}.db"
    if args.rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    return engine


def _postgres(args: argparse.Namespace) -> sa.Engine:
    schema = f"leal_bench_kpis_{args.customers}"
    with sa.create_engine(args.postgres).begin() as connection:
        if args.rebuild:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    separator = "&" if "?" in args.postgres else "?"
    engine = make_engine(f"{args.postgres}{separator}options=-csearch_path%3D{schema}")
    migrate(engine)
    return engine


def _build(engine: sa.Engine, customers: int) -> None:
    """The shop, its secondary indexes built once at the end (as a first import does)."""
    started = time.perf_counter()
    tables: list[Any] = [Order.__table__, LedgerEntry.__table__]
    indexes = [index for table in tables for index in table.indexes]
    with engine.begin() as connection:
        SLOTS.drop(connection, checkfirst=True)
        SLOTS.create(connection)
        connection.execute(sa.insert(SLOTS), _slots())
        for index in indexes:
            index.drop(connection)
        for make in (_customers, _orders, _earn_entries, _redemptions, _expiries):
            step = time.perf_counter()
            connection.execute(make(customers))
            print(f"  {make.__name__[1:]:<14}{time.perf_counter() - step:7.1f} s", flush=True)
        for index in indexes:
            index.create(connection)
        SLOTS.drop(connection)
    if engine.dialect.name == "postgresql":  # the visibility map autovacuum would have set
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    print(f"built {customers:,} customers in {time.perf_counter() - started:.0f} s", flush=True)


def _slots() -> list[dict[str, Any]]:
    """24 instants a day, 59 minutes apart: distinct, and inside even a 23-hour day."""
    first = END - timedelta(days=HISTORY_DAYS - 1)
    rows = []
    for offset in range(HISTORY_DAYS * 24):
        day, hour = first + timedelta(days=offset // 24), offset % 24
        at = datetime.combine(day, clock(0), TZ).astimezone(UTC) + timedelta(minutes=59 * hour)
        expires = day + timedelta(days=LOYALTY.points_expire_days)
        rows.append({"slot": offset, "local_date": day, "at": at, "expires_on": expires,
                     "hour": hour})  # fmt: skip
    return rows


def _numbers(name: str, last: int) -> Any:
    """1 .. last as a recursive CTE (both dialects)."""
    seed = sa.select(sa.literal(1, sa.Integer).label("n")).cte(name, recursive=True)
    return seed.union_all(sa.select(seed.c.n + 1).where(seed.c.n < last))


def _hash(*terms: Any) -> Any:
    """A deterministic pseudo-random non-negative integer of the terms (no RNG in SQL)."""
    mixed = terms[0] * sa.literal(2654435761, sa.BigInteger) + sum(t * 40503 for t in terms[1:])
    return (mixed + 7919) % 1000003


def _customer_id(n: Any) -> Any:
    return sa.literal("c") + (n + 10_000_000).cast(sa.String)


def _customers(count: int) -> Any:
    n = _numbers("n", count).c.n
    no, empty = sa.literal(False), sa.literal("")
    source = sa.select(_customer_id(n), empty, empty, no, no, sa.null(), sa.null())
    columns = ["id", "first_name", "last_name", "email_opt_in", "sms_opt_in", "email_key"]
    return sa.insert(Customer).from_select([*columns, "phone_key"], source)


def _placed(count: int) -> sa.Select[Any]:
    """Every order as (customer number, order number, slot, cents)."""
    customers, orders = _numbers("c", count), _numbers("k", 19)
    c, k = customers.c.n, orders.c.n
    slot = _hash(c, k, 3) % (HISTORY_DAYS * 24)
    cents = 500 + _hash(c, k, 5) % 15000
    placed = sa.select(c.label("c"), k.label("k"), slot.label("slot"), cents.label("cents"))
    return placed.select_from(customers.join(orders, k <= 1 + _hash(c) % 19))


def _orders(count: int) -> Any:
    placed = _placed(count).subquery()
    source = sa.select(
        sa.literal("o") + (placed.c.c * 100 + placed.c.k).cast(sa.String),
        _customer_id(placed.c.c), SLOTS.c.at, SLOTS.c.local_date, placed.c.cents,
    ).join_from(placed, SLOTS, SLOTS.c.slot == placed.c.slot).order_by(SLOTS.c.slot)  # fmt: skip
    columns = ["id", "customer_id", "ordered_at", "local_date", "total_cents"]
    return sa.insert(Order).from_select(columns, source)


def _earn_entries(_: int) -> Any:
    source = sa.select(
        Order.customer_id, sa.literal("earn"), Order.total_cents // 100, Order.local_date,
        Order.ordered_at, SLOTS.c.expires_on, Order.id,
    ).join_from(Order, SLOTS, SLOTS.c.at == Order.ordered_at).order_by(SLOTS.c.slot)  # fmt: skip
    columns = ["customer_id", "kind", "points", "on_date", "at", "expires_on", "order_id"]
    return sa.insert(LedgerEntry).from_select(columns, source)


def _redemptions(count: int) -> Any:
    """100 points redeemed by every fifth customer, on one of the last 400 days."""
    numbers = _numbers("n", count)
    n = numbers.c.n
    slot = (HISTORY_DAYS - 400) * 24 + _hash(n, 11) % (400 * 24)
    redeem = (sa.literal("redeem"), sa.literal(-100), SLOTS.c.local_date, SLOTS.c.at)
    source = sa.select(_customer_id(n), *redeem).join_from(numbers, SLOTS, SLOTS.c.slot == slot)
    source = source.order_by(SLOTS.c.slot)
    columns = ["customer_id", "kind", "points", "on_date", "at"]
    return sa.insert(LedgerEntry).from_select(columns, source.where(n % 5 == 0))


def _expiries(_: int) -> Any:
    """Lots of non-redeemers expired by the end, whole (as shop.expiry books them)."""
    redeemers = sa.select(LedgerEntry.customer_id).where(LedgerEntry.kind == "redeem")
    lots = LedgerEntry.__table__.alias("lot")
    expire = (-lots.c.points, lots.c.expires_on, SLOTS.c.at, lots.c.id)
    source = (
        sa.select(lots.c.customer_id, sa.literal("expire"), *expire)
        .join_from(lots, SLOTS, (SLOTS.c.local_date == lots.c.expires_on) & (SLOTS.c.hour == 0))
        .where(lots.c.kind == "earn", lots.c.expires_on <= END)
        .where(lots.c.customer_id.not_in(redeemers))
        .order_by(lots.c.expires_on)
    )
    columns = ["customer_id", "kind", "points", "on_date", "at", "lot_id"]
    return sa.insert(LedgerEntry).from_select(columns, source)


def _time(name: str, engine: sa.Engine, args: argparse.Namespace) -> dict[str, Any]:
    """Print each pass's seconds; return the whole call's JSON."""
    print(f"\n{name}: {args.customers:,} customers, {_count(engine, Order):,} orders, "
          f"{_count(engine, LedgerEntry):,} ledger entries; period {START} .. {END}; "
          f"best of {args.repeat}")  # fmt: skip
    with engine.connect() as connection:
        passes: dict[str, Callable[[], Any]] = {
            "customers + orders + clv": lambda: order_activity(connection, START, END, ACTIVE_DAYS),
            "rfm": lambda: rfm_segments(connection, END, ACTIVE_DAYS),
            "points_daily + points": lambda: points_days(connection, START, END),
            "tiers + outstanding": lambda: tier_history(connection, LOYALTY, START, END),
            "total (loyalty_kpis)": lambda: loyalty_kpis(
                connection, LOYALTY, START, END, gross_margin=Decimal("0.4"), tz=TZ
            ).as_json(),
        }
        result: Any = None
        for label, work in passes.items():
            seconds, result = best_of(work, args.repeat)
            print(f"  {label:<28}{seconds:8.2f} s", flush=True)
        return dict(result)


def _with_index(name: str, engine: sa.Engine, args: argparse.Namespace) -> dict[str, Any]:
    """The passes again with the covering index docs/kpis.md suggests (dropped after)."""
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE INDEX {COVERING}")
    found = _time(f"{name} + index {COVERING.split()[0]}", engine, args)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP INDEX {COVERING.split()[0]}")
    return found


def _count(engine: sa.Engine, model: Any) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


if __name__ == "__main__":
    main()
