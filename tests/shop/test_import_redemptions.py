"""orders.csv's points_redeemed: a redeem entry when the customer's balance at the order's
instant covers it; otherwise a file:line problem, that order not written, the rest of the
file imported."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect

from campaigns.config import Settings
from shop import csv_rows, import_parse, importer
from shop.events import apply_event
from shop.loyalty import balance_on, entries_of
from shop.models import CustomerStats, LedgerEntry, Order
from tests.shop.import_files import SHOP, by_key, counts, run, table, write

HEADER = "order_id,customer_id,ordered_at,total,points_redeemed"


def _orders(
    engine: Engine,
    settings: Settings,
    folder: Path,
    *lines: str,
    header: str = HEADER,
    **options: Any,
) -> Any:
    """Import the sample customers and these orders (with points_redeemed)."""
    folder.mkdir()
    write(folder, "customers", *SHOP["customers"])
    write(folder, "orders", *lines, header=header)
    return run(engine, folder, settings, **options)


def _ledger(engine: Engine, customer_id: str = "ana") -> list[tuple[Any, ...]]:
    """(kind, points, on_date, source) of the customer's entries, in booking order."""
    rows = sorted(table(engine, LedgerEntry), key=lambda row: row["id"])
    return [(row["kind"], row["points"], row["on_date"], row["source"] or row["order_id"])
            for row in rows if row["customer_id"] == customer_id]  # fmt: skip


