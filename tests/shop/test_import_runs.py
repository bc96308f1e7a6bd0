"""Imports over time: summaries, idempotence, strict rollbacks, indexes."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from campaigns.config import Settings
from shop.importer import import_dir
from shop.models import (
    Cart,
    Customer,
    CustomerStats,
    LedgerEntry,
    Order,
    Product,
)
from tests.shop.import_files import ON, SHOP, TABLES, by_key, run, table, write, write_shop


def test_customer_stats_are_filled_for_customers_with_orders(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana with 625 points over two orders, Bo with 3 and Cy with no order
    write_shop(tmp_path)
    # when the shop is imported as of 15 June
    run(engine, tmp_path, settings)
    # then each customer with orders has a summary as of that date, with a tier
    stats = by_key(engine, CustomerStats, "customer_id")
    assert set(stats) == {"ana", "bo"}
    ana = stats["ana"]
    assert ana.pop("ledger_through") == max(
        row["id"] for row in table(engine, LedgerEntry) if row["customer_id"] == "ana"
    )
    assert ana == {
        "customer_id": "ana", "order_count": 2, "total_spent_cents": 62599,
        "first_order_on": date(2026, 3, 29), "last_order_on": date(2026, 6, 1),
        "last_order_at": datetime(2026, 6, 1, 8, 0, tzinfo=UTC), "points_balance": 625,
        "points_window": 625, "tier": "silver", "computed_on": ON,
        # the whole-ledger sums the loyalty triggers read (triggers.ledger_sums)
        "points_net": 625, "earned_orders": 625, "earned_actions": 0, "window_orders": 625,
        "window_actions": 0, "left_orders": 0, "left_actions": 0,
        "ledger_last_at": datetime(2026, 6, 1, 8, 0, tzinfo=UTC),
    }  # fmt: skip
    assert (stats["bo"]["order_count"], stats["bo"]["tier"]) == (1, "bronze")


def test_a_later_import_refreshes_only_the_customers_it_gave_orders(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a shop imported on 15 June
    run(engine, write_shop(tmp_path / "first"), settings)
    # when a later file brings one more order for Bo, imported on 20 June
    later = tmp_path / "later"
    later.mkdir()
    write(later, "orders", "o4,bo,2026-06-19T09:00:00Z,10.00")
    report = import_dir(engine, later, settings, on=date(2026, 6, 20))
    # then Bo's summary is recomputed on that date and Ana's is left as it was
    stats = by_key(engine, CustomerStats, "customer_id")
    assert report.problems == []
    assert (stats["bo"]["order_count"], stats["bo"]["computed_on"]) == (2, date(2026, 6, 20))
    assert (stats["ana"]["order_count"], stats["ana"]["computed_on"]) == (2, ON)


def test_cart_summaries_follow_each_lines_latest_event_across_imports(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a first import where Bo's cart k1 got a cup then had it removed, and Ana's k2
    # holds two cups and a tea
    k2 = ["k2,ana,cup,2,2026-06-14T10:00Z", "k2,ana,tea,1,2026-06-14T10:01Z"]
    run(engine, write_shop(tmp_path / "first", cart_events=[*SHOP["cart_events"], *k2]), settings)
    first = by_key(engine, Cart, "cart_id")
    # when a later import only changes k2's tea to 3
    later = tmp_path / "later"
    later.mkdir()
    write(later, "cart_events", "k2,ana,tea,3,2026-06-14T11:00Z")
    run(engine, later, settings)
    # then each summary holds the latest change and the units still in the cart
    assert {cart: (row["item_count"], row["last_change_at"]) for cart, row in first.items()} == {
        "k1": (0, datetime(2026, 6, 14, 16, 5, tzinfo=UTC)),
        "k2": (3, datetime(2026, 6, 14, 10, 1, tzinfo=UTC)),
    }
    after = by_key(engine, Cart, "cart_id")
    assert (after["k2"]["item_count"], after["k2"]["last_change_at"]) == (
        5,
        datetime(2026, 6, 14, 11, 0, tzinfo=UTC),
    )
    assert after["k1"] == first["k1"]


def test_strict_writes_nothing_when_a_row_is_bad(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a shop whose last cart event has a bad quantity
    write_shop(tmp_path, cart_events=[*SHOP["cart_events"], "k2,bo,cup,-2,2026-06-14T19:00Z"])
    # when it is imported strictly
    report = run(engine, tmp_path, settings, strict=True)
    # then the problem is reported and no table holds a row
    assert report.problems == [f"{tmp_path / 'cart_events.csv'}:4: quantity '-2' is negative"]
    assert not report.committed
    assert [table(engine, model) for model in TABLES] == [[]] * len(TABLES)


def indexes(engine: Engine) -> dict[str, list[str]]:
    inspector = inspect(engine)
    return {
        model.__tablename__: sorted(
            str(ix["name"]) for ix in inspector.get_indexes(model.__tablename__)
        )
        for model in TABLES
    }


@pytest.mark.parametrize("strict", [False, True])
def test_a_first_load_leaves_every_index_in_place_whether_it_commits_or_not(
    engine: Engine, settings: Settings, tmp_path: Path, strict: bool
) -> None:
    # given an empty, migrated shop and its indexes (the import drops the non-unique ones
    # of empty tables while it loads)
    before = indexes(engine)
    assert "ix_loyalty_ledger_customer_on" in before["loyalty_ledger"]
    # when a first import commits, or rolls back on a bad row under --strict
    bad = ["k2,bo,cup,-2,2026-06-14T19:00Z"] if strict else []
    report = run(
        engine,
        write_shop(tmp_path, cart_events=[*SHOP["cart_events"], *bad]),
        settings,
        strict=strict,
    )
    # then the schema holds the same indexes as before
    assert report.committed is not strict
    assert indexes(engine) == before


def test_strict_commits_when_every_row_is_good(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    report = run(engine, write_shop(tmp_path), settings, strict=True)
    assert (report.committed, report.problems) == (True, [])
    assert len(table(engine, Order)) == 3


def test_importing_the_same_files_again_changes_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an imported shop and a snapshot of every table it fills
    write_shop(tmp_path)
    run(engine, tmp_path, settings)
    before = [table(engine, model) for model in TABLES]
    # when the same files are imported again
    again = run(engine, tmp_path, settings)
    # then every row is accepted and the tables are identical, with no duplicate
    assert (again.committed, again.problems) == (True, [])
    assert [table(engine, model) for model in TABLES] == before
    assert [len(rows) for rows in before] == [3, 2, 3, 2, 2, 3, 2, 1]


def test_a_new_import_updates_customers_and_products_but_never_rewrites_orders(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given an imported shop
    run(engine, write_shop(tmp_path / "first"), settings)
    # when files with a new e-mail, a new price and another total for o1 are imported
    second = write_shop(
        tmp_path / "second",
        customers=["bo,bo@example.com,,Bo,Li,,,,true,false,"],
        products=["tea,Green tea,,3.50,,,true"],
        orders=["o1,ana,2026-03-28T23:30:00Z,99.00"],
    )
    run(engine, second, settings)
    # then customers and products are upserted, and the order and its points stay
    bo = by_key(engine, Customer, "id")["bo"]
    assert (bo["email"], bo["email_opt_in"]) == ("bo@example.com", True)
    assert by_key(engine, Product, "sku")["tea"]["price_cents"] == 350
    assert by_key(engine, Order, "id")["o1"]["total_cents"] == 2599
    assert by_key(engine, LedgerEntry, "order_id")["o1"]["points"] == 25


def test_a_process_that_used_the_broker_still_imports_through_the_helper(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import threading

    from campaigns.loader import Config
    from shop import import_parse
    from workers.celery_config import make_app

    # given a process that asked the workers over Redis whether any listens (as `leal run`
    # does), so kombu holds a broker connection that waited on a reply
    redis = os.environ.get("LEAL_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{1 + os.getpid() % 15}")
    workers = settings.workers.model_copy(update={"broker_url": redis})
    make_app(Config(settings.model_copy(update={"workers": workers}), None)).control.ping(
        timeout=0.2
    )
    # when it imports a file parsed by the helper process
    monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0)
    write_shop(tmp_path)
    done: list[object] = []
    importing = threading.Thread(target=lambda: done.append(run(engine, tmp_path, settings)))
    importing.start()
    importing.join(timeout=60)
    # then the import ends (the helper's fork used to hang in kombu's after-fork clean-up)
    assert done, "the import hung in its parse helper"


def test_a_parse_helper_that_dies_fails_the_import_instead_of_hanging(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shop import import_parse

    # given parse helpers that die before sending anything (killed for memory, say)
    monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0)
    monkeypatch.setattr(import_parse, "_PATIENCE_S", 0.1)
    monkeypatch.setattr(import_parse, "_work", lambda *_: os._exit(1))
    # when a shop is imported, then the import fails at once and writes nothing
    with pytest.raises(import_parse.ParseWorkerError, match="ended early"):
        run(engine, write_shop(tmp_path), settings)
    assert [table(engine, model) for model in TABLES] == [[]] * len(TABLES)
