"""The real `leal import` of a demo shop: rows/s per file and in all, peak memory, WAL size.

    python bench/import_rate.py --customers 1000000 [--postgres URL] [--again] [--rebuild]

Builds (once) the CSV files of a demo shop of N customers with 10 orders and 2 cart events
each and no order lines (as bench/triggers.py does) under var/bench/import-data-N/, then
times `leal --settings S import DIR` as a subprocess into a fresh, migrated SQLite file
(and a fresh PostgreSQL schema with --postgres, dropped afterwards). With --again the same
files are imported a second time (the idempotent path: every row already there).

Peak memory is sampled every 50 ms over the command's process tree (a big import is parsed
by forked helpers): the sum of RSS counts the pages they share with the writer once per
process, the sum of PSS splits them; the largest single process comes from wait4's rusage.
The SQLite WAL file is sampled too (it is checkpointed away when the import ends). Besides
rows/s per file, the command's own phases after the files (index builds, summaries, commit)
are shown, and the CPU seconds of the whole tree.
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
from dataclasses import dataclass, field
from datetime import datetime
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
PG_SCHEMA = "leal_bench_import"
LEAL = Path(sys.executable).parent / "leal"
# A row of `leal import`'s table: │ orders.csv │ 1000000 │ 1000000 │ 0 │ 12.3 │
_FILE_ROW = re.compile(r"^\W*(\w+\.csv)\W+(\d+)\W+(\d+)\W+(\d+)\W+([0-9.]+)\W*$")
_PHASE = re.compile(r"(\w+) ([0-9.]+) s")  # in "after the files: indexes 1.2 s, summaries …"


@dataclass
class Measured:
    label: str
    seconds: float = 0.0
    rss_mb: float = 0.0  # summed over the process tree
    pss_mb: float = 0.0
    largest_mb: float = 0.0  # one process, from getrusage
    cpu_s: float = 0.0  # user + system, the whole process tree
    wal_mb: float = 0.0
    files: list[tuple[str, int, float]] = field(default_factory=list)  # name, rows, seconds
    phases: list[tuple[str, float]] = field(default_factory=list)  # after the files

    @property
    def rows(self) -> int:
        return sum(rows for _, rows, _ in self.files)


def main() -> None:
    args = _arguments()
    data = ROOT / "var" / "bench" / f"import-data-{args.customers}"
    _csv_files(data, args)
    results = [*_bench_sqlite(data, args)]
    if args.postgres:
        results += _bench_postgres(args.postgres, data, args)
    _print_table(results, args.customers)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--postgres", help="also on PostgreSQL: a URL (a fresh schema is used)")
    parser.add_argument("--again", action="store_true", help="import the same files twice")
    parser.add_argument("--rebuild", action="store_true", help="generate the CSV files again")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file afterwards")
    return parser.parse_args()


def _csv_files(data: Path, args: argparse.Namespace) -> None:
    if not args.rebuild and (data / "cart_events.csv").exists():
        return
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    started = time.perf_counter()
    counts = write_demo_shop(
        data, at=AT, tz=TZ, customers=args.customers, seed=1, orders_per_customer=10.0,
        carts_per_customer=2.0, with_items=False,
    )  # fmt: skip
    print(f"generated {counts} in {time.perf_counter() - started:.0f} s", flush=True)


def _bench_sqlite(data: Path, args: argparse.Namespace) -> list[Measured]:
    if args.no_sqlite:
        return []
    database = ROOT / "var" / "bench" / f"import-{args.customers}.db"
    wal = Path(f"{database}-wal")
    for path in (database, wal, Path(f"{database}-shm")):
        path.unlink(missing_ok=True)
    results = _bench(f"sqlite:///{database}", data, args, "SQLite", wal)
    size = database.stat().st_size / 1e6
    print(f"  database file {size:,.0f} MB", flush=True)
    if not args.keep:
        for path in (database, wal, Path(f"{database}-shm")):
            path.unlink(missing_ok=True)
    return results


def _bench_postgres(url: str, data: Path, args: argparse.Namespace) -> list[Measured]:
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    separator = "&" if "?" in url else "?"
    try:
        return _bench(
            f"{url}{separator}options=-csearch_path%3D{PG_SCHEMA}", data, args, "PostgreSQL", None
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        admin.dispose()


def _bench(
    url: str, data: Path, args: argparse.Namespace, kind: str, wal: Path | None
) -> list[Measured]:
    leal = [str(LEAL), "--settings", str(_settings_file(url, args, kind))]
    subprocess.run([*leal, "db", "upgrade"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    results = [_measure(f"{kind} import", [*leal, "import", str(data)], wal)]
    if args.again:
        results.append(_measure(f"{kind} again", [*leal, "import", str(data)], wal))
    return results


def _settings_file(url: str, args: argparse.Namespace, kind: str) -> Path:
    config = load_config(ROOT / "settings.toml")
    settings = config.settings.model_copy(update={"database": DatabaseSettings(url=url)})
    path = ROOT / "var" / "bench" / f"import-{args.customers}-{kind.lower()}.toml"
    return write_demo_settings(config, settings, path)


def _measure(label: str, command: list[str], wal: Path | None) -> Measured:
    print(f"$ {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        env=os.environ | {"COLUMNS": "200"},
    )  # fmt: skip
    sampler = _Sampler(process.pid, wal)
    sampler.start()
    assert process.stdout is not None
    output = process.stdout.read()
    # wait4, not wait: the rusage of this command alone (its helper included, as it waited)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    sampler.stop()
    if process.returncode != 0:
        sys.exit(f"{label} failed ({process.returncode}):\n{output[-3000:]}")
    largest = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    files = [
        (match[1], int(match[2]), float(match[5]))
        for line in output.splitlines()
        if (match := _FILE_ROW.match(line))
    ]
    phases = [
        (match[1], float(match[2]))
        for line in output.splitlines()
        if line.startswith("after the files: ")
        for match in _PHASE.finditer(line)
    ]
    measured = Measured(
        label, seconds, sampler.rss_mb, sampler.pss_mb, largest, cpu, sampler.wal_mb, files, phases
    )
    print(
        f"  {seconds:.1f} s, {measured.rows / seconds:,.0f} rows/s, peak RSS {sampler.rss_mb:.0f}"
        f" MB {sampler.peak} (PSS {sampler.pss_mb:.0f}), WAL {sampler.wal_mb:,.0f} MB",
        flush=True,
    )
    return measured


class _Sampler(threading.Thread):
    """Peaks of the summed RSS and PSS of a process tree and of a file's size, every 50 ms."""

    def __init__(self, pid: int, wal: Path | None) -> None:
        super().__init__(daemon=True)
        self.pid, self.wal, self._done = pid, wal, threading.Event()
        self.rss_mb = self.pss_mb = self.wal_mb = 0.0
        self.peak = ""  # when the summed RSS peaked, and each process's share
        self.started = time.perf_counter()

    def run(self) -> None:
        while not self._done.wait(0.05):
            pids = process_tree(self.pid)
            each = [proc_mb(pid, "status", "VmRSS") for pid in pids]
            pss = sum(proc_mb(pid, "smaps_rollup", "Pss") for pid in pids)
            if sum(each) > self.rss_mb:
                elapsed = time.perf_counter() - self.started
                self.peak = f"at {elapsed:.0f} s: " + " + ".join(f"{mb:.0f}" for mb in each)
            self.rss_mb, self.pss_mb = max(self.rss_mb, sum(each)), max(self.pss_mb, pss)
            if self.wal is not None and self.wal.exists():
                self.wal_mb = max(self.wal_mb, self.wal.stat().st_size / 1e6)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _print_table(results: list[Measured], customers: int) -> None:
    print(f"\nImport bench: {customers:,} customers; {os.cpu_count()} cores")
    for measured in results:
        print(
            f"{measured.label:<20}{measured.rows:>12,} rows {measured.seconds:8.1f} s "
            f"{measured.rows / measured.seconds:>10,.0f} rows/s   peak RSS {measured.rss_mb:6.0f} "
            f"MB, PSS {measured.pss_mb:6.0f} MB, largest process {measured.largest_mb:6.0f} MB"
            + (f", WAL {measured.wal_mb:,.0f} MB" if measured.wal_mb else "")
            + f"; CPU {measured.cpu_s:.1f} s"
        )
        for name, rows, seconds in measured.files:
            rate = rows / seconds if seconds else 0.0
            print(f"  {name:<18}{rows:>12,} rows {seconds:8.1f} s {rate:>10,.0f} rows/s")
        for phase, seconds in measured.phases:
            print(f"  {phase:<18}{'':>17} {seconds:8.1f} s")
        accounted = sum(s for _, _, s in measured.files) + sum(s for _, s in measured.phases)
        print(f"  {'the rest':<18}{'':>17} {measured.seconds - accounted:8.1f} s (start, exit)")


if __name__ == "__main__":
    main()
