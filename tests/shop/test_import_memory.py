"""An import's memory does not grow with its files: rows stream through, and SQLite's page
cache and sorts are bounded (temporary files, not RAM, beyond them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shop.import_files import HEADERS

# Runs in a fresh process: import one folder into a new SQLite file, the parse helpers on
# (as for a big file), 2 MiB for the page cache and for sorts, blocks of 1,000 rows: the
# fixed costs are all paid early, and whatever else grows with the rows shows.
SCRIPT = r"""
import json, re, resource, sys
from pathlib import Path
from campaigns.config import Settings
from shop import csv_rows, import_parse, importer
from shop.db import make_engine, migrate
folder = Path(sys.argv[1])
import_parse.BACKGROUND_BYTES = 0
importer.IMPORT_PRAGMAS["cache_size"] = -2048
importer.SORT_CACHE_KIB = 2048
csv_rows.BATCH = 1000
engine = make_engine(f"sqlite:///{folder / 'leal.db'}")
migrate(engine)
settings = Settings(database={"url": str(engine.url)})
report = importer.import_dir(engine, folder, settings)
assert report.committed and not report.problems, report.problems[:3]
# VmHWM, not ru_maxrss: Linux carries the forked image's peak across exec into ru_maxrss
own = re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1]
print(json.dumps([int(own) / 1024, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))
"""


def _peaks(folder: Path, orders: int) -> list[float]:
    """Peak RSS in MB of the importing process and of its largest parse helper."""
    folder.mkdir()
    customers = orders // 10
    lines = [f"c{n},,,A,B,,,,true,true," for n in range(customers)]
    (folder / "customers.csv").write_text("\n".join([HEADERS["customers"], *lines]) + "\n")
    lines = [
        f"{n},c{n % customers},2026-0{1 + n % 9}-1{n % 10}T1{n % 10}:00:00Z,{n % 997}.{n % 100}"
        for n in range(orders)
    ]
    (folder / "orders.csv").write_text("\n".join([HEADERS["orders"], *lines]) + "\n")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder)], capture_output=True, text=True, check=True
    )
    return [float(peak) for peak in json.loads(done.stdout.splitlines()[-1])]


@pytest.mark.slow
def test_an_import_four_times_longer_needs_no_more_memory(tmp_path: Path) -> None:
    # when 25,000 orders are imported, then 100,000 (a 4 MB file, 20 MB of database)
    small, large = _peaks(tmp_path / "small", 25_000), _peaks(tmp_path / "large", 100_000)
    # then neither the importer nor its helpers hold more (beyond allocator noise)
    assert large[0] - small[0] < 8, (small, large)
    assert large[1] - small[1] < 8, (small, large)
