"""The daily run as a user runs it: `leal import`, the first `leal run`, a day's run.

    python bench/daily.py --customers 1000000 [--postgres URL] [--rebuild] [--no-items]

Builds (or reuses) the CSV files of a demo shop of N customers (10 orders and 2 cart
events each, with their order lines unless --no-items) under var/bench/, imports them with
the real `leal import` into a fresh SQLite file (and a fresh PostgreSQL schema with
--postgres), then times the real commands as subprocesses, each alone on the machine:

- `leal import DIR`: rows/s and peak memory;
- the first `leal run --no-deliver` after the import (it books every lot that ever expired);
- `leal run --dry-run --format jsonl` the next day (84k lines at 1M customers);
- that next day's `leal run --no-deliver`: the steady state;
- `leal report --format json` over both days: each campaign's holdout comparison and the
  loyalty KPIs of the period.

Phases come from `leal run --timings`, printed by the command itself. Peak RSS is sampled
from /proc over the command's whole process tree (an import parses in a helper process)
and is never below what the kernel recorded for the command. Delivery is excluded
(`bench/dispatch.py` measures it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.proc_memory import proc_mb, process_tree  # noqa: E402
from campaigns.config import DatabaseSettings  # noqa: E402
from campaigns.demo import write_demo_settings  # noqa: E402
from campaigns.loader import load_config  # noqa: E402
from shop.demo import write_demo_shop  # noqa: E402

TZ = ZoneInfo("Europe/Madrid")
AT = datetime(2026, 6, 15, 9, 0, tzinfo=TZ)  # fixed, so built files can be reused
FIRST_DAY = AT.date()
NEXT_DAY = FIRST_DAY + timedelta(days=1)
PG_SCHEMA = "leal_bench_daily"
LEAL = Path(sys.executable).parent / "leal"
_TIMING = re.compile(r"^timing (\S+)\s+([0-9.]+) s\s+([0-9.]+) MB$")


@dataclass
class Measured:
    """One command: wall time, peak RSS of its process tree, its own phase timings."""

    label: str
    seconds: float
    peak_mb: float
    phases: dict[str, float] = field(default_factory=dict)
    rows: int = 0


def main() -> None:
    args = _arguments()
    data = (
        ROOT / "var" / "bench" / f"daily-data-{args.customers}{'-noitems' if args.no_items else ''}"
    )
    rows = _csv_files(data, args)
    results: dict[str, list[Measured]] = {}
    results["SQLite"] = _bench(_sqlite_url(args), data, rows, args)
    if args.postgres:
        results["PostgreSQL"] = _bench(_postgres_url(args.postgres), data, rows, args)
    _print_table(results, args.customers, rows)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="also on PostgreSQL: a URL (a fresh schema is used)")
    parser.add_argument("--rebuild", action="store_true", help="generate the CSV files again")
    parser.add_argument("--no-items", action="store_true", help="orders without order lines")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file afterwards")
    parser.add_argument(
        "--from-import", action="store_true",
        help="SQLite: start from the copy of the last import (saved by each import) instead "
        "of importing again, to time the runs alone",
    )  # fmt: skip
    return parser.parse_args()


def _csv_files(data: Path, args: argparse.Namespace) -> int:
    """The shop's CSV files (generated once); returns their data rows."""
    if args.rebuild or not (data / "customers.csv").exists():
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        started = time.perf_counter()
        counts = write_demo_shop(
            data, at=AT, tz=TZ, customers=args.customers, seed=1, orders_per_customer=10.0,
            carts_per_customer=2.0, with_items=not args.no_items,
        )  # fmt: skip
        print(f"generated {counts} in {time.perf_counter() - started:.0f} s", flush=True)
    return sum(_lines(path) - 1 for path in data.glob("*.csv"))


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _sqlite_url(args: argparse.Namespace) -> str:
    path = ROOT / "var" / "bench" / f"daily-{args.customers}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _postgres_url(url: str) -> str:
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    admin.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{PG_SCHEMA}"


