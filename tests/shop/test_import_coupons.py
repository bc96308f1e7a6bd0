"""orders.csv's optional columns, coupon_code and discount: read when the header has them,
on every path, and a bad value is a bad row at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from campaigns.config import Settings
from shop import csv_rows, import_parse
from shop.models import Order
from tests.shop.import_files import SHOP, by_key, counts, run, write

REQUIRED = "order_id,customer_id,ordered_at,total"
AT = "2026-06-10T10:00:00Z"


def _stored(engine: Engine) -> dict[str, tuple[object, object]]:
    return {
        order_id: (row["coupon_code"], row["discount_cents"])
        for order_id, row in by_key(engine, Order, "id").items()
    }


@pytest.mark.parametrize("parsed", ["inline", "in-a-helper-process"])
def test_bad_coupon_values_are_bad_rows_at_their_line_and_good_ones_are_stored(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed: str
) -> None:
    # given blocks of 2 rows, parsed here or by the helpers, one of them read the careful way
    monkeypatch.setattr(csv_rows, "BATCH", 2)
    if parsed == "in-a-helper-process":
        monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0)
    write(tmp_path, "customers", *SHOP["customers"])
    orders = write(
        tmp_path, "orders",
        f"o1,ana,{AT},40.00,ABCDE-FGH23,5.5",
        f"o2,ana,{AT},40.00,,-1.00",
        f"o3,ana,{AT},40.00,x,1.999",
        f"o4,ana,{AT},40.00,x,5,00",
        f"o5,ana,{AT},40.00,x,abc",
        f"o6,ana,{AT},40.00,{'X' * 33},1",
        f'o7,ana,{AT},40.00,"bad\tcode",1',
        f"o8,ana,{AT},1.00,  summer 24 ,12.00",  # more off than paid: a big fixed discount
        f'o9,ana,{AT},0.00,"",""',
        f"o10,ana,{AT},1.00,{'x' * 32},10000000000000.00",
        f"o11,ana,{AT},1.00,,10000000000000.01",
        header=f"{REQUIRED},coupon_code,discount",
    )  # fmt: skip
    # when imported
    report = run(engine, tmp_path, settings)
    # then each bad value is refused at its line, naming its column
    assert report.problems == [
        f"{orders}:3: discount '-1.00' is negative",
        f"{orders}:4: discount '1.999' has more than 2 decimals",
        f"{orders}:5: 7 fields where the header has 6",
        f"{orders}:6: discount 'abc' is not a decimal amount",
        f"{orders}:7: coupon_code is longer than 32 characters",
        f"{orders}:8: coupon_code contains a control character or a line break",
        f"{orders}:12: discount '10000000000000.01' is too large",
    ]
    assert counts(report)[-1] == ("orders.csv", 11, 4, 7)
    # and the good rows are stored: codes trimmed and upper-case, discounts in cents
    assert _stored(engine) == {
        "o1": ("ABCDE-FGH23", 550),
        "o8": ("SUMMER 24", 1200),
        "o9": (None, 0),
        "o10": ("X" * 32, 10**15),
    }


@pytest.mark.parametrize(
    ("columns", "values", "expected"),
    [
        ("coupon_code", "abc", ("ABC", 0)),
        ("discount", "2.5", (None, 250)),
        ("discount,coupon_code", "2.5,abc", ("ABC", 250)),
    ],
)
def test_either_optional_column_alone_or_in_another_order_is_read_by_name(
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    columns: str,
    values: str,
    expected: tuple[object, object],
) -> None:
    # given orders with some of the optional columns, after an extra one
    write(tmp_path, "customers", *SHOP["customers"])
    orders = write(
        tmp_path, "orders", f"web,{values},o1,ana,{AT},40.00",
        header=f"channel,{columns},{REQUIRED}",
    )  # fmt: skip
    # when imported
    report = run(engine, tmp_path, settings)
    # then they are read, and only the unknown column is warned about
    assert (report.problems, report.warnings) == (
        [], [f"{orders}:1: extra columns ignored: channel"]
    )  # fmt: skip
    assert _stored(engine) == {"o1": expected}


def test_an_optional_column_twice_skips_the_file(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    write(tmp_path, "customers", *SHOP["customers"])
    orders = write(
        tmp_path, "orders", f"o1,ana,{AT},40.00,1,2", header=f"{REQUIRED},discount,discount"
    )
    report = run(engine, tmp_path, settings)
    assert report.problems == [f"{orders}:1: column discount appears twice"]
    assert _stored(engine) == {}
