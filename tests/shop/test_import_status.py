"""orders.csv's status and delivered_at: an order is written once, but a later file may
cancel or refund it (never the reverse), which takes its points back once, and may say when
it was delivered."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from campaigns.config import Settings
from shop import csv_rows, import_parse, importer
from shop.models import CustomerStats, LedgerEntry, Order
from tests.shop.import_files import SHOP, by_key, counts, run, table, write

HEADER = "order_id,customer_id,ordered_at,total,status,delivered_at"
O2 = "o2,ana,2026-06-01T10:00:00+02:00,600.00"  # 600 points on 1 June
LEARNED = datetime(2026, 6, 14, 8, tzinfo=UTC)


def _import(
    engine: Engine, settings: Settings, folder: Path, *lines: str, header: str = HEADER, **at: Any
) -> Any:
    folder.mkdir()
    write(folder, "customers", *SHOP["customers"])
    write(folder, "orders", *lines, header=header)
    return run(engine, folder, settings, **at)


def _order(engine: Engine, order_id: str = "o2") -> tuple[Any, Any]:
    row = by_key(engine, Order, "id")[order_id]
    return row["status"], row["delivered_at"]


def _entries(engine: Engine) -> list[tuple[Any, ...]]:
    return sorted((row["kind"], row["points"], row["on_date"], row["at"], row["source"])
                  for row in table(engine, LedgerEntry))  # fmt: skip


def _balance(engine: Engine, customer_id: str = "ana") -> int:
    return int(by_key(engine, CustomerStats, "customer_id")[customer_id]["points_balance"])


def test_a_cancellation_on_a_later_import_takes_the_points_back_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an order of 600 points imported placed
    _import(engine, settings, tmp_path / "first", f"{O2},placed,")
    assert _balance(engine) == 600
    # when a later file says it was cancelled, learned on 14 June
    report = _import(engine, settings, tmp_path / "cancel", f"{O2},cancelled,", at=LEARNED)
    # then it is cancelled and a reverse entry takes its points back on the order's date,
    # at the instant Leal learned it, and the summary is refreshed
    assert report.problems == [] and _order(engine) == ("cancelled", None)
    reverse = ("reverse", -600, date(2026, 6, 1), LEARNED, "reverse:o2")
    assert _entries(engine) == [
        ("earn", 600, date(2026, 6, 1), datetime(2026, 6, 1, 8, tzinfo=UTC), None), reverse
    ]  # fmt: skip
    assert _balance(engine) == 0
    # when it comes again cancelled, then refunded
    _import(engine, settings, tmp_path / "again", f"{O2},cancelled,", f"{O2},refunded,")
    # then nothing more is booked, and the first status stays
    assert _entries(engine)[-1] == reverse and len(_entries(engine)) == 2
    assert _order(engine) == ("cancelled", None)


@pytest.mark.parametrize("status", ["placed", "", "PLACED"])
def test_a_cancelled_order_is_never_placed_again(
    engine: Engine, settings: Settings, tmp_path: Path, status: str
) -> None:
    # given a cancelled order
    _import(engine, settings, tmp_path / "first", f"{O2},cancelled,")
    before = _entries(engine)
    # when a later file (an older export) says it is placed
    report = _import(engine, settings, tmp_path / "later", f"{O2},{status},")
    # then it stays cancelled and its points stay taken back
    assert report.problems == []
    assert _order(engine) == ("cancelled", None) and _entries(engine) == before
    assert _balance(engine) == 0


def test_an_order_arriving_cancelled_earns_and_is_reversed_at_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # when an order arrives refunded, with an order that earns nothing also cancelled
    _import(
        engine, settings, tmp_path / "first",
        f"{O2},Refunded,", "o3,bo,2026-06-10T12:00:00+02:00,0.00,cancelled,",
        at=LEARNED,
    )  # fmt: skip
    # then its earn and reverse entries are both there (nothing for 0 points)
    assert [entry[:3] for entry in _entries(engine)] == [
        ("earn", 0, date(2026, 6, 10)),
        ("earn", 600, date(2026, 6, 1)),
        ("reverse", -600, date(2026, 6, 1)),
    ]
    assert _order(engine) == ("refunded", None) and _balance(engine) == 0


def test_delivery_is_set_once_when_it_was_not_known(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an order without its delivery
    _import(engine, settings, tmp_path / "first", f"{O2},,")
    assert _order(engine) == ("placed", None)
    # when a later file says when it was delivered
    _import(engine, settings, tmp_path / "delivered", f"{O2},,2026-06-03T09:30:00+02:00")
    # then it is set, in UTC
    delivered = datetime(2026, 6, 3, 7, 30, tzinfo=UTC)
    assert _order(engine) == ("placed", delivered)
    # and another value later, or none, does not change it, while a cancellation still can
    _import(engine, settings, tmp_path / "later", f"{O2},cancelled,2026-06-05T09:30:00Z")
    _import(engine, settings, tmp_path / "none", f"{O2},,")
    assert _order(engine) == ("cancelled", delivered)


def test_an_order_otherwise_keeps_its_values(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an order
    _import(engine, settings, tmp_path / "first", f"{O2},,")
    before = by_key(engine, Order, "id")["o2"]
    # when it comes again with another total, customer and instant, and cancelled
    _import(engine, settings, tmp_path / "later", "o2,bo,2026-06-02T10:00:00Z,1.00,cancelled,")
    # then only its status changed
    assert by_key(engine, Order, "id")["o2"] == before | {"status": "cancelled"}


def test_a_file_without_the_columns_leaves_the_status_alone(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a cancelled order
    _import(engine, settings, tmp_path / "first", f"{O2},cancelled,")
    # when the plain export, without status, comes again
    _import(
        engine, settings, tmp_path / "plain", O2, header="order_id,customer_id,ordered_at,total"
    )
    # then it stays cancelled
    assert _order(engine) == ("cancelled", None)


@pytest.mark.parametrize("path", ["bulk", "rows"])
def test_one_file_with_an_order_twice_keeps_the_first_row_and_the_first_change(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # given the bulk path (parse helpers, COPY) or the row path
    bulk = path == "bulk"
    monkeypatch.setattr(importer, "BULK_BYTES", 0 if bulk else 1 << 40)
    monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0 if bulk else 1 << 40)
    monkeypatch.setattr(csv_rows, "BATCH", 4)
    # when one file has an order placed, then delivered, then cancelled, then refunded
    report = _import(
        engine, settings, tmp_path / "first",
        f"{O2},placed,",
        "o2,ana,2026-06-01T10:00:00+02:00,1.00,placed,2026-06-02T10:00:00Z",
        f"{O2},cancelled,2026-06-03T10:00:00Z",
        f"{O2},refunded,",
        at=LEARNED,
    )  # fmt: skip
    # then the order is as those rows written one after another leave it: the first row's
    # values, the first delivery, the first change of status, one reversal
    assert report.problems == [] and counts(report)[-1] == ("orders.csv", 4, 4, 0)
    assert _order(engine) == ("cancelled", datetime(2026, 6, 2, 10, tzinfo=UTC))
    assert by_key(engine, Order, "id")["o2"]["total_cents"] == 60000
    assert [entry[:2] for entry in _entries(engine)] == [("earn", 600), ("reverse", -600)]


def test_bad_status_and_delivery_values_are_bad_rows(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    report = _import(
        engine, settings, tmp_path / "first",
        f"{O2},shipped,",
        f"{O2},canceled,",
        f"{O2},,2026-06-03T09:30:00",
        f"{O2},,2026-05-31T09:30:00Z",
        f"{O2},,yesterday",
    )  # fmt: skip
    assert [problem.split(": ", 1)[1] for problem in report.problems] == [
        "status 'shipped' is not one of placed, cancelled, refunded",
        "status 'canceled' is not one of placed, cancelled, refunded",
        "delivered_at '2026-06-03T09:30:00' has no UTC offset (add one, or Z)",
        "delivered_at '2026-05-31T09:30:00Z' is before ordered_at",
        "delivered_at 'yesterday' is not an ISO 8601 date-time",
    ]
    assert table(engine, Order) == []
