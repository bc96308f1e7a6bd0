"""The bulk path (parse helpers; COPY on PostgreSQL) and the row path (inline parsing,
executemany) of an import write the same database and the same report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from campaigns.config import Settings
from shop import csv_rows, import_parse, importer
from shop.importer import ImportReport
from shop.models import Base, CustomerProduct, ProductPair, Suppression
from shop.privacy import erase_customer
from shop.suppressions import suppress
from tests.shop.import_files import SHOP, TABLES, counts, run, table, write, write_shop

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
KEPT = ("privacy_keys", "alembic_version")  # the address-hash key: the same in both runs
# Duplicated keys inside one file: a customer twice (the last row wins), an order and a cart
# event twice (the first wins), an order line twice (the last wins); bad rows between them.
FIRST = {
    "customers": [
        *SHOP["customers"],
        "dee,dee@example.com,,Dee,One,,,,true,true,",
        "dee,dee@example.com,,Dee,Two,,,,true,true,",
        "eve,eve@example.com,+34 612 000 111,Eve,X,,,,true,true,",
        "bad,bad@,,B,B,,,,true,true,",
    ],
    "orders": [
        *SHOP["orders"],
        "o4,dee,2026-06-02T10:00:00Z,10.00",
        "o4,dee,2026-06-03T10:00:00Z,99.00",
        "o5,ghost,2026-06-02T10:00:00Z,1.00",
        "o6,eve,2026-01-01T00:30:00+01:00,12.34",
    ],
    "order_items": [*SHOP["order_items"], "o4,cup,1,10.00", "o4,cup,3,3.00", "o4,nope,1,1"],
    "cart_events": [
        *SHOP["cart_events"],
        "k2,dee,tea,2,2026-06-14T10:00Z",
        "k2,dee,tea,2,2026-06-14T10:00Z",
        "k2,dee,tea,5,2026-06-14T10:00:00+00:00",
        "k3,eve,cup,1,2026-06-14T11:00Z",
    ],
}
# A second import: changed names and prices, a new order, an opted-in address that Leal
# recorded a "no" for, and a row for a customer erased in between.
SECOND = {
    "customers": [
        "bo,bo@example.com,,Bo,Li,,,,true,true,",
        "eve,eve@example.com,+34 612 000 111,Eve,Changed,,,,true,true,",
        "cy,cy@example.com,,Cy,Back,,,,true,true,",
    ],
    "products": ["tea,Green tea,,3.50,,,true"],
    "orders": ["o7,bo,2026-06-14T09:00:00Z,42.00", "o1,ana,2026-03-28T23:30:00Z,1.00"],
    "order_items": ["o7,tea,2,3.50"],
    "cart_events": ["k3,eve,cup,0,2026-06-14T12:00Z"],
}


def _imports(engine: Engine, settings: Settings, folder: Path) -> list[ImportReport]:
    folder.mkdir()
    with engine.begin() as connection:
        suppress(connection, "email", "ana.perez@example.com", "unsubscribed", NOW)
    first = run(engine, write_shop(folder / "first", **FIRST), settings)
    with engine.begin() as connection:
        erase_customer(connection, "cy", NOW)
    second = folder / "second"
    second.mkdir()
    for name, lines in SECOND.items():
        write(second, name, *lines)
    return [first, run(engine, second, settings)]


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """What an import writes or reads: its tables, summaries and suppressions."""
    models: list[type[Base]] = [*TABLES, CustomerProduct, ProductPair, Suppression]
    return {model.__tablename__: table(engine, model) for model in models}


def _emptied(engine: Engine) -> None:
    """Every table empty again, sequences restarted, the address-hash key kept."""
    names = [t.name for t in Base.metadata.sorted_tables if t.name not in KEPT]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(names):
                connection.execute(text(f"DELETE FROM {name}"))


def _described(reports: list[ImportReport], folder: Path) -> list[Any]:
    """The reports without the folder (each path writes its own) and the timings."""
    return [
        (
            counts(report),
            [problem.replace(str(folder), "") for problem in report.problems],
            [warning.replace(str(folder), "") for warning in report.warnings],
            report.committed,
        )
        for report in reports
    ]


def test_the_bulk_and_the_row_path_write_the_same_database(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given blocks of 3 rows, so duplicates and bad rows fall in and across blocks
    monkeypatch.setattr(csv_rows, "BATCH", 3)
    results = {}
    for path in ("bulk", "rows"):
        bulk = path == "bulk"
        monkeypatch.setattr(importer, "BULK_BYTES", 0 if bulk else 1 << 40)
        monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0 if bulk else 1 << 40)
        # when the same two imports run through each path, on an empty database
        _emptied(engine)
        reports = _imports(engine, settings, tmp_path / path)
        results[path] = (_described(reports, tmp_path / path), _snapshot(engine))
    # then both report the same and leave every table the same, row for row
    assert results["bulk"][0] == results["rows"][0]
    assert results["bulk"][1] == results["rows"][1]
    # and the duplicates resolved as each conflict rule says
    tables = results["bulk"][1]
    customers = {row["id"]: row for row in tables["customers"]}
    orders = {row["id"]: row for row in tables["orders"]}
    items = {(row["order_id"], row["sku"]): row for row in tables["order_items"]}
    assert customers["dee"]["last_name"] == "Two"
    assert (orders["o4"]["total_cents"], orders["o1"]["total_cents"]) == (1000, 2599)
    assert items[("o4", "cup")]["quantity"] == 3
    assert [e["quantity"] for e in tables["cart_events"] if e["cart_id"] == "k2"] == [2]
    # and Leal's own record won: Ana's opt-out kept, Cy's erased row untouched
    assert customers["ana"]["email_opt_in"] is False
    assert (customers["cy"]["email"], customers["cy"]["last_name"]) == (None, "")
