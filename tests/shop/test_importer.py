"""`import_dir`: values as stored, bad rows as `file:line: reason`, strict, idempotence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from campaigns.config import Settings
from shop import csv_rows, import_parse
from shop.models import (
    CartEvent,
    Customer,
    LedgerEntry,
    Order,
    OrderItem,
    Product,
)
from tests.shop.import_files import (
    HEADERS,
    SHOP,
    by_key,
    counts,
    run,
    table,
    write,
    write_shop,
)


def test_imports_the_five_files_with_exact_values(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a small shop in five files
    write_shop(tmp_path)
    # when it is imported
    report = run(engine, tmp_path, settings)
    # then everything is read, nothing is bad
    assert (report.committed, report.problems, report.warnings) == (True, [], [])
    assert counts(report) == [
        ("customers.csv", 3, 3, 0),
        ("products.csv", 2, 2, 0),
        ("orders.csv", 3, 3, 0),
        ("order_items.csv", 2, 2, 0),
        ("cart_events.csv", 2, 2, 0),
    ]
    # and customers hold normalized addresses, E.164 phones, birthdays, NULL for empty
    customers = by_key(engine, Customer, "id")
    ana_keys = [customers["ana"].pop(k) for k in ("email_key", "phone_key", "erased_at")]
    assert (
        ana_keys[0] and ana_keys[1] and ana_keys[2] is None
    )  # hashes: tests/shop/test_suppressions.py
    assert customers["ana"] == {
        "id": "ana", "email": "Ana.Perez@example.com", "phone": "+34612345678",
        "first_name": "Ana", "last_name": "Pérez", "birth_date": date(1990, 2, 28),
        "birth_mmdd": 228,
        "locale": "ca", "timezone": "Europe/Madrid", "email_opt_in": True,
        "sms_opt_in": False, "created_at": datetime(2024, 1, 15, 9, 0, tzinfo=UTC),
    }  # fmt: skip
    assert (customers["cy"]["phone"], customers["cy"]["birth_mmdd"]) == ("+393123456789", 229)
    bo = customers["bo"]
    assert [bo[k] for k in ("email", "phone", "birth_date", "birth_mmdd", "locale")] == [None] * 5
    assert (bo["timezone"], bo["created_at"], bo["sms_opt_in"]) == (None, None, False)
    # and money is integer cents
    products = by_key(engine, Product, "sku")
    assert (products["cup"]["price_cents"], products["cup"]["in_stock"]) == (1250, True)
    assert products["tea"] == {
        "sku": "tea", "name": "Green tea", "category": "", "price_cents": 300, "image_url": None,
        "url": None, "in_stock": False,
    }  # fmt: skip
    assert [(i["order_id"], i["sku"], i["quantity"], i["unit_price_cents"]) for i in table(
        engine, OrderItem
    )] == [("o1", "cup", 2, 1250), ("o1", "tea", 1, 99)]  # fmt: skip
    # and an order at 23:30 UTC on 28 March is dated 29 March, the Madrid date; a file
    # without the optional columns means no coupon, no discount, no points spent, placed
    orders = by_key(engine, Order, "id")
    assert orders["o1"] == {
        "id": "o1", "customer_id": "ana", "local_date": date(2026, 3, 29), "total_cents": 2599,
        "ordered_at": datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "coupon_code": None,
        "discount_cents": 0, "status": "placed", "points_redeemed": 0, "delivered_at": None,
    }  # fmt: skip
    assert orders["o2"]["ordered_at"] == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    # and each order earned floor(total) points on its local date, for 365 days
    ledger = by_key(engine, LedgerEntry, "order_id")
    assert {k: ledger["o1"][k] for k in ("customer_id", "kind", "points", "on_date")} == {
        "customer_id": "ana", "kind": "earn", "points": 25, "on_date": date(2026, 3, 29)
    }  # fmt: skip
    assert ledger["o1"]["expires_on"] == date(2027, 3, 29)
    assert ledger["o1"]["at"] == orders["o1"]["ordered_at"]
    assert [ledger[o]["points"] for o in ("o2", "o3")] == [600, 3]
    # and cart events keep each line's new quantity at its instant
    assert [(e["cart_id"], e["sku"], e["quantity"], e["at"]) for e in table(engine, CartEvent)] == [
        ("k1", "cup", 1, datetime(2026, 6, 14, 16, 0, tzinfo=UTC)),
        ("k1", "cup", 0, datetime(2026, 6, 14, 16, 5, tzinfo=UTC)),
    ]


def test_stored_instants_and_dates_compare_equal_to_sqlalchemy_bound_values(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an imported shop (written past SQLAlchemy's type processing, for speed)
    run(engine, write_shop(tmp_path), settings)
    at = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    # when rows are looked up by values SQLAlchemy binds itself
    with engine.connect() as connection:
        orders = connection.scalars(select(Order.id).where(Order.ordered_at == at)).all()
        by_date = connection.scalars(
            select(Order.id).where(Order.local_date == date(2026, 3, 29))
        ).all()
        earned = connection.scalars(select(LedgerEntry.order_id).where(LedgerEntry.at == at)).all()
        carts = connection.scalars(
            select(CartEvent.quantity).where(
                CartEvent.at >= datetime(2026, 6, 14, 16, 5, tzinfo=UTC)
            )
        ).all()
    # then they are found: the stored text is what SQLAlchemy would have written
    assert (orders, by_date, earned, carts) == (["o1"], ["o1"], ["o1"], [0])


@pytest.mark.parametrize("parsed", ["inline", "in-a-helper-process"])
def test_bad_rows_are_reported_by_file_and_line_and_good_rows_still_import(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parsed: str
) -> None:
    # given batches of 2 rows, so problems and references cross batch boundaries
    monkeypatch.setattr(csv_rows, "BATCH", 2)
    if parsed == "in-a-helper-process":
        monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0)
    # and each kind of bad row, between good ones
    customers = write(
        tmp_path, "customers",
        "ana,ana@example.com,,Ana,B,,,,true,true,",
        "bad-mail,not-an-email,,A,B,,,,true,true,",
        "bad-phone,,+34 6000,A,B,,,,true,true,",
        "bad-birth,,,A,B,1990-02-30,,,true,true,",
        "bad-zone,,,A,B,,,Mars/Olympus,true,true,",
        "bad-flag,,,A,B,,,,yes,true,",
        "short,,,",
        'multi,,,"Ana',  # a quoted newline: this row spans lines 9 and 10, and a name
        'Maria",B,,,,true,true,',  # with a line break would break a subject: refused
        "bad-created,,,A,B,,,,true,true,yesterday",
    )  # fmt: skip
    products = write(
        tmp_path, "products",
        "cup,Cup,,12.50,,,true",
        "p1,Thing,,12.345,,,true",
        "p2,Thing,,-1.00,,,true",
        "p3,Thing,,1,,,maybe",
    )  # fmt: skip
    orders = write(
        tmp_path, "orders",
        "o1,ana,2026-03-28T23:30:00Z,25.99",
        "o2,ana,2026-03-01T10:00:00,5.00",
        "o3,ghost,2026-03-01T10:00:00Z,5.00",
        "o4,bad-mail,2026-03-01T10:00:00Z,5",
        "o5,ana,2026-03-01T10:00:00Z,1.999",
        "o6,multi,2026-03-02T10:00:00Z,abc",
    )  # fmt: skip
    items = write(
        tmp_path, "order_items", "o1,cup,1,12.50", "o2,cup,1,1.00", "o1,nope,1,1.00",
        "o1,cup,0,1.00", "o1,cup,1,-3",
    )  # fmt: skip
    carts = write(
        tmp_path, "cart_events",
        "k1,ana,cup,1,2026-06-14T18:00:00+02:00",
        "k1,ghost,cup,1,2026-06-14T18:01:00+02:00",
        "k1,ana,nope,1,2026-06-14T18:02:00+02:00",
        "k1,ana,cup,-1,2026-06-14T18:03:00+02:00",
        "k1,ana,cup,1,2026-06-14 18:04",
        "k1,multi,cup,x,2026-06-14T18:05:00+02:00",
    )  # fmt: skip
    # when the directory is imported
    report = run(engine, tmp_path, settings)
    # then every bad row is reported as file:line: reason, in line order
    assert report.problems == [
        f"{customers}:3: email is not a valid address",
        f"{customers}:4: phone is not a valid number (default region ES)",
        f"{customers}:5: birth_date is not a valid YYYY-MM-DD date",
        f"{customers}:6: timezone 'Mars/Olympus' is not an IANA time zone such as Europe/Madrid",
        f"{customers}:7: email_opt_in 'yes' is not true or false",
        f"{customers}:8: 4 fields where the header has 11",
        f"{customers}:9: first_name contains a control character or a line break",
        f"{customers}:11: created_at 'yesterday' is not an ISO 8601 date-time",
        f"{products}:3: price '12.345' has more than 2 decimals",
        f"{products}:4: price '-1.00' is negative",
        f"{products}:5: in_stock 'maybe' is not true or false",
        f"{orders}:3: ordered_at '2026-03-01T10:00:00' has no UTC offset (add one, or Z)",
        f"{orders}:4: unknown customer_id 'ghost'",
        f"{orders}:5: unknown customer_id 'bad-mail'",
        f"{orders}:6: total '1.999' has more than 2 decimals",
        f"{orders}:7: total 'abc' is not a decimal amount",
        f"{items}:3: unknown order_id 'o2'",
        f"{items}:4: unknown sku 'nope'",
        f"{items}:5: quantity '0' must be at least 1",
        f"{items}:6: unit_price '-3' is negative",
        f"{carts}:3: unknown customer_id 'ghost'",
        f"{carts}:4: unknown sku 'nope'",
        f"{carts}:5: quantity '-1' is negative",
        f"{carts}:6: at '2026-06-14 18:04' has no UTC offset (add one, or Z)",
        f"{carts}:7: quantity 'x' is not a whole number",
    ]
    # and no e-mail address or phone number is echoed
    assert not any("not-an-email" in p or "6000" in p for p in report.problems)
    # and the good rows are imported all the same
    assert counts(report) == [
        ("customers.csv", 9, 1, 8),
        ("products.csv", 4, 1, 3),
        ("orders.csv", 6, 1, 5),
        ("order_items.csv", 5, 1, 4),
        ("cart_events.csv", 6, 1, 5),
    ]
    assert report.committed
    assert [list(by_key(engine, model, key)) for model, key in (
        (Customer, "id"), (Product, "sku"), (Order, "id"), (LedgerEntry, "order_id"),
        (OrderItem, "sku"), (CartEvent, "customer_id"),
    )] == [["ana"], ["cup"], ["o1"], ["o1"], ["cup"], ["ana"]]  # fmt: skip


def test_extra_columns_are_ignored_with_one_warning_and_columns_found_by_name(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given orders with two extra columns and the columns in another order
    write(tmp_path, "customers", *SHOP["customers"])
    orders = write(
        tmp_path, "orders", "25.99,channel-web,o1,2026-03-28T23:30:00Z,ana,",
        header="total,channel,order_id,ordered_at,customer_id,notes",
    )  # fmt: skip
    # when imported
    report = run(engine, tmp_path, settings)
    # then one warning names the extra columns and the order is read by column name
    assert report.warnings == [f"{orders}:1: extra columns ignored: channel, notes"]
    assert report.problems == []
    assert by_key(engine, Order, "id")["o1"]["total_cents"] == 2599


def test_a_missing_column_skips_its_file(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given orders without their total column
    write(tmp_path, "customers", *SHOP["customers"])
    orders = write(
        tmp_path, "orders", "o1,ana,2026-03-28T23:30:00Z", header="order_id,customer_id,ordered_at"
    )
    # when imported
    report = run(engine, tmp_path, settings)
    # then the file is reported at its header and skipped, and the other files import
    assert report.problems == [f"{orders}:1: missing column total"]
    assert counts(report) == [("customers.csv", 3, 3, 0), ("orders.csv", 0, 0, 0)]
    assert (len(table(engine, Customer)), table(engine, Order)) == (3, [])


def test_absent_files_are_fine_and_unknown_or_empty_ones_are_reported(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given only products, an empty orders file and a file the importer does not know
    write(tmp_path, "products", *SHOP["products"])
    (tmp_path / "orders.csv").write_bytes(b"")
    (tmp_path / "clients.csv").write_text("id\n1\n", encoding="utf-8")
    # when imported
    report = run(engine, tmp_path, settings)
    # then products import, the empty file is a problem and the unknown one a warning
    assert counts(report) == [("products.csv", 2, 2, 0), ("orders.csv", 0, 0, 0)]
    assert report.problems == [
        f"{tmp_path / 'orders.csv'}:1: the file is empty (a header row is needed)"
    ]
    assert report.warnings == [f"{tmp_path / 'clients.csv'}: not one of the import files, ignored"]
    assert len(table(engine, Product)) == 2


def test_an_empty_directory_imports_nothing_and_commits(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    report = run(engine, tmp_path, settings)
    assert (report.files, report.problems, report.committed) == ([], [], True)


def test_a_line_that_is_not_utf8_is_one_bad_row_and_blank_lines_are_skipped(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a BOM, a row with a Latin-1 byte and a blank line
    path = tmp_path / "customers.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + HEADERS["customers"].encode() + b"\n"
        b"ana,,,Ana,B,,,,true,true,\n"
        b"jo,,,Jos\xe9,B,,,,true,true,\n"
        b"\n"
        b"cy,,,Cy,B,,,,true,true,\n"
    )
    # when imported
    report = run(engine, tmp_path, settings)
    # then that row alone is bad, at its line, and the rows after it import
    assert report.problems == [f"{path}:3: not valid UTF-8 text"]
    assert counts(report) == [("customers.csv", 3, 2, 1)]
    assert list(by_key(engine, Customer, "id")) == ["ana", "cy"]


def test_values_the_renderer_or_the_database_would_choke_on_are_refused_at_their_line(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given locales Babel does not know, zone keys that are paths or not places, dates at
    # the edges of the calendar, control characters, and good values of the same kinds
    customers = write(
        tmp_path, "customers",
        "ok,,,Ana,B,1990-01-01,pt-BR,America/Argentina/Buenos_Aires,true,true,",
        "xx,,,A,B,,xx,,true,true,",
        "nil,,,A,B,,nil,,true,true,",
        "right,,,A,B,,,right/Europe/Madrid,true,true,",
        "here,,,A,B,,,localtime,true,true,",
        "path,,,A,B,,,/etc/localtime,true,true,",
        "up,,,A,B,,,Europe/../Europe/Madrid,true,true,",
        "old,,,A,B,0001-01-01,,,true,true,",
        "late,,,A,B,9999-12-31,,,true,true,",
        "edge,,,A,B,,,,true,true,0001-01-01T00:00:00+14:00",
        "esc,,,A,\x1b[31mB,,,,true,true,",
        "sep,,,A\u2028B,B,,,,true,true,",
        "id\x07,,,A,B,,,,true,true,",
    )  # fmt: skip
    products = write(
        tmp_path, "products",
        "cup,Cup,,1,https://shop.example/cup.jpg,https://tienda.example/café?x=1#y,true",
        "js,Thing,,1,,javascript:alert(1),true",
        "js2,Thing,,1,,JavaScript:alert(1)//https://x.example,true",
        'data,Thing,,1,"data:image/svg+xml;base64,PHN2Zz4=",,true',
        "rel,Thing,,1,,//evil.example/x,true",
        "nohost,Thing,,1,,https:///x,true",
        "user,Thing,,1,,https://shop.example@evil.example/,true",
        "space,Thing,,1,,https://shop.example/a b,true",
        "slash,Thing,,1,,https:\\\\evil.example,true",
        "port,Thing,,1,,https://shop.example:99999/,true",
    )  # fmt: skip
    carts = write(tmp_path, "cart_events", "k1,ok,cup,2000000,2026-06-14T18:00:00+02:00")
    # when imported
    report = run(engine, tmp_path, settings)
    # then each is refused at its line, naming the column, and never quoting a birth date
    assert report.problems == [
        f"{customers}:3: locale 'xx' is not a locale Leal can format in (CLDR)",
        f"{customers}:4: locale 'nil' is not a locale Leal can format in (CLDR)",
        *(
            f"{customers}:{line}: timezone {zone!r} is not an IANA time zone such as Europe/Madrid"
            for line, zone in (
                (5, "right/Europe/Madrid"),
                (6, "localtime"),
                (7, "/etc/localtime"),
                (8, "Europe/../Europe/Madrid"),
            )
        ),
        f"{customers}:9: birth_date is not between 1900 and 2199",
        f"{customers}:10: birth_date is not between 1900 and 2199",
        f"{customers}:11: created_at '0001-01-01T00:00:00+14:00' is not between 1900 and 2199",
        f"{customers}:12: last_name contains a control character or a line break",
        f"{customers}:13: first_name contains a control character or a line break",
        f"{customers}:14: customer_id contains a control character or a line break",
        f"{products}:3: url 'javascript:alert(1)' is not an absolute http(s) URL",
        f"{products}:4: url 'JavaScript:alert(1)//https://x.example' is not an absolute http(s) "
        "URL",
        f"{products}:5: image_url 'data:image/svg+xml;base64,PHN2Zz4=' is not an absolute "
        "http(s) URL",
        *(
            f"{products}:{line}: url {url!r} is not an absolute http(s) URL"
            for line, url in (
                (6, "//evil.example/x"),
                (7, "https:///x"),
                (8, "https://shop.example@evil.example/"),
                (9, "https://shop.example/a b"),
                (10, "https:\\\\evil.example"),
                (11, "https://shop.example:99999/"),
            )
        ),
        f"{carts}:2: quantity '2000000' is too large (at most 1,000,000)",
    ]
    # and the good values of each kind are stored as given
    ok = by_key(engine, Customer, "id")["ok"]
    assert (ok["locale"], ok["timezone"]) == ("pt-BR", "America/Argentina/Buenos_Aires")
    assert by_key(engine, Product, "sku")["cup"]["url"] == "https://tienda.example/café?x=1#y"


def test_a_header_that_is_not_valid_csv_is_reported_at_line_1(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an orders file whose header holds a carriage return inside a field
    write(tmp_path, "customers", *SHOP["customers"])
    orders = write(tmp_path, "orders", "o1,ana,2026-03-28T23:30:00Z,25.99",
                   header="order_id,customer_id\rx,ordered_at,total")  # fmt: skip
    # when imported, then the file is a problem at its header, not a crash
    report = run(engine, tmp_path, settings)
    assert [p.split(" (")[0] for p in report.problems] == [f"{orders}:1: not valid CSV"]
    assert counts(report) == [("customers.csv", 3, 3, 0), ("orders.csv", 0, 0, 0)]
