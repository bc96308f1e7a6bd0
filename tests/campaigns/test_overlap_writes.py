"""SQLite write transactions that read first: `shop.db.writer` makes them wait, not fail.

The mechanism behind overlapping runs (test_overlap.py), and behind any transaction that
reads before it writes (an import, a suppression that looks up its key first): in WAL mode
a deferred transaction holding a snapshot cannot wait for another writer, because its
snapshot is stale once that writer commits; SQLite fails it at once with `database is
locked`, whatever the busy timeout. BEGIN IMMEDIATE takes the write lock before reading.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import OperationalError

from shop.db import make_engine, writer
from shop.models import Product


def _read_then_write_while_another_writes(path: Path, begin: Callable[[Engine], object]) -> int:
    """Transaction A reads, B writes and commits, then A writes; the products counted."""
    url = f"sqlite:///{path}"
    first, second = make_engine(url), make_engine(url)
    a_has_read, b_is_done = threading.Event(), threading.Event()

    def other_writer() -> None:
        a_has_read.wait(10)
        with second.begin() as connection:  # waits for A's lock if A holds one
            connection.execute(insert(Product), {"sku": "b", "name": "B", "price_cents": 1})
        b_is_done.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        with begin(first) as connection:  # type: ignore[attr-defined]
            connection.scalar(select(func.count()).select_from(Product))
            a_has_read.set()
            b_is_done.wait(0.5)  # B commits meanwhile, unless A's lock holds it off
            connection.execute(insert(Product), {"sku": "a", "name": "A", "price_cents": 1})
    finally:
        a_has_read.set()
        thread.join(30)
    with first.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(Product)) or 0)


def test_a_deferred_transaction_that_read_first_fails_when_another_wrote(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # given a database, and a plain transaction that reads before it writes
    path = tmp_path / "leal.db"
    path.write_bytes(sqlite_template.read_bytes())
    # when another connection writes in between, then it fails at once (the busy timeout
    # does not apply): the failure `writer` exists for
    with pytest.raises(OperationalError, match="database is locked"):
        _read_then_write_while_another_writes(path, lambda engine: engine.begin())


def test_a_writer_transaction_that_reads_first_makes_the_other_writer_wait(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # given a database, and a `writer` transaction that reads before it writes
    path = tmp_path / "leal.db"
    path.write_bytes(sqlite_template.read_bytes())
    # when another connection writes meanwhile, then both writes land
    count = _read_then_write_while_another_writes(path, lambda engine: writer(engine).begin())
    assert count == 2


def test_a_writer_with_its_own_lock_wait_leaves_the_usual_busy_timeout_after(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "leal.db"
    path.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{path}", pool_size=1)
    with writer(engine, timedelta(minutes=15)).begin() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
