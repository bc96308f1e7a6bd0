"""Writing small import files and reading back what the import stored."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from campaigns.config import Settings
from shop import csv_rows
from shop.importer import ImportReport, import_dir
from shop.models import (
    Base,
    Cart,
    CartEvent,
    Customer,
    CustomerStats,
    LedgerEntry,
    Order,
    OrderItem,
    Product,
)

ON = date(2026, 6, 15)
TABLES: list[type[Base]] = [
    Customer, Product, Order, OrderItem, CartEvent, LedgerEntry, CustomerStats, Cart
]  # fmt: skip
HEADERS = {name: ",".join(columns) for name, columns in csv_rows.COLUMNS.items()}
SHOP = {
    "customers": [
        "ana,Ana.Perez@Example.COM,612 34 56 78,Ana,Pérez,1990-02-28,ca,Europe/Madrid,true,"
        "false,2024-01-15T10:00:00",
        "bo,,,Bo,Li,,,,false,FALSE,",
        "cy,cy@example.com,+39 312 345 6789,Cy,Rossi,2000-02-29,it,,true,true,2025-01-01T08:00Z",
    ],
    "products": [
        "cup,Cup,Tableware,12.5,https://shop.example/cup.jpg,https://shop.example/cup,true",
        "tea,Green tea,,3,,,false",
    ],
    "orders": [
        "o1,ana,2026-03-28T23:30:00Z,25.99",  # already 29 March in Madrid
        "o2,ana,2026-06-01T10:00:00+02:00,600.00",
        "o3,bo,2026-06-10T12:00:00+02:00,3.00",
    ],
    "order_items": ["o1,cup,2,12.50", "o1,tea,1,0.99"],
    "cart_events": [
        "k1,bo,cup,1,2026-06-14T18:00:00+02:00",
        "k1,bo,cup,0,2026-06-14T18:05:00+02:00",
    ],
}


def write(directory: Path, name: str, *lines: str, header: str | None = None) -> Path:
    path = directory / f"{name}.csv"
    text = "".join(f"{line}\n" for line in (header or HEADERS[name], *lines))
    path.write_text(text, encoding="utf-8")
    return path


def write_shop(directory: Path, **replaced: list[str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, lines in (SHOP | replaced).items():
        write(directory, name, *lines)
    return directory


def run(engine: Engine, directory: Path, settings: Settings, **options: Any) -> ImportReport:
    return import_dir(engine, directory, settings, on=ON, **options)


def table(engine: Engine, model: type[Base]) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(model.__table__).order_by(*model.__table__.c))
        return [row._asdict() for row in rows]


def by_key(engine: Engine, model: type[Base], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in table(engine, model)}


def counts(report: ImportReport) -> list[tuple[str, int, int, int]]:
    return [(file.name, file.rows, file.imported, file.bad) for file in report.files]