def test_a_redemption_within_the_balance_is_booked_and_one_beyond_it_is_a_problem(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana earns 100 points on 1 June, spends 80 of them on 10 June (that order earns
    # 20), then asks for 50 on 11 June when she has 40, and orders again after that
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o1,ana,2026-06-01T10:00:00Z,100.00,",
        "o2,ana,2026-06-10T10:00:00Z,20.00,80",
        "o3,ana,2026-06-11T10:00:00Z,30.00,50",
        "o4,ana,2026-06-12T10:00:00Z,5.00,0",
    )  # fmt: skip
    # then the over-redemption is refused at its line, naming the order and both amounts
    orders = tmp_path / "shop" / "orders.csv"
    assert report.problems == [
        f"{orders}:4: order 'o3' redeems 50 points, more than the 40 customer 'ana' had "
        "then: not written"
    ]
    assert counts(report)[-1] == ("orders.csv", 4, 3, 1)
    # and that order alone is missing: the others, before and after it, are written
    assert set(by_key(engine, Order, "id")) == {"o1", "o2", "o4"}
    assert by_key(engine, Order, "id")["o2"]["points_redeemed"] == 80
    # and the redemption is booked once, on the order's date and instant
    assert _ledger(engine) == [
        ("earn", 100, date(2026, 6, 1), "o1"),
        ("earn", 5, date(2026, 6, 12), "o4"),
        ("earn", 20, date(2026, 6, 10), "o2"),
        ("redeem", -80, date(2026, 6, 10), "redeem:o2"),
    ]
    redeem = next(row for row in table(engine, LedgerEntry) if row["kind"] == "redeem")
    assert redeem["at"] == datetime(2026, 6, 10, 10, tzinfo=UTC)
    # and the summary counts it: 100 + 5 + 20 - 80
    assert by_key(engine, CustomerStats, "customer_id")["ana"]["points_balance"] == 45


def test_strict_writes_nothing_when_a_redemption_is_refused(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an order that redeems more than Bo ever had, beside a good one
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o1,ana,2026-06-01T10:00:00Z,100.00,",
        "o2,bo,2026-06-10T10:00:00Z,20.00,1",
        strict=True,
    )  # fmt: skip
    # then the import is rolled back
    assert len(report.problems) == 1 and not report.committed
    assert table(engine, Order) == [] and table(engine, LedgerEntry) == []


def test_the_balance_counts_the_files_earlier_orders_whatever_their_place_in_it(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a redemption written before the order that earned its points (earlier in time),
    # and a second redemption of the same customer that the first leaves uncovered
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o3,ana,2026-06-12T10:00:00Z,1.00,40",
        "o2,ana,2026-06-10T10:00:00Z,1.00,60",
        "o1,ana,2026-06-01T10:00:00Z,100.00,",
    )  # fmt: skip
    # then they are checked in time order: o2 spends 60 of 100, o3 finds 41 and takes 40
    assert report.problems == []
    assert sorted(row[1:] for row in _ledger(engine) if row[0] == "redeem") == [
        (-60, date(2026, 6, 10), "redeem:o2"),
        (-40, date(2026, 6, 12), "redeem:o3"),
    ]


def test_a_lot_that_expired_before_the_redemption_does_not_count(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given points that last 30 days: 100 earned on 1 January live until 30 January
    settings = Settings(**settings.model_dump() | {"loyalty": {"points_expire_days": 30}})
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o1,ana,2026-01-01T10:00:00Z,100.00,",
        "o2,ana,2026-01-31T10:00:00Z,1.00,10",  # its expiry date: expired
        "o3,bo,2026-01-01T10:00:00Z,100.00,",
        "o4,bo,2026-01-30T10:00:00Z,1.00,100",  # its last day: all there
    )  # fmt: skip
    # then Ana's redemption on the expiry date finds nothing, Bo's the day before finds all
    orders = tmp_path / "shop" / "orders.csv"
    assert report.problems == [
        f"{orders}:3: order 'o2' redeems 10 points, more than the 0 customer 'ana' had then: "
        "not written"
    ]
    assert [row[1] for row in _ledger(engine, "bo") if row[0] == "redeem"] == [-100]


def test_an_order_spends_before_it_earns_its_own_points(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana has 30 points, then one order of 100.00 that redeems 50, and Bo, who has
    # 30 points, with one that redeems exactly 30
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o1,ana,2026-06-01T10:00:00Z,30.00,",
        "o2,ana,2026-06-10T10:00:00Z,100.00,50",
        "o3,bo,2026-06-01T10:00:00Z,30.00,",
        "o4,bo,2026-06-10T10:00:00Z,100.00,30",
    )  # fmt: skip
    # then the order's own 100 points do not pay for its redemption
    assert [problem.split(": ", 1)[1] for problem in report.problems] == [
        "order 'o2' redeems 50 points, more than the 30 customer 'ana' had then: not written"
    ]
    # and the one within the balance spends it all, then earns its own
    assert by_key(engine, CustomerStats, "customer_id")["bo"]["points_balance"] == 100


def test_points_earned_later_the_same_day_do_not_count(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana earns 100 at 18:00 and redeems 10 at 09:00 the same day
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o1,ana,2026-06-10T18:00:00+02:00,100.00,",
        "o2,ana,2026-06-10T09:00:00+02:00,1.00,10",
    )  # fmt: skip
    # then the morning's redemption is refused
    assert [problem.split(": ", 1)[1] for problem in report.problems] == [
        "order 'o2' redeems 10 points, more than the 0 customer 'ana' had then: not written"
    ]


def test_importing_the_same_redemptions_again_changes_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an import with a redemption
    lines = ("o1,ana,2026-06-01T10:00:00Z,100.00,", "o2,ana,2026-06-10T10:00:00Z,20.00,100")
    assert _orders(engine, settings, tmp_path / "first", *lines).problems == []
    before = _ledger(engine)
    # when the same orders come again, one now asking for more than the balance
    again = _orders(engine, settings, tmp_path / "again", lines[0], lines[1].replace("100", "900"))
    # then the order Leal has is not checked again, and nothing is booked twice
    assert again.problems == []
    assert _ledger(engine) == before
    assert by_key(engine, Order, "id")["o2"]["points_redeemed"] == 100


@pytest.mark.parametrize("path", ["bulk", "rows"])
def test_both_import_paths_check_redemptions_alike(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # given blocks of 2 rows and the bulk path (parse helpers, COPY) or the row path, and
    # redemptions spread over blocks, a batch of customers at a time
    monkeypatch.setattr(csv_rows, "BATCH", 2)
    bulk = path == "bulk"
    monkeypatch.setattr(importer, "BULK_BYTES", 0 if bulk else 1 << 40)
    monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0 if bulk else 1 << 40)
    monkeypatch.setattr("shop.import_loyalty.BATCH", 2)
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o1,ana,2026-06-01T10:00:00Z,100.00,",
        "o2,bo,2026-06-01T10:00:00Z,10.00,",
        "o3,ana,2026-06-02T10:00:00Z,1.00,99",
        "o4,bo,2026-06-02T10:00:00Z,1.00,11",
        "o5,cy,2026-06-02T10:00:00Z,50.00,",
        "o6,cy,2026-06-03T10:00:00Z,1.00,50",
        "o7,ana,2026-06-04T10:00:00Z,1.00,3",
    )  # fmt: skip
    # then the same rows are refused and the same entries booked
    assert [problem.split(": ", 1)[1] for problem in report.problems] == [
        "order 'o4' redeems 11 points, more than the 10 customer 'bo' had then: not written",
        "order 'o7' redeems 3 points, more than the 2 customer 'ana' had then: not written",
    ]
    redeems = sorted(row["source"] for row in table(engine, LedgerEntry) if row["kind"] == "redeem")
    assert redeems == ["redeem:o3", "redeem:o6"]
    assert counts(report)[-1] == ("orders.csv", 7, 5, 2)


