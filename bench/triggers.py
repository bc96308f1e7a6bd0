"""Time the four triggers and the whole plan on a large synthetic shop.

    python bench/triggers.py --customers 1000000

Builds (or reuses) a SQLite shop of N customers, 10 orders and 2 cart events per customer
through the real import, then prints the time of each trigger, of the whole plan (every
shipped campaign with its policies), and of a naive per-customer loop over a sample,
extrapolated to the whole shop. The naive loop also cross-checks the set-based answers.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Executable, Row, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.naive import naive_matches  # noqa: E402
from bench.timing import best_of  # noqa: E402
from campaigns.config import DatabaseSettings  # noqa: E402
from campaigns.loader import Config, load_config  # noqa: E402
from campaigns.plan import make_plan  # noqa: E402
from shop.db import make_engine, migrate  # noqa: E402
from shop.demo import write_demo_shop  # noqa: E402
from shop.importer import import_dir  # noqa: E402
from shop.models import Customer  # noqa: E402
from triggers import TRIGGERS  # noqa: E402
from triggers.base import RunContext  # noqa: E402

TZ = ZoneInfo("Europe/Madrid")
AT = datetime(2026, 6, 15, 9, 0, tzinfo=TZ)  # fixed, so a built shop can be reused
NAIVE_INDEX = "bench_naive_cart_customer ON cart_events (customer_id, at)"


def main() -> None:
    args = _arguments()
    path = args.db or ROOT / "var" / "bench" / f"shop-{args.customers}.db"
    config = _config(path)
    engine = make_engine(config.settings.database.url)
    if args.rebuild or not path.exists():
        _build(engine, config, path.parent / f"data-{args.customers}", args)
    migrate(engine)  # a shop built by an older Leal gets the current schema
    run = RunContext(at=AT, tz=TZ, loyalty=config.settings.loyalty)
    with engine.connect() as connection:
        customers = connection.scalar(select(Customer.id).order_by(Customer.id.desc()).limit(1))
        print(f"shop: {path} ({args.customers:,} customers; last id {customers})")
        matched, total = _time_triggers(connection, run, args.repeat)
        plan_s, plan = best_of(lambda: make_plan(connection, config, run), args.repeat)
        print(f"{'whole plan':<16}{len(plan.planned):>10,} planned {plan_s:>9.3f} s")
        _naive(connection, run, matched, total, args)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-per-customer", type=float, default=10.0)
    parser.add_argument("--carts-per-customer", type=float, default=2.0)
    parser.add_argument("--sample", type=int, default=10_000, help="naive loop sample size")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    parser.add_argument("--db", type=Path, help="SQLite file (default var/bench/shop-N.db)")
    parser.add_argument("--rebuild", action="store_true", help="build the shop again")
    return parser.parse_args()


def _config(path: Path) -> Config:
    config = load_config(ROOT / "settings.toml")
    database = DatabaseSettings(url=f"sqlite:///{path}")
    settings = config.settings.model_copy(update={"database": database})
    return Config(settings, config.path, config.lines)


def _build(engine: Engine, config: Config, data: Path, args: argparse.Namespace) -> None:
    url = engine.url.database
    if url:
        for suffix in ("", "-wal", "-shm"):
            Path(url + suffix).unlink(missing_ok=True)
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    started = time.perf_counter()
    counts = write_demo_shop(
        data,
        at=AT,
        tz=TZ,
        customers=args.customers,
        seed=1,
        orders_per_customer=args.orders_per_customer,
        carts_per_customer=args.carts_per_customer,
        with_items=False,
    )
    print(f"generated {counts} in {time.perf_counter() - started:.1f} s")
    migrate(engine)
    report = import_dir(engine, data, config.settings, on=AT.date())
    rows = sum(file.rows for file in report.files)
    for file in report.files:
        rate = file.rows / file.seconds if file.seconds else 0
        print(
            f"  import {file.name:<16}{file.rows:>12,} rows, {file.bad} bad, "
            f"{file.seconds:6.1f} s ({rate:,.0f} rows/s)"
        )
    rest = report.seconds - sum(file.seconds for file in report.files)
    print(f"  indexes, summaries and commit {rest:.1f} s")
    print(f"imported {rows:,} rows in {report.seconds:.1f} s ({rows / report.seconds:,.0f} rows/s)")
    shutil.rmtree(data)


def _time_triggers(
    connection: Connection, run: RunContext, repeat: int
) -> tuple[dict[str, set[str]], float]:
    matched: dict[str, set[str]] = {}
    total = 0.0
    for name, trigger in TRIGGERS.items():
        query = trigger.candidates(trigger.params(), run)
        seconds, rows = best_of(partial(_fetch_all, connection, query), repeat)
        matched[name] = {row.customer_id for row in rows}
        total += seconds
        print(f"{name:<16}{len(rows):>10,} moments {seconds:>9.3f} s")
    print(f"{'all four':<16}{'':>18} {total:>9.3f} s")
    return matched, total


def _fetch_all(connection: Connection, query: Executable) -> Sequence[Row[Any]]:
    return connection.execute(query).all()


def _naive(
    connection: Connection,
    run: RunContext,
    matched: dict[str, set[str]],
    set_based_s: float,
    args: argparse.Namespace,
) -> None:
    ids = list(connection.scalars(select(Customer.id)))
    sample = random.Random(7).sample(ids, min(args.sample, len(ids)))
    # A fair baseline: the per-customer loop gets the index it needs to find a customer's
    # cart events (the set-based trigger does not), built here and dropped after.
    connection.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {NAIVE_INDEX}")
    started = time.perf_counter()
    naive = naive_matches(connection, sample, run)
    elapsed = time.perf_counter() - started
    connection.exec_driver_sql(f"DROP INDEX {NAIVE_INDEX.split()[0]}")
    connection.commit()
    whole = elapsed * len(ids) / len(sample)
    in_sample = set(sample)
    agree = all(naive[name] == matched[name] & in_sample for name in naive)
    print(
        f"naive loop: {len(sample):,} customers in {elapsed:.1f} s, extrapolated {whole:,.0f} s "
        f"for {len(ids):,}; set-based is {whole / set_based_s:,.0f}x faster; "
        f"answers on the sample {'agree' if agree else 'DISAGREE'}"
    )
    if not agree:
        for name in naive:
            print(f"  {name}: naive {len(naive[name])}, set-based {len(matched[name] & in_sample)}")


if __name__ == "__main__":
    main()
