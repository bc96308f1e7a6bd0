"""Engines, sessions and schema migrations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration (tests/test_schema.py holds it equal to the scripts' head): every
# command checks the schema against it, and reading the head from the scripts imports
# alembic and every migration file, 0.7 s of each command's start.
SCHEMA_HEAD = "0022"
BUSY_TIMEOUT_MS = 30_000
# Execution options read by `_sqlite_begin` (PostgreSQL ignores them).
_IMMEDIATE, _LOCK_WAIT_MS = "leal_sqlite_immediate", "leal_sqlite_lock_wait_ms"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite files get their folder, WAL and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def writer(engine: Engine, lock_wait: timedelta | None = None) -> Engine:
    """`engine` for transactions that will write, after reading or not.

    On SQLite their BEGIN is IMMEDIATE: the write lock is taken first, waiting for another
    writer up to the busy timeout (or `lock_wait`). A deferred BEGIN that reads and then
    writes cannot wait: its snapshot would be stale once the other writer commits, so SQLite
    fails it at once with `database is locked`. Readers keep deferred BEGINs and never block.
    """
    options: dict[str, Any] = {_IMMEDIATE: True}
    if lock_wait is not None:
        options[_LOCK_WAIT_MS] = int(lock_wait.total_seconds() * 1000)
    return engine.execution_options(**options)


def immediate(connection: Connection) -> Connection:
    """`writer` for a connection already open (e.g. one kept for many transactions)."""
    return connection.execution_options(**{_IMMEDIATE: True})


def _sqlite_begin(connection: Connection) -> None:
    """BEGIN ourselves: Python's sqlite3 only opens a transaction before DML, so DDL
    (an import's index drops) would run outside it and survive a rollback. Straight on
    the driver: a delivery worker begins one transaction per message."""
    driver = connection.connection.driver_connection
    assert driver is not None
    options = connection.get_execution_options()
    if not options.get(_IMMEDIATE):
        driver.execute("BEGIN")
        return
    wait_ms = options.get(_LOCK_WAIT_MS)
    if wait_ms is None:
        driver.execute("BEGIN IMMEDIATE")
        return
    driver.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
    try:
        driver.execute("BEGIN IMMEDIATE")
    finally:  # the lock is held (or was not had): later statements wait as usual
        driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN: see _sqlite_begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # 64 MiB: the hot index pages of a large shop; the OS page cache holds the rest. A bigger
    # cache only held a big run's dirty pages longer (256 MiB: 462 → 283 MB peak, no slower)
    cursor.execute("PRAGMA cache_size=-65536")
    # Temporary tables and big sorts in a file (the OS page cache), not in the process: an
    # INSERT … SELECT reading the table it writes holds its whole result in a temporary
    # table (the first run's expiries at 1M customers: 1.09 GB peak in memory)
    cursor.execute("PRAGMA temp_store=FILE")
    cursor.close()


def refresh_statistics(engine: Engine) -> None:
    """After a bulk load on PostgreSQL: ANALYZE, so the next run's plans know the tables'
    sizes (without it, at 20k customers the day's plan took 0.38 s instead of 0.04 s and
    the summaries 0.69 s instead of 0.06 s; autovacuum would catch up only later). SQLite's
    queries are written for its planner without statistics: nothing to do there."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # only to migrate: see SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def schema_is_current(engine: Engine) -> bool:
    """Whether the database is migrated to the newest revision."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return [version for (version,) in versions] == [SCHEMA_HEAD]
