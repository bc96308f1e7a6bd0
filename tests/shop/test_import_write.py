"""What the import's upserts rewrite: only rows whose values differ, never an erased one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from campaigns.config import Settings
from shop.import_write import sink
from shop.importer import TARGETS
from shop.models import Customer
from shop.privacy import erase_customer
from tests.shop.import_files import SHOP, by_key, run, write_shop

UPDATED = ("customers", "products", "order_items")  # the files whose conflicts update


def _versions(connection: Connection) -> dict[str, list[str]]:
    """Something that changes whenever a row of each table is rewritten."""
    if connection.dialect.name == "postgresql":
        return {
            name: list(connection.scalars(text(f"SELECT xmin::text FROM {name} ORDER BY 1")))
            for name in UPDATED
        }
    return {name: list(connection.scalars(text("SELECT n FROM leal_rewrites"))) for name in UPDATED}


def _count_rewrites(connection: Connection) -> None:
    """SQLite has no row versions: a trigger per table counts its updates."""
    if connection.dialect.name == "postgresql":
        return
    connection.execute(text("CREATE TABLE leal_rewrites (n INTEGER)"))
    connection.execute(text("INSERT INTO leal_rewrites VALUES (0)"))
    for name in UPDATED:
        connection.execute(
            text(
                f"CREATE TRIGGER leal_rewrite_{name} AFTER UPDATE ON {name} "
                "BEGIN UPDATE leal_rewrites SET n = n + 1; END"
            )
        )


def test_importing_the_same_files_again_rewrites_no_row(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an imported shop
    run(engine, write_shop(tmp_path), settings)
    with engine.begin() as connection:
        _count_rewrites(connection)
        before = _versions(connection)
    # when the same files are imported again
    run(engine, tmp_path, settings)
    # then no customer, product or order line was rewritten, as none differs
    with engine.connect() as connection:
        assert _versions(connection) == before
    # and one that differs is
    changed = tmp_path / "changed"
    run(engine, write_shop(changed, products=["tea,Green tea,,3.10,,,false"]), settings)
    with engine.connect() as connection:
        assert _versions(connection) != before


def test_an_upsert_never_touches_an_erased_customer(engine: Engine, settings: Settings) -> None:
    # given an erased customer
    with engine.begin() as connection:
        columns = TARGETS["customers"].columns
        customers = sink(connection, TARGETS["customers"], bulk=False)
        ana = SHOP["customers"][0].split(",")[0]
        row: dict[str, object] = {name: None for name in columns}
        row |= {"id": ana, "first_name": "Ana"}
        row |= {"last_name": "P", "email_opt_in": True, "sms_opt_in": True}
        customers.write([(2, tuple(row[name] for name in columns))])
        erase_customer(connection, ana, datetime(2026, 6, 15, tzinfo=UTC))
    erased = by_key(engine, Customer, "id")[ana]
    # when a row for them reaches the upsert without the importer's guard (written in the
    # window between the guard's check and the write, say)
    with engine.begin() as connection:
        customers = sink(connection, TARGETS["customers"], bulk=False)
        customers.write([(2, tuple(row[name] for name in columns))])
    # then their row is as the erasure left it
    assert by_key(engine, Customer, "id")[ana] == erased
    assert erased["first_name"] != "Ana"
