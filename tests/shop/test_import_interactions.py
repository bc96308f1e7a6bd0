"""interactions.csv: what a customer did that earns points ([loyalty] actions), stored once
under the shop's id with its bonus entry, loaded after customers (so before orders)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from campaigns.config import Settings
from shop import csv_rows, import_parse, importer
from shop.models import CustomerStats, Interaction, LedgerEntry
from tests.shop.import_files import SHOP, by_key, counts, run, table, write

HEADER = "id,customer_id,at,action"  # columns are found by name, in any order
ACTIONS = {"review": 50, "referral": 200}


@pytest.fixture
def loyal(settings: Settings) -> Settings:
    """The test settings with points for reviews and referrals."""
    return Settings(**settings.model_dump() | {"loyalty": {"actions": ACTIONS}})


def _import(
    engine: Engine, settings: Settings, folder: Path, *lines: str, orders: tuple[str, ...] = ()
) -> Any:
    """Import the sample customers, these interactions, and orders (header first) if any."""
    folder.mkdir()
    write(folder, "customers", *SHOP["customers"])
    write(folder, "interactions", *lines, header=HEADER)
    if orders:
        write(folder, "orders", *orders[1:], header=orders[0])
    return run(engine, folder, settings)


def _bonuses(engine: Engine) -> list[tuple[Any, ...]]:
    return sorted((row["source"], row["customer_id"], row["kind"], row["points"], row["on_date"],
                   row["at"], row["expires_on"]) for row in table(engine, LedgerEntry)
                  if row["kind"] == "bonus")  # fmt: skip


def test_each_interaction_is_stored_with_its_bonus_entry(
    engine: Engine, loyal: Settings, tmp_path: Path
) -> None:
    # when Ana's review (late on 31 May in Madrid) and Bo's referral are imported
    report = _import(
        engine, loyal, tmp_path / "first",
        "r1,ana,2026-05-31T23:30:00+02:00,review",
        "f1,bo,2026-06-02T10:00:00Z, Referral ",
    )  # fmt: skip
    # then both are stored under the shop's ids, with the points of today's settings
    assert report.problems == [] and counts(report)[1] == ("interactions.csv", 2, 2, 0)
    stored = by_key(engine, Interaction, "id")
    assert {key: (row["customer_id"], row["action"], row["local_date"], row["points"])
            for key, row in stored.items()} == {
        "r1": ("ana", "review", date(2026, 5, 31), 50),
        "f1": ("bo", "referral", date(2026, 6, 2), 200),
    }  # fmt: skip
    # and each books a bonus lot on its local date, expiring like an order's points
    assert _bonuses(engine) == [
        ("interaction:f1", "bo", "bonus", 200, date(2026, 6, 2),
         datetime(2026, 6, 2, 10, tzinfo=UTC), date(2027, 6, 2)),
        ("interaction:r1", "ana", "bonus", 50, date(2026, 5, 31),
         datetime(2026, 5, 31, 21, 30, tzinfo=UTC), date(2027, 5, 31)),
    ]  # fmt: skip


def test_a_customer_with_only_points_for_actions_has_a_summary(
    engine: Engine, loyal: Settings, tmp_path: Path
) -> None:
    # when Bo, who never ordered, writes a review and refers a friend
    _import(
        engine, loyal, tmp_path / "first",
        "r1,bo,2026-05-31T23:30:00+02:00,review", "f1,bo,2026-06-02T10:00:00Z,referral",
    )  # fmt: skip
    # then his summary holds them: no orders, 250 points, nothing earned by orders, and the
    # ledger it holds (what the loyalty triggers check before trusting it)
    bo = by_key(engine, CustomerStats, "customer_id")["bo"]
    entries = [row for row in table(engine, LedgerEntry) if row["customer_id"] == "bo"]
    assert (bo["order_count"], bo["last_order_on"], bo["points_net"]) == (0, None, 250)
    assert (bo["earned_orders"], bo["earned_actions"]) == (0, 250)
    assert bo["ledger_through"] == max(row["id"] for row in entries)
    assert bo["ledger_last_at"] == datetime(2026, 6, 2, 10, tzinfo=UTC)


def test_importing_an_interaction_again_changes_nothing(
    engine: Engine, loyal: Settings, tmp_path: Path
) -> None:
    # given a review imported, its points in the summary of a customer with orders
    orders = ("order_id,customer_id,ordered_at,total", "o1,ana,2026-06-01T10:00:00Z,10.00")
    _import(engine, loyal, tmp_path / "first", "r1,ana,2026-06-10T10:00:00Z,review",
            orders=orders)  # fmt: skip
    before = (table(engine, Interaction), _bonuses(engine))
    assert by_key(engine, CustomerStats, "customer_id")["ana"]["points_balance"] == 60
    # when the same id comes again, even as another action of another customer, and the
    # program now gives more for a review
    more = Settings(**loyal.model_dump() | {"loyalty": {"actions": {"review": 500}}})
    report = _import(engine, more, tmp_path / "again", "r1,bo,2026-06-11T10:00:00Z,review",
                     "r1,ana,2026-06-10T10:00:00Z,review")  # fmt: skip
    # then nothing changes
    assert report.problems == []
    assert (table(engine, Interaction), _bonuses(engine)) == before
    assert by_key(engine, CustomerStats, "customer_id")["ana"]["points_balance"] == 60


def test_an_unknown_action_or_customer_is_a_problem_at_its_line(
    engine: Engine, loyal: Settings, settings: Settings, tmp_path: Path
) -> None:
    # when interactions name an action the program does not know, a customer Leal does not
    # know, an instant without an offset and an empty id
    report = _import(
        engine, loyal, tmp_path / "first",
        "r1,ana,2026-06-10T10:00:00Z,like",
        "r2,zed,2026-06-10T10:00:00Z,review",
        "r3,ana,2026-06-10T10:00:00,review",
        ",ana,2026-06-10T10:00:00Z,review",
        "r5,ana,2026-06-10T10:00:00Z,review",
    )  # fmt: skip
    # then each is refused at its line, naming the known actions
    interactions = tmp_path / "first" / "interactions.csv"
    assert report.problems == [
        f"{interactions}:2: action 'like' is not one of [loyalty] actions (referral, review)",
        f"{interactions}:3: unknown customer_id 'zed'",
        f"{interactions}:4: at '2026-06-10T10:00:00' has no UTC offset (add one, or Z)",
        f"{interactions}:5: id is empty",
    ]
    assert set(by_key(engine, Interaction, "id")) == {"r5"}
    # and a program without actions says so
    plain = _import(engine, settings, tmp_path / "plain", "r6,ana,2026-06-10T10:00:00Z,review")
    assert [problem.split(": ", 1)[1] for problem in plain.problems] == [
        "action 'review' is not one of [loyalty] actions (none are configured)"
    ]


def test_interactions_load_before_orders_so_their_points_can_be_redeemed(
    engine: Engine, loyal: Settings, tmp_path: Path
) -> None:
    # when one import has Ana's referral and an order of hers that redeems its points
    report = _import(
        engine, loyal, tmp_path / "first", "f1,ana,2026-06-02T10:00:00Z,referral",
        orders=("order_id,customer_id,ordered_at,total,points_redeemed",
                "o1,ana,2026-06-03T10:00:00Z,10.00,200"),
    )  # fmt: skip
    # then the redemption finds them
    assert report.problems == []
    assert by_key(engine, CustomerStats, "customer_id")["ana"]["points_balance"] == 10


@pytest.mark.parametrize("path", ["bulk", "rows"])
def test_both_import_paths_book_the_same_bonuses(
    engine: Engine, loyal: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # given blocks of 2 rows and the bulk path (parse helpers, COPY) or the row path
    monkeypatch.setattr(csv_rows, "BATCH", 2)
    bulk = path == "bulk"
    monkeypatch.setattr(importer, "BULK_BYTES", 0 if bulk else 1 << 40)
    monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0 if bulk else 1 << 40)
    # when interactions, one twice, span blocks
    report = _import(
        engine, loyal, tmp_path / "first",
        "r1,ana,2026-06-10T10:00:00Z,review",
        "r2,bo,2026-06-10T10:00:00Z,review",
        "r1,bo,2026-06-11T10:00:00Z,referral",
        "f1,cy,2026-06-12T10:00:00Z,referral",
    )  # fmt: skip
    # then the first row of each id is stored, with one bonus each
    assert report.problems == []
    assert [(row[0], row[1], row[3]) for row in _bonuses(engine)] == [
        ("interaction:f1", "cy", 200),
        ("interaction:r1", "ana", 50),
        ("interaction:r2", "bo", 50),
    ]
