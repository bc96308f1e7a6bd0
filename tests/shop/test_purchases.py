"""Purchase summaries: kept at ingest, they give the recommender the model a full fit gives."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic import command
from sqlalchemy import Connection, Engine, insert, inspect, select

from campaigns.config import Settings
from shop import purchases
from shop.db import alembic_config, make_engine, migrate
from shop.events import apply_event
from shop.models import CustomerProduct, OrderItem, ProductLastDay, ProductPair
from shop.purchases import add_purchases, rebuild_purchases
from templates import recommend_data
from templates.recommend import Recommender
from tests.factories import ShopFactory
from tests.shop.import_files import run, write

AS_OF = datetime(2026, 6, 15, 7, tzinfo=UTC)
MIDNIGHT = datetime(2026, 6, 15, tzinfo=UTC)
SKUS = [f"p{n}" for n in range(8)]
Summaries = tuple[set[Any], set[Any], set[Any]]


def _pairs(connection: Connection) -> set[tuple[str, str, int]]:
    rows = connection.execute(select(ProductPair.sku, ProductPair.other, ProductPair.customers))
    return {(sku, other, count) for sku, other, count in rows}


def _summaries(connection: Connection) -> Summaries:
    """Every row of the three summaries."""
    days = connection.execute(
        select(ProductLastDay.day, ProductLastDay.sku, ProductLastDay.customers)
    )
    rows = connection.execute(select(CustomerProduct))
    return _pairs(connection), {tuple(day) for day in days}, {tuple(row) for row in rows}


def _equal_to_a_rebuild(engine: Engine) -> Summaries:
    """The summaries, asserted equal to what a rebuild from every order line gives."""
    with engine.begin() as connection:
        moved = _summaries(connection)
        rebuild_purchases(connection)
        assert _summaries(connection) == moved
    return moved


def _random_instant(rng: random.Random) -> datetime:
    """Around AS_OF, and now and then exactly at a run instant or a UTC midnight of the
    days around it, where the edges of the windows compared fall."""
    exact = rng.random()
    if exact < 0.1:
        return AS_OF + timedelta(days=rng.randint(-3, 1))
    if exact < 0.2:
        return MIDNIGHT + timedelta(days=rng.randint(-3, 1))
    return AS_OF + timedelta(days=rng.uniform(-180, 20))


def _random_shop(engine: Engine, shop: ShopFactory, seed: int) -> list[str]:
    """40 customers, orders of 1-3 products over 200 days around AS_OF, each order's
    summaries moved as an import moves them."""
    rng = random.Random(seed)
    for sku in SKUS:
        shop.product(sku)
    customers = [shop.customer() for _ in range(40)]
    for _ in range(120):
        customer = rng.choice(customers)
        order = shop.order(customer, _random_instant(rng))
        lines = [{"order_id": order, "sku": sku, "quantity": 1, "unit_price_cents": 100}
                 for sku in rng.sample(SKUS, rng.randint(1, 3))]  # fmt: skip
        with engine.begin() as connection:
            connection.execute(insert(OrderItem), lines)
            add_purchases(connection, [order])
    return customers


def _assert_the_full_fit(engine: Engine, customers: list[str], as_of: datetime, days: int) -> None:
    """The model from the summaries is the full fit's: same ranking, similarity,
    popularity, picks (from history, from a cart, with and without bought products)."""
    asked = [*customers, "stranger"]
    with engine.connect() as connection:
        full = Recommender.fit(connection, as_of=as_of, popularity_days=days)
        summary = Recommender.from_summaries(
            connection, as_of=as_of, customer_ids=asked, popularity_days=days
        )
    assert summary.skus.tolist() == full.skus.tolist()
    assert np.array_equal(summary.similarity.toarray(), full.similarity.toarray())
    assert np.array_equal(summary.popularity, full.popularity)
    carts = {customer: SKUS[:2] for customer in asked[::4]}
    for exclude in (True, False):
        picks = summary.recommend(asked, k=4, exclude_purchased=exclude, cart_skus=carts)
        assert picks == full.recommend(asked, k=4, exclude_purchased=exclude, cart_skus=carts)


@pytest.mark.parametrize("seed", [3, 4])
def test_summaries_moved_order_by_order_equal_a_rebuild_and_models_equal_a_full_fit(
    engine: Engine, shop: ShopFactory, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    # given a random shop whose summaries moved with each order, some after AS_OF
    customers = _random_shop(engine, shop, seed)
    # then they are what a rebuild from every order line gives
    assert all(_equal_to_a_rebuild(engine))
    # and at replay instants with later orders, now, after everything, and at a midnight,
    # for windows of whole and partial days, the model is the full fit's
    for as_of in (AS_OF - timedelta(days=30), AS_OF, AS_OF + timedelta(days=30),
                  MIDNIGHT - timedelta(days=2)):  # fmt: skip
        for days in (90, 2, 1, 0):
            _assert_the_full_fit(engine, customers, as_of, days)
    # and so it is when so many bought since that the full fit is taken instead
    monkeypatch.setattr(recommend_data, "LATER_MAX", 0)
    _assert_the_full_fit(engine, customers, AS_OF - timedelta(days=30), 90)


@pytest.mark.parametrize(
    ("seed", "merge_orders", "rebuild_share"),
    [(1, 10_000, 16), (2, 3, 0), (3, 3, 10**9)],
    ids=["merged", "merged-3-orders-at-a-time", "rebuilt"],
)
def test_imports_in_pieces_move_the_summaries_as_a_rebuild_builds_them(
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    merge_orders: int,
    rebuild_share: int,
) -> None:
    monkeypatch.setattr(purchases, "MERGE_ORDERS", merge_orders)
    monkeypatch.setattr(purchases, "REBUILD_SHARE", rebuild_share)
    # given random orders whose lines come in the same import or a later one, some files
    # imported twice
    rng = random.Random(seed)
    customers = [f"c{n:02d}" for n in range(30)]
    base = tmp_path / "base"
    base.mkdir()
    write(base, "customers", *(f"{c},,,F,L,,,,false,false," for c in customers))
    write(base, "products", *(f"{sku},{sku},c,1,,,true" for sku in SKUS))
    assert not run(engine, base, settings).problems
    pieces: list[tuple[list[str], list[str]]] = [([], []) for _ in range(4)]
    for n in range(100):
        piece = rng.randrange(len(pieces))
        at = _random_instant(rng).isoformat().replace("+00:00", "Z")
        pieces[piece][0].append(f"o{n},{rng.choice(customers)},{at},1")
        for sku in rng.sample(SKUS, rng.randint(0, 3)):
            pieces[rng.randrange(piece, len(pieces))][1].append(f"o{n},{sku},1,1")
    for number, (orders, lines) in enumerate(pieces):
        folder = tmp_path / f"piece{number}"
        folder.mkdir()
        write(folder, "orders", *orders)
        write(folder, "order_items", *lines)
        assert not run(engine, folder, settings).problems
        if rng.random() < 0.5:  # a re-import changes nothing
            with engine.connect() as connection:
                before = _summaries(connection)
            assert not run(engine, folder, settings).problems
            with engine.connect() as connection:
                assert _summaries(connection) == before
    # then the summaries are what a rebuild gives, and so is the model
    assert all(_equal_to_a_rebuild(engine))
    _assert_the_full_fit(engine, customers, AS_OF, 90)


def test_a_later_import_of_lines_for_known_orders_moves_the_summaries(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given a first import with lines, then a second one adding lines to an older order
    first = tmp_path / "first"
    first.mkdir()
    write(first, "customers", "ana,,,Ana,P,,,,false,false,", "bo,,,Bo,L,,,,false,false,")
    write(first, "products", *(f"{sku},{sku},c,1,,,true" for sku in SKUS[:3]))
    write(first, "orders", "o1,ana,2026-06-01T10:00:00Z,1", "o2,bo,2026-06-02T10:00:00Z,1")
    write(first, "order_items", "o1,p0,1,1", "o2,p0,1,1", "o2,p1,1,1")
    assert not run(engine, first, settings).problems
    later = tmp_path / "later"
    later.mkdir()
    write(later, "order_items", "o1,p1,1,1", "o1,p2,1,1")
    assert not run(engine, later, settings).problems
    # then ana's rows and the pair counts include the new lines, as a rebuild says
    pairs, days, rows = _equal_to_a_rebuild(engine)
    assert sorted((customer, sku) for customer, sku, _, _ in rows) == [
        ("ana", "p0"), ("ana", "p1"), ("ana", "p2"), ("bo", "p0"), ("bo", "p1"),
    ]  # fmt: skip
    assert ("p0", "p1", 2) in pairs and ("p1", "p2", 1) in pairs
    assert (date(2026, 6, 1), "p2", 1) in days


def test_an_order_event_moves_the_summaries_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana's first order, then an order event of two more products, sent twice
    first = tmp_path / "first"
    first.mkdir()
    write(first, "customers", "ana,,,Ana,P,,,,false,false,")
    write(first, "products", *(f"{sku},{sku},c,1,,,true" for sku in SKUS[:3]))
    write(first, "orders", "o1,ana,2026-06-01T10:00:00Z,1")
    write(first, "order_items", "o1,p0,1,1")
    assert not run(engine, first, settings).problems
    items = [{"sku": sku, "quantity": 1, "unit_price": "1"} for sku in ("p0", "p1", "p2")]
    event = {"order_id": "o2", "customer_id": "ana", "ordered_at": "2026-06-02T10:00:00Z",
             "total": "3", "items": items}  # fmt: skip
    for _ in range(2):
        apply_event(engine, settings, "order", event)
    # then each pair of her products counts her once, and p0 moved to its later day
    pairs, days, _ = _equal_to_a_rebuild(engine)
    assert {(sku, other) for sku, other, count in pairs if count == 1} == {
        (sku, other) for sku in SKUS[:3] for other in SKUS[:3]
    }
    assert days == {(date(2026, 6, 2), sku, 1) for sku in SKUS[:3]}


def test_the_migration_builds_the_summaries_of_an_existing_shop(tmp_path: Path) -> None:
    # given a shop at revision 0014 with two customers' order lines
    engine = make_engine(f"sqlite:///{tmp_path / 'leal.db'}")
    migrate(engine, "0014")
    with engine.begin() as connection:
        for sql in (
            "INSERT INTO customers (id, first_name, last_name, email_opt_in, sms_opt_in) VALUES "
            "('ana', 'Ana', 'P', 0, 0), ('bo', 'Bo', 'L', 0, 0)",
            "INSERT INTO products (sku, name, category, price_cents, in_stock) VALUES "
            "('p0', 'p0', 'c', 1, 1), ('p1', 'p1', 'c', 1, 1)",
            "INSERT INTO orders (id, customer_id, ordered_at, local_date, total_cents) VALUES "
            "('o1', 'ana', '2026-06-01 10:00:00.000000', '2026-06-01', 1), "
            "('o2', 'bo', '2026-06-02 10:00:00.000000', '2026-06-02', 1)",
            "INSERT INTO order_items (order_id, sku, quantity, unit_price_cents) VALUES "
            "('o1', 'p0', 1, 1), ('o1', 'p1', 1, 1), ('o2', 'p1', 1, 1)",
        ):
            connection.exec_driver_sql(sql)
    # when it is upgraded
    migrate(engine)
    # then the summaries hold its history, and a downgrade takes them away
    with engine.connect() as connection:
        pairs, days, _ = _summaries(connection)
    assert pairs == {("p0", "p0", 1), ("p0", "p1", 1), ("p1", "p0", 1), ("p1", "p1", 2)}
    assert days == {(date(2026, 6, 1), "p0", 1), (date(2026, 6, 1), "p1", 1),
                    (date(2026, 6, 2), "p1", 1)}  # fmt: skip
    command.downgrade(alembic_config(engine), "0014")
    engine.dispose()
    tables = inspect(engine).get_table_names()
    assert not {"customer_products", "product_pairs", "product_last_days"} & set(tables)
