"""Real worker processes for the delivery tests, and waiting on the ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, func, select

from shop.models import OutboxMessage
from workers import ledger


def start_worker(
    settings: Path, processes: int = 1, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """`leal worker -c N` in its own process group (so a test can kill -9 all of it); its
    output goes to `log` when given."""
    env = os.environ | {"LEAL_SETTINGS": str(settings), "LEAL_SECRET_KEY": "k" * 32}
    out: IO[bytes] | int = subprocess.DEVNULL if log is None else log
    return subprocess.Popen(
        [sys.executable, "-m", "campaigns.cli", "worker", "-c", str(processes), "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        env=env, stdout=out, stderr=out, start_new_session=True,
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    os.killpg(worker.pid, sig)
    worker.wait(timeout=30)


def count(engine: Engine, *states: str) -> int:
    with engine.connect() as connection:
        query = select(func.count()).where(OutboxMessage.status.in_(states))
        return int(connection.scalar(query) or 0)


def wait_for(engine: Engine, expected: int, *states: str, seconds: float = 60) -> int:
    """Rows in `states` (default: sent) once there are `expected`, or at the deadline."""
    states = states or (ledger.SENT,)
    deadline = time.monotonic() + seconds
    while (found := count(engine, *states)) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return found
