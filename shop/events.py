"""Events from the shop (a customer saved, an order placed, cancelled or delivered, a cart
changed, an interaction that earns points), applied through the import's own path: the same
validation, idempotence, ledger entries and summaries, so triggers see fresh data and a
replayed event changes nothing.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from campaigns.config import Settings
from shop.csv_rows import COLUMNS, OPTIONAL
from shop.importer import import_dir

KINDS = {
    "customer": "customers",
    "interaction": "interactions",
    "product": "products",
    "order": "orders",
    "cart": "cart_events",
}
Scalar = str | int | float | bool | None


class EventError(ValueError):
    """The event is not valid; `problems` says why (nothing was written)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def parse_event(body: bytes) -> dict[str, Any]:
    """The JSON object in a request body; EventError for anything else (not UTF-8, not JSON,
    NaN or an infinite or 4,300-digit number, nesting deep enough to exhaust the stack)."""
    try:
        event = json.loads(body.decode("utf-8"), parse_constant=_no_constant,
                           parse_float=_finite_float)  # fmt: skip
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeError too
        raise EventError([f"the body is not valid JSON: {type(error).__name__}"]) from None
    if not isinstance(event, dict):
        raise EventError(["the body must be a JSON object"])
    return event


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def apply_event(
    engine: Engine, settings: Settings, kind: str, event: Mapping[str, Any]
) -> list[str]:
    """Write one event (an order may carry its `items`, `coupon_code`, `discount`,
    `points_redeemed`, `status` and `delivered_at`: the import marks a coupon it redeems,
    books its points, and takes them back when it comes again cancelled); EventError if
    anything is wrong (points it redeems beyond the balance too), else the warnings of what
    was written."""
    if kind not in KINDS:
        raise EventError([f"unknown event kind {kind!r} (known: {', '.join(KINDS)})"])
    _check_shape(kind, event)
    with tempfile.TemporaryDirectory(prefix="leal-event-") as folder:
        directory = Path(folder)
        name = KINDS[kind]
        _write(directory / f"{name}.csv", (*COLUMNS[name], *OPTIONAL.get(name, ())), [event])
        if kind == "order":
            items = [
                item | {"order_id": event.get("order_id", "")} for item in event.get("items", [])
            ]
            _write(directory / "order_items.csv", COLUMNS["order_items"], items)
        report = import_dir(engine, directory, settings, strict=True,
                            on=datetime.now(settings.shop.tz).date())  # fmt: skip
    if report.problems:  # strict: nothing was written
        raise EventError([_without_path(p) for p in report.problems])
    # Warnings come with a written event (an opt-in Leal's own opt-out overrides, say):
    # the caller learns what was kept, and a retry would change nothing.
    return [_without_path(w) for w in report.warnings]


def _check_shape(kind: str, event: Mapping[str, Any]) -> None:
    """Fields are scalars; an order's `items` is a list of such objects. Checked up front:
    the CSV path would write a nested value as its repr, and a lone surrogate cannot be
    written at all."""
    if not isinstance(event, Mapping):
        raise EventError(["the event must be a JSON object"])
    fields = dict(event)
    items = fields.pop("items", [])
    problems = _scalar_problems(kind, fields)
    if kind != "order" and "items" in event:
        problems.append("unknown fields: items")
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        problems.append("items must be a list of objects")
    else:
        for number, item in enumerate(items, start=1):
            problems += _scalar_problems(f"item {number}", dict(item))
    if problems:
        raise EventError(problems)


def _scalar_problems(where: str, fields: Mapping[Any, Any]) -> list[str]:
    problems = []
    for name, value in fields.items():
        if not _encodable(name):
            problems.append(f"{where}: a field name is not valid Unicode")
        elif not isinstance(value, Scalar):
            problems.append(f"{where}: {name} must be a string, number, boolean or null")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{where}: {name} must be a finite number")
        elif isinstance(value, str) and not _encodable(value):
            problems.append(f"{where}: {name} is not valid Unicode")
    return problems


def _encodable(text: object) -> bool:
    try:
        str(text).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON)
        return False
    return True


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
