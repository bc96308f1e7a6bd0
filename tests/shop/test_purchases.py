"""Purchase summaries: kept at ingest, they give the recommender the model a full fit gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from alembic import command
from sqlalchemy import Connection, Engine, insert, inspect, select

from campaigns.config import Settings
from shop.db import alembic_config, make_engine, migrate
from shop.models import CustomerProduct, OrderItem, ProductPair
from shop.purchases import rebuild_purchases, refresh_purchases
from templates.recommend import Recommender
from tests.factories import ShopFactory
from tests.shop.import_files import run, write

AS_OF = datetime(2026, 6, 15, 7, tzinfo=UTC)
SKUS = [f"p{n}" for n in range(8)]


def _pairs(connection: Connection) -> set[tuple[str, str, int]]:
    rows = connection.execute(select(ProductPair.sku, ProductPair.other, ProductPair.customers))
    return {(sku, other, count) for sku, other, count in rows}


def _random_shop(engine: Engine, shop: ShopFactory, seed: int) -> list[str]:
    """40 customers, orders of 1-3 products over 200 days around AS_OF, each order's
    summaries moved as an import moves them."""
    rng = random.Random(seed)
    for sku in SKUS:
        shop.product(sku)
    customers = [shop.customer() for _ in range(40)]
    for _ in range(120):
        customer = rng.choice(customers)
        at = AS_OF + timedelta(days=rng.uniform(-180, 20))
        order = shop.order(customer, at)
        lines = [{"order_id": order, "sku": sku, "quantity": 1, "unit_price_cents": 100}
                 for sku in rng.sample(SKUS, rng.randint(1, 3))]  # fmt: skip
        with engine.begin() as connection:
            connection.execute(insert(OrderItem), lines)
            refresh_purchases(connection, [customer])
    return customers


def test_summaries_moved_order_by_order_equal_a_rebuild_and_models_equal_a_full_fit(
    engine: Engine, shop: ShopFactory
) -> None:
    # given a random shop whose summaries moved with each order, some after AS_OF
    customers = _random_shop(engine, shop, seed=3)
    with engine.begin() as connection:
        moved = _pairs(connection)
        rebuild_purchases(connection)
        # then they are what a rebuild from every order line gives
        assert moved == _pairs(connection) and moved
    # and at a replay instant with later orders, now, and after everything, the model from
    # the summaries is the full fit's: same ranking, similarity, popularity, picks
    asked = [*customers, "stranger"]
    for as_of in (AS_OF - timedelta(days=30), AS_OF, AS_OF + timedelta(days=30)):
        with engine.connect() as connection:
            full = Recommender.fit(connection, as_of=as_of)
            summary = Recommender.from_summaries(connection, as_of=as_of, customer_ids=asked)
        assert summary.skus.tolist() == full.skus.tolist()
        assert np.array_equal(summary.similarity.toarray(), full.similarity.toarray())
        assert np.array_equal(summary.popularity, full.popularity)
        for exclude in (True, False):
            picks = summary.recommend(asked, k=4, exclude_purchased=exclude)
            assert picks == full.recommend(asked, k=4, exclude_purchased=exclude)


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
    with engine.begin() as connection:
        rows = connection.execute(
            select(CustomerProduct.customer_id, CustomerProduct.sku).order_by(
                CustomerProduct.customer_id, CustomerProduct.sku
            )
        ).all()
        incremental = _pairs(connection)
        rebuild_purchases(connection)
        rebuilt = _pairs(connection)
    assert [tuple(row) for row in rows] == [
        ("ana", "p0"), ("ana", "p1"), ("ana", "p2"), ("bo", "p0"), ("bo", "p1"),
    ]  # fmt: skip
    assert incremental == rebuilt
    assert ("p0", "p1", 2) in incremental and ("p1", "p2", 1) in incremental


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
        assert _pairs(connection) == {
            ("p0", "p0", 1), ("p0", "p1", 1), ("p1", "p0", 1), ("p1", "p1", 2)
        }  # fmt: skip
    command.downgrade(alembic_config(engine), "0014")
    engine.dispose()
    assert "product_pairs" not in inspect(engine).get_table_names()
