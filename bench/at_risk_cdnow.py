"""at_risk against the fixed-window win_back on the real CDNOW purchase history.

    python bench/at_risk_cdnow.py [--from 1997-04-01] [--to 1998-03-31] [--follow-up 90]

CDNOW (Fader, Hardie and Lee): every purchase of the 23,570 customers who first bought
from the CDNOW music store in the first quarter of 1997, until the end of June 1998. The
`lifetimes` wheel ships it (lifetimes/datasets/CDNOW_master.txt); the bench fetches the
wheel once with pip into a cache directory (var/bench/cdnow by default), checks its
SHA-256 and reads the file from the zip: lifetimes is no dependency of Leal.

The history goes through the real import (customers.csv and orders.csv in a temporary
directory, a fresh SQLite database; purchases of one customer on one day are one order,
as in the dataset's usual reading), then every rule is replayed on each run date of
[--from, --to] (the triggers are exact for past dates). A moment is counted on the first
run date that finds it. For each moment: did the customer never order again (to the end of
the data: a true lapse), come back on their own within --follow-up days (no message was
sent: the bench measures the rule, not a campaign), or come back later? --to leaves
--follow-up days of history after the last run date, so every moment has that much.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine  # noqa: E402

from campaigns.config import DatabaseSettings, LoyaltySettings  # noqa: E402
from campaigns.loader import load_config  # noqa: E402
from shop.db import make_engine, migrate  # noqa: E402
from shop.importer import import_dir  # noqa: E402
from triggers import TRIGGERS  # noqa: E402
from triggers.base import RunContext  # noqa: E402

WHEEL = "Lifetimes-0.11.3-py3-none-any.whl"
WHEEL_SHA256 = "261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"
DATA_END = date(1998, 6, 30)  # the last day the dataset covers
RUN_TIME = clock(9)  # the daily run's local time

# (label, trigger, params, minimum orders as of the run date, applied after the rule)
RULES: tuple[tuple[str, str, dict[str, Any], int], ...] = (
    ("at_risk (defaults)", "at_risk", {}, 0),
    ("at_risk min_orders=2", "at_risk", {"min_orders": 2}, 0),
    ("at_risk factor=3", "at_risk", {"factor": 3.0}, 0),
    ("win_back 90-120", "win_back", {"min_days": 90, "max_days": 120}, 0),
    ("win_back, >= 2 orders", "win_back", {"min_days": 90, "max_days": 120}, 2),
    ("win_back, >= 3 orders", "win_back", {"min_days": 90, "max_days": 120}, 3),
)


@dataclass(frozen=True)
class Shop:
    tz: ZoneInfo
    loyalty: LoyaltySettings


@dataclass
class Outcome:
    """The moments one rule found, and what their customers did next."""

    lapses: int = 0
    customers: set[str] = field(default_factory=set)
    silence: list[int] = field(default_factory=list)  # days from last order to the moment
    never: int = 0
    back_soon: int = 0
    back_later: int = 0


def main() -> None:
    args = _arguments()
    orders = _purchases(_cdnow(args.cache))
    print(f"CDNOW: {len(orders):,} customers, {sum(map(len, orders.values())):,} orders (days)")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        engine, shop = _import(directory, orders)
        started = time.perf_counter()
        outcomes = _replay(engine, shop, orders, args)
        engine.dispose()
    days = (args.to - args.start).days + 1
    print(
        f"replayed {len(RULES)} rules on {days} run dates in {time.perf_counter() - started:.0f} s"
    )
    _print_table(outcomes, args)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", type=date.fromisoformat, default="1997-04-01")
    parser.add_argument("--to", type=date.fromisoformat, default="1998-03-31")
    parser.add_argument("--follow-up", type=int, default=90, help="days to come back")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench" / "cdnow")
    args = parser.parse_args()
    if args.to + timedelta(days=args.follow_up) > DATA_END:
        parser.error(f"--to plus --follow-up must not pass the data's end ({DATA_END})")
    return args


def _cdnow(cache: Path) -> list[str]:
    """CDNOW_master.txt's lines, from the lifetimes wheel (fetched once, checked)."""
    wheel = cache / WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "lifetimes==0.11.3", "--no-deps"]
        subprocess.run([*command, "--dest", str(cache)], check=True)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"{wheel}: SHA-256 {digest}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(MEMBER).decode("ascii").splitlines()


def _purchases(lines: list[str]) -> dict[str, dict[date, int]]:
    """customer -> {day: cents}: the day's purchases summed into one order."""
    orders: dict[str, dict[date, int]] = defaultdict(dict)
    for line in lines[1:]:  # a header, then "00001 19970101  1   11.77"
        customer, day, _cds, dollars = line.split()
        on = datetime.strptime(day, "%Y%m%d").date()
        cents = round(float(dollars) * 100)
        orders[customer][on] = orders[customer].get(on, 0) + cents
    return dict(orders)