def _bench(url: str, data: Path, rows: int, args: argparse.Namespace) -> list[Measured]:
    settings_file = _settings_file(url, args)
    leal = [str(LEAL), "--settings", str(settings_file)]
    imported = _imported(url, leal, data, rows, args)
    run = [*leal, "run", "--no-deliver", "--timings"]
    first = _measure("first leal run", [*run, "--date", FIRST_DAY.isoformat()])
    dry = _measure(
        "run --dry-run jsonl",
        [*leal, "run", "--dry-run", "--format", "jsonl", "--timings", "--date", str(NEXT_DAY)],
    )
    steady = _measure("next day's leal run", [*run, "--date", NEXT_DAY.isoformat()])
    period = ["--from", FIRST_DAY.isoformat(), "--to", NEXT_DAY.isoformat()]
    report = _measure("leal report json", [*leal, "report", *period, "--format", "json"])
    if url.startswith("sqlite") and not args.keep:
        database = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    return [imported, first, dry, steady, report]


def _imported(
    url: str, leal: list[str], data: Path, rows: int, args: argparse.Namespace
) -> Measured:
    """`leal import`, timed; on SQLite its result is copied aside for --from-import."""
    if not url.startswith("sqlite"):
        return replace(_measure("leal import", [*leal, "import", str(data)]), rows=rows)
    database = Path(url.removeprefix("sqlite:///"))
    copy = database.with_name(f"{database.stem}-imported.db")
    if args.from_import and copy.exists():
        _copy_database(copy, database)
        return Measured("leal import (a copy)", 0.0, 0.0)
    imported = replace(_measure("leal import", [*leal, "import", str(data)]), rows=rows)
    _copy_database(database, copy)
    return imported


def _copy_database(source: Path, target: Path) -> None:
    """The file and its WAL, if one is left."""
    for suffix in ("", "-wal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


def _settings_file(url: str, args: argparse.Namespace) -> Path:
    config = load_config(ROOT / "settings.toml")
    settings = config.settings.model_copy(update={"database": DatabaseSettings(url=url)})
    kind = "postgres" if url.startswith("postgresql") else "sqlite"
    path = ROOT / "var" / "bench" / f"daily-{args.customers}-{kind}.toml"
    return write_demo_settings(config, settings, path)


def _measure(label: str, command: list[str]) -> Measured:
    """Run `command` (its stdout discarded), sampling its process tree's RSS."""
    print(f"$ {' '.join(command[3:])}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    sampler = _RssSampler(process.pid)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    sampler.stop()
    if process.returncode != 0:
        sys.exit(f"{label} failed ({process.returncode}):\n{stderr}")
    phases = {
        match[1]: float(match[2])
        for line in stderr.splitlines()
        if (match := _TIMING.match(line)) and match[1] != "total"
    }
    own = [float(m[3]) for line in stderr.splitlines() if (m := _TIMING.match(line))]
    peak = max([sampler.peak_mb, *own])
    print(f"  {seconds:.1f} s, peak {peak:.0f} MB", flush=True)
    return Measured(label, seconds, peak, phases)


class _RssSampler(threading.Thread):
    """The peak of the summed RSS of a process and its descendants, every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            self.peak_mb = max(
                self.peak_mb, sum(proc_mb(pid, "status", "VmRSS") for pid in process_tree(self.pid))
            )

    def stop(self) -> None:
        self._done.set()
        self.join()


PHASES = ("settings", "expiries", "summaries", "plan", "recommendations", "ledger", "coupons",
          "commit", "output")  # fmt: skip


def _print_table(results: dict[str, list[Measured]], customers: int, rows: int) -> None:
    print(f"\nDaily bench: {customers:,} customers, {rows:,} CSV rows, run dates "
          f"{FIRST_DAY} and {NEXT_DAY}; {os.cpu_count()} cores")  # fmt: skip
    kinds = list(results)
    header = f"{'':<24}" + "".join(f"{kind:>26}" for kind in kinds)
    print(header)
    for index, label in enumerate(m.label for m in results[kinds[0]]):
        cells = []
        for kind in kinds:
            measured = results[kind][index]
            rate = (
                f" {measured.rows / measured.seconds / 1000:,.0f}k rows/s" if measured.rows else ""
            )
            cells.append(f"{measured.seconds:7.1f} s {measured.peak_mb:5.0f} MB{rate}")
        print(f"{label:<24}" + "".join(f"{cell:>26}" for cell in cells))
        for phase in PHASES:
            values = [results[kind][index].phases.get(phase) for kind in kinds]
            if any(value is not None for value in values):
                shown = "".join(f"{'-' if v is None else f'{v:.2f} s':>26}" for v in values)
                print(f"  {phase:<22}{shown}")


if __name__ == "__main__":
    main()