def test_bad_points_redeemed_values_are_bad_rows(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o1,ana,2026-06-01T10:00:00Z,1.00,-5",
        "o2,ana,2026-06-01T10:00:00Z,1.00,1.5",
        "o3,ana,2026-06-01T10:00:00Z,1.00,99999999999",
        "o4,ana,2026-06-01T10:00:00Z,1.00,2147483648",
    )  # fmt: skip
    assert [problem.split(": ", 1)[1] for problem in report.problems] == [
        "points_redeemed '-5' is negative",
        "points_redeemed '1.5' is not a whole number",
        "points_redeemed '99999999999' is too large (at most 2,147,483,647)",
        "points_redeemed '2147483648' is too large (at most 2,147,483,647)",
    ]


def test_a_first_import_with_redemptions_ends_with_every_index(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an empty database, whose non-unique indexes a first import drops and builds
    # again (the ledger's before the redemptions are checked, the others at the end)
    expected = {table: _indexes(engine, table) for table in ("loyalty_ledger", "orders")}
    # when the first import has a redemption
    lines = ("o1,ana,2026-06-01T10:00:00Z,100.00,", "o2,ana,2026-06-10T10:00:00Z,20.00,80")
    assert _orders(engine, settings, tmp_path / "shop", *lines).problems == []
    # then every index is there again
    assert {table: _indexes(engine, table) for table in expected} == expected


def _indexes(engine: Engine, table_name: str) -> set[str]:
    return {str(index["name"]) for index in inspect(engine).get_indexes(table_name)}


# Cancelled and refunded orders give back what they redeemed (shop.import_loyalty.book_refunds)
STATUS = f"{HEADER},status"
LEARNED = datetime(2026, 6, 14, 8, tzinfo=UTC)  # 14 June in Madrid


def _balance(engine: Engine, customer_id: str = "ana") -> int:
    return int(by_key(engine, CustomerStats, "customer_id")[customer_id]["points_balance"])


def _refunds(engine: Engine) -> list[tuple[Any, ...]]:
    """(customer, points, on_date, at, expires_on, source) of the refund entries."""
    return sorted((row["customer_id"], row["points"], row["on_date"], row["at"],
                   row["expires_on"], row["source"])
                  for row in table(engine, LedgerEntry) if row["kind"] == "refund")  # fmt: skip


def test_a_cancellation_gives_back_the_redeemed_points_once_as_a_lot_of_the_day_learned(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana earns 100 points, then spends 80 of them on an order that earns 20
    lines = ("o1,ana,2026-06-01T10:00:00Z,100.00,", "o2,ana,2026-06-10T10:00:00Z,20.00,80")
    assert _orders(engine, settings, tmp_path / "first", *lines).problems == []
    assert _balance(engine) == 40
    # when a later file says o2 was cancelled, learned on 14 June
    cancel = (f"{lines[1]},cancelled",)
    report = _orders(engine, settings, tmp_path / "cancel", *cancel, header=STATUS, at=LEARNED)
    # then its 20 points are taken back and its 80 come back, once: a lot dated the day
    # Leal learned it, expiring points_expire_days (365) later, at the instant it learned it
    assert report.problems == []
    assert _refunds(engine) == [
        ("ana", 80, date(2026, 6, 14), LEARNED, date(2027, 6, 14), "refund:redeem:o2")
    ]
    assert _ledger(engine)[-2:] == [
        ("reverse", -20, date(2026, 6, 10), "reverse:o2"),
        ("refund", 80, date(2026, 6, 14), "refund:redeem:o2"),
    ]
    assert _balance(engine) == 100  # as if o2 never happened
    # when the same file comes again, then the order refunded, as a file and an event
    before = _ledger(engine)
    _orders(engine, settings, tmp_path / "again", *cancel, f"{lines[1]},refunded", header=STATUS)
    event = dict(zip(STATUS.split(","), f"{lines[1]},refunded".split(","), strict=True))
    apply_event(engine, settings, "order", event)
    # then nothing more is booked
    assert _ledger(engine) == before and _balance(engine) == 100


def test_an_order_arriving_cancelled_gives_back_its_points_in_the_same_import(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given one file: Ana earns 100, an order that arrives cancelled spent 100 of them,
    # and an order of hers after the cancellation was learned spends 100 again
    report = _orders(
        engine, settings, tmp_path / "shop",
        "o1,ana,2026-06-01T10:00:00Z,100.00,,",
        "o2,ana,2026-06-10T10:00:00Z,0.00,100,cancelled",
        "o3,ana,2026-06-14T10:00:00Z,0.00,100,",
        header=STATUS, at=LEARNED,
    )  # fmt: skip
    # then o2 redeems and gets its points back, which pay for o3 (checked in the same file)
    assert report.problems == []
    assert sorted(row[::3] for row in _ledger(engine)) == [
        ("earn", "o1"), ("earn", "o2"), ("earn", "o3"), ("redeem", "redeem:o2"),
        ("redeem", "redeem:o3"), ("refund", "refund:redeem:o2"),
    ]  # fmt: skip
    assert _refunds(engine)[0][1:3] == (100, date(2026, 6, 14))
    assert _balance(engine) == 0
    # when the same file comes again
    before = _ledger(engine)
    _orders(engine, settings, tmp_path / "again", "o2,ana,2026-06-10T10:00:00Z,0.00,100,cancelled",
            header=STATUS, at=LEARNED)  # fmt: skip
    # then nothing more is booked
    assert _ledger(engine) == before


def test_a_cancelled_order_that_redeemed_nothing_books_no_refund(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana's order that redeemed 30 points and Bo's that redeemed none
    lines = (
        "o1,ana,2026-06-01T10:00:00Z,100.00,",
        "o2,ana,2026-06-10T10:00:00Z,10.00,30",
        "o3,bo,2026-06-10T10:00:00Z,50.00,0",
    )
    assert _orders(engine, settings, tmp_path / "first", *lines).problems == []
    # when both are refunded, Ana's in a file of its own
    _orders(engine, settings, tmp_path / "bo", f"{lines[2]},refunded", header=STATUS, at=LEARNED)
    # then Bo's earned points are taken back and nothing is given back
    assert [row[:2] for row in _ledger(engine, "bo")] == [("earn", 50), ("reverse", -50)]
    assert _refunds(engine) == []
    # and Ana's gives back her own 30 only
    _orders(engine, settings, tmp_path / "ana", f"{lines[1]},refunded", header=STATUS, at=LEARNED)
    assert [(row[0], row[1]) for row in _refunds(engine)] == [("ana", 30)]
    assert (_balance(engine), _balance(engine, "bo")) == (100, 0)


def test_points_given_back_keep_a_balance_from_going_below_zero(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana spends her 100 points on o2, which earns 50, and those 50 on o3
    lines = (
        "o1,ana,2026-06-01T10:00:00Z,100.00,",
        "o2,ana,2026-06-10T10:00:00Z,50.00,100",
        "o3,ana,2026-06-11T10:00:00Z,0.00,50",
    )
    assert _orders(engine, settings, tmp_path / "first", *lines).problems == []
    assert _balance(engine) == 0
    # when o2 is cancelled: its 50 points, already spent, are taken back
    _orders(engine, settings, tmp_path / "cancel", f"{lines[1]},cancelled", header=STATUS,
            at=LEARNED)  # fmt: skip
    # then the 100 it spent come back first (a lot of that day, before its spends), so the
    # balance is 50, never below 0, in the summary and in the FIFO arithmetic every day
    assert _balance(engine) == 50
    with engine.connect() as connection:
        entries = entries_of(connection, ["ana"], settings.shop.tz)["ana"]
    days = [date(2026, 6, 1) + timedelta(days=n) for n in range(400)]
    balances = [balance_on(entries, day).points for day in days]
    assert min(balances) == 0 and balances[days.index(date(2026, 6, 14))] == 50
    # and the 50 left of the lot expire with it a year after the day it was learned
    assert balances[days.index(date(2027, 6, 13))] == 50
    assert balances[days.index(date(2027, 6, 14))] == 0


def test_nothing_comes_back_once_the_orders_own_points_would_have_expired(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given points that last 30 days, and two orders of 1 June that spent 10 points each
    settings = Settings(**settings.model_dump() | {"loyalty": {"points_expire_days": 30}})
    lines = (
        "o1,ana,2026-05-20T10:00:00Z,100.00,",
        "o2,ana,2026-06-01T10:00:00Z,0.00,10",
        "o3,ana,2026-06-01T11:00:00Z,0.00,10",
    )
    assert _orders(engine, settings, tmp_path / "first", *lines).problems == []
    # when o2 is cancelled on 30 June (the last day its points would have lived) and o3
    # on 1 July (their expiry date: every lot o3 spent is dead by then)
    for name, line, at in (
        ("o2", lines[1], datetime(2026, 6, 30, 20, tzinfo=UTC)),
        ("o3", lines[2], datetime(2026, 6, 30, 23, tzinfo=UTC)),
    ):
        _orders(engine, settings, tmp_path / name, f"{line},cancelled", header=STATUS, at=at)
    # then only o2's points come back, for 30 days from 30 June (o3's learned at 01:00 on
    # 1 July in Madrid)
    assert [row[2:] for row in _refunds(engine)] == [
        (date(2026, 6, 30), datetime(2026, 6, 30, 20, tzinfo=UTC), date(2026, 7, 30),
         "refund:redeem:o2"),
    ]  # fmt: skip


def test_an_order_event_sent_again_cancelled_gives_back_its_points_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana's 100 points and an order event (learned now) that spent 60 of them
    _orders(engine, settings, tmp_path / "shop")
    now = datetime.now(UTC).replace(microsecond=0)
    earned = {"order_id": "o1", "customer_id": "ana", "total": "100.00",
              "ordered_at": (now - timedelta(days=3)).isoformat()}  # fmt: skip
    spent = {"order_id": "o2", "customer_id": "ana", "total": "0.00", "points_redeemed": "60",
             "ordered_at": (now - timedelta(days=2)).isoformat()}  # fmt: skip
    for event in (earned, spent):
        apply_event(engine, settings, "order", event)
    # when the shop sends it again cancelled, twice
    for _ in "ab":
        apply_event(engine, settings, "order", spent | {"status": "cancelled"})
    # then its 60 points come back once, on the day the event was applied
    today = datetime.now(settings.shop.tz).date()
    assert [row[1:3] + row[5:] for row in _refunds(engine)] == [(60, today, "refund:redeem:o2")]
    assert _balance(engine) == 100
