"""Events from the shop (a customer saved, an order placed, a cart changed), applied through
the import's own path: the same validation, idempotence, ledger entries and summaries, so
triggers see fresh data and a replayed event changes nothing.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from campaigns.config import Settings
from shop.csv_rows import COLUMNS
from shop.importer import import_dir

KINDS = {"customer": "customers", "product": "products", "order": "orders", "cart": "cart_events"}


class EventError(ValueError):
    """The event is not valid; `problems` says why (nothing was written)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def apply_event(engine: Engine, settings: Settings, kind: str, event: Mapping[str, Any]) -> None:
    """Write one event (an order may carry its `items`); EventError if anything is wrong."""
    if kind not in KINDS:
        raise EventError([f"unknown event kind {kind!r} (known: {', '.join(KINDS)})"])
    with tempfile.TemporaryDirectory(prefix="leal-event-") as folder:
        directory = Path(folder)
        name = KINDS[kind]
        _write(directory / f"{name}.csv", COLUMNS[name], [event])
        if kind == "order":
            items = [
                item | {"order_id": event.get("order_id", "")} for item in event.get("items", [])
            ]
            _write(directory / "order_items.csv", COLUMNS["order_items"], items)
        report = import_dir(engine, directory, settings, strict=True,
                            on=datetime.now(settings.shop.tz).date())  # fmt: skip
    if report.problems or report.warnings:
        raise EventError([_without_path(p) for p in report.problems + report.warnings])


def _write(path: Path, columns: Sequence[str], records: Sequence[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            unknown = sorted(set(record) - set(columns) - {"items"})
            if unknown:
                raise EventError([f"unknown fields: {', '.join(unknown)}"])
            writer.writerow([_text(record.get(column, "")) for column in columns])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _without_path(problem: str) -> str:
    """`/tmp/…/orders.csv:2: unknown customer_id 'x'` -> `orders: unknown customer_id 'x'`."""
    where, _, reason = problem.partition(": ")
    file = Path(where.split(":")[0]).stem
    return f"{file}: {reason}" if reason else problem