def _import(directory: Path, orders: dict[str, dict[date, int]]) -> tuple[Engine, Shop]:
    """The history through `leal import`'s importer into a fresh SQLite database."""
    data = directory / "csv"
    data.mkdir()
    with (data / "customers.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["customer_id", "email", "phone", "first_name", "last_name",
                         "birth_date", "locale", "timezone", "email_opt_in", "sms_opt_in",
                         "created_at"])  # fmt: skip
        for customer, days in orders.items():
            joined = f"{min(days)}T09:00:00Z"
            writer.writerow([f"cd{customer}", f"cd{customer}@example.com", "", "", "", "",
                             "en", "", "true", "false", joined])  # fmt: skip
    with (data / "orders.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "customer_id", "ordered_at", "total"])
        for customer, days in orders.items():
            for on, cents in sorted(days.items()):
                total = f"{cents // 100}.{cents % 100:02d}"
                order = f"{customer}-{on:%Y%m%d}"
                writer.writerow([order, f"cd{customer}", f"{on}T12:00:00Z", total])
    config = load_config(ROOT / "settings.toml")
    url = f"sqlite:///{directory / 'cdnow.db'}"
    settings = config.settings.model_copy(update={"database": DatabaseSettings(url=url)})
    engine = make_engine(url)
    migrate(engine)
    end = datetime.combine(DATA_END, RUN_TIME, settings.shop.tz)
    report = import_dir(engine, data, settings, on=DATA_END, at=end)
    bad = sum(file.bad for file in report.files)
    rows = sum(file.rows for file in report.files)
    print(f"imported {rows:,} rows ({bad} bad) in {report.seconds:.1f} s")
    if bad:
        sys.exit("the import refused rows: the comparison would not be on the whole history")
    return engine, Shop(settings.shop.tz, settings.loyalty)


def _replay(
    engine: Engine, shop: Shop, orders: dict[str, dict[date, int]], args: argparse.Namespace
) -> dict[str, Outcome]:
    tz, loyalty = shop.tz, shop.loyalty
    history = {f"cd{customer}": sorted(days) for customer, days in orders.items()}
    seen: dict[str, set[tuple[str, str]]] = defaultdict(set)
    outcomes = {label: Outcome() for label, *_ in RULES}
    with engine.connect() as connection:
        day = args.start
        while day <= args.to:
            run = RunContext(at=datetime.combine(day, RUN_TIME, tz), tz=tz, loyalty=loyalty)
            for label, name, params, min_orders in RULES:
                trigger = TRIGGERS[name]
                query = trigger.candidates(trigger.params(**params), run)
                for row in connection.execute(query).mappings():
                    customer, occasion = row["customer_id"], row["occasion"]
                    days = history[customer]
                    if (customer, occasion) in seen[label] or _orders_by(days, day) < min_orders:
                        continue
                    seen[label].add((customer, occasion))
                    _count(outcomes[label], customer, days, day, args.follow_up)
            day += timedelta(days=1)
    return outcomes


def _orders_by(days: list[date], day: date) -> int:
    return bisect_right(days, day)


def _count(outcome: Outcome, customer: str, days: list[date], day: date, follow_up: int) -> None:
    """One moment found on `day`: what the customer did after it."""
    placed = _orders_by(days, day)
    outcome.lapses += 1
    outcome.customers.add(customer)
    outcome.silence.append((day - days[placed - 1]).days)
    if placed == len(days):
        outcome.never += 1
    elif days[placed] <= day + timedelta(days=follow_up):
        outcome.back_soon += 1
    else:
        outcome.back_later += 1


def _print_table(outcomes: dict[str, Outcome], args: argparse.Namespace) -> None:
    soon = f"back <= {args.follow_up} d"
    print(
        f"\nRun dates {args.start} .. {args.to} (daily); outcomes to {DATA_END}; "
        "no message sent: returns are on the customers' own"
    )
    header = (
        f"{'rule':<24}{'moments':>8}{'customers':>10}{'median silence':>15}"
        f"{'never again':>18}{soon:>18}{'back later':>16}"
    )
    print(header)
    for label, outcome in outcomes.items():
        total = outcome.lapses or 1
        median = statistics.median(outcome.silence) if outcome.silence else 0
        cells = [
            f"{count:>7,} ({count / total:4.0%})"
            for count in (outcome.never, outcome.back_soon, outcome.back_later)
        ]
        print(
            f"{label:<24}{outcome.lapses:>8,}{len(outcome.customers):>10,}{median:>13.0f} d"
            f"{cells[0]:>18}{cells[1]:>18}{cells[2]:>16}"
        )


if __name__ == "__main__":
    main()
