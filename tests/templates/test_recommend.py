"""Recommendations on small hand-built shops (SQLite and PostgreSQL) with known answers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, insert, update

from shop.models import OrderItem, Product
from shop.purchases import add_purchases
from templates import recommend
from templates.recommend import Recommender
from templates.recommend_rank import top_k
from tests.factories import ShopFactory

AS_OF = datetime(2026, 6, 15, 7, tzinfo=UTC)
RECENT = AS_OF - timedelta(days=10)
CATALOGUE = ("beans", "filter", "grinder", "kettle", "mug", "tea")


class Shop:
    """A catalogue and orders written through the shop factory; the model is fitted from
    the whole history (`fit`) or from the summaries kept at ingest (`summaries`, moved by
    each order as an import would)."""

    def __init__(self, engine: Engine, factory: ShopFactory, way: str = "fit") -> None:
        self.engine, self.factory, self.way = engine, factory, way
        self.customers: set[str] = set()
        for sku in CATALOGUE:
            factory.product(sku)

    def buy(self, customer: str, *skus: str, at: datetime = RECENT) -> None:
        """One order of `skus` by `customer` at `at`."""
        if customer not in self.customers:
            self.factory.customer(customer)
            self.customers.add(customer)
        order = self.factory.order(customer, at)
        lines = [
            {"order_id": order, "sku": s, "quantity": 1, "unit_price_cents": 100} for s in skus
        ]
        with self.engine.begin() as connection:
            connection.execute(insert(OrderItem), lines)
            add_purchases(connection, [order])

    def out_of_stock(self, *skus: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(Product).where(Product.sku.in_(skus)).values(in_stock=False))

    def model(self, as_of: datetime = AS_OF, popularity_days: int = 90) -> Recommender:
        with self.engine.connect() as connection:
            if self.way == "fit":
                return Recommender.fit(connection, as_of=as_of, popularity_days=popularity_days)
            everyone = [*self.customers, "stranger", "x"]
            return Recommender.from_summaries(
                connection, as_of=as_of, customer_ids=everyone, popularity_days=popularity_days
            )


def history(shop: Shop) -> Shop:
    """beans go with filters (3 buyers), mugs with tea (2); the grinder is bought alone,
    by 5, so it is the best seller; "new" has bought beans only, "a" beans and a filter."""
    for customer in "abc":
        shop.buy(customer, "beans", "filter")
    for customer in "de":
        shop.buy(customer, "mug", "tea")
    for customer in "fghij":
        shop.buy(customer, "grinder")
    shop.buy("new", "beans")
    return shop


@pytest.fixture(params=["fit", "summaries"])
def way(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def demo(engine: Engine, shop: ShopFactory, way: str) -> Shop:
    return history(Shop(engine, shop, way))


def test_a_customer_gets_the_complement_of_what_they_bought_first(demo: Shop) -> None:
    # the filter (bought with beans), then the best seller; never the beans again
    assert demo.model().recommend(["new"], k=2) == {"new": ["filter", "grinder"]}


def test_already_bought_is_excluded_unless_the_campaign_allows_it(demo: Shop) -> None:
    model = demo.model()
    # a bought beans and a filter: best sellers follow, mug before tea (equal) by SKU
    assert model.recommend(["a"], k=2) == {"a": ["grinder", "mug"]}
    # allowed, each is the other's complement; beans (4 buyers) before the filter (3)
    assert model.recommend(["a"], k=2, exclude_purchased=False) == {"a": ["beans", "filter"]}


def test_out_of_stock_is_never_recommended(demo: Shop) -> None:
    demo.out_of_stock("filter", "grinder")
    picks = demo.model().recommend(["new", "a", "stranger"], k=6, exclude_purchased=False)
    assert all({"filter", "grinder"}.isdisjoint(skus) for skus in picks.values())
    assert picks["new"][:2] == ["beans", "mug"]


def test_a_customer_without_history_gets_the_best_sellers_of_the_last_90_days(
    demo: Shop,
) -> None:
    # a kettle sold to 9 customers 200 days ago is an old favourite, not a best seller
    for n in range(9):
        demo.buy(f"old{n}", "kettle", at=AS_OF - timedelta(days=200))
    demo.buy("edge", "tea", at=AS_OF - timedelta(days=90, seconds=1))  # just outside
    assert demo.model().recommend(["stranger"], k=4) == {
        "stranger": ["grinder", "beans", "filter", "mug"]
    }
    over_a_year = demo.model(popularity_days=365).recommend(["stranger"], k=1)
    assert over_a_year == {"stranger": ["kettle"]}


def test_a_cart_gets_the_complements_of_its_lines_never_the_lines(demo: Shop) -> None:
    model = demo.model()
    carts = {"stranger": ["mug"], "new": ["beans", "mug"]}
    picks = model.recommend(["stranger", "new"], k=2, cart_skus=carts)
    # tea goes with mugs (cosine 1), the filter with beans (3 of 4 beans buyers: 0.87)
    assert picks == {"stranger": ["tea", "grinder"], "new": ["tea", "filter"]}


def test_a_cart_of_unknown_products_falls_back_to_best_sellers(demo: Shop) -> None:
    picks = demo.model().recommend(["stranger"], k=2, cart_skus={"stranger": ["gone"]})
    assert picks == {"stranger": ["grinder", "beans"]}


def test_orders_after_the_instant_do_not_count(demo: Shop) -> None:
    demo.buy("new", "mug", at=AS_OF + timedelta(seconds=1))
    for n in range(9):
        demo.buy(f"late{n}", "kettle", "filter", at=AS_OF + timedelta(hours=1))
    model = demo.model()
    # no mug for "new" yet (so tea is no complement, and the mug is still on offer) ...
    assert model.recommend(["new"], k=6) == {"new": ["filter", "grinder", "mug", "tea", "kettle"]}
    # ... and the kettle is not a best seller yet
    assert model.recommend(["stranger"], k=1) == {"stranger": ["grinder"]}


def test_an_order_at_the_instant_counts(demo: Shop) -> None:
    demo.buy("new", "mug", at=AS_OF)
    assert demo.model().recommend(["new"], k=2) == {"new": ["filter", "tea"]}


@pytest.mark.parametrize("k", [0, 1, 3, 10])
def test_k_is_respected(demo: Shop, k: int) -> None:
    picks = demo.model().recommend(["a", "new", "stranger"], k=k)
    # the catalogue holds 6 products; a bought 2 of them, new 1
    assert [len(skus) for skus in picks.values()] == [min(k, 4), min(k, 5), min(k, 6)]


def test_equal_scores_break_by_sku_and_answers_do_not_depend_on_order_or_batch(
    engine: Engine, shop: ShopFactory, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Shop(engine, shop, way)
    for sku in reversed(CATALOGUE):  # each bought once: every product is as popular
        store.buy(f"by-{sku}", sku)
    model = store.model()
    assert model.recommend(["stranger"], k=6) == {"stranger": list(CATALOGUE)}
    ids = [f"by-{sku}" for sku in CATALOGUE] + ["stranger"]
    first = model.recommend(ids, k=3)
    monkeypatch.setattr(recommend, "CELLS", 1)  # one customer per batch
    assert _same(first, store.model().recommend(reversed(ids), k=3))


def test_the_popularity_baseline_ignores_co_purchase(demo: Shop) -> None:
    assert demo.model().without_similarity().recommend(["new"], k=2) == {
        "new": ["grinder", "filter"]
    }


def test_an_empty_shop_recommends_its_catalogue(
    engine: Engine, shop: ShopFactory, way: str
) -> None:
    store = Shop(engine, shop, way)
    assert store.model().recommend(["x"], k=2) == {"x": ["beans", "filter"]}


def _same(left: dict[str, list[str]], right: dict[str, list[str]]) -> bool:
    return sorted(_items(left)) == sorted(_items(right))


def _items(picks: dict[str, list[str]]) -> Iterable[tuple[str, tuple[str, ...]]]:
    return ((customer, tuple(skus)) for customer, skus in picks.items())


def test_top_k_matches_a_full_sort() -> None:
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, size=(50, 12)).astype(np.float64)  # many ties
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    for k in (1, 3, 12, 20):
        expected = [
            [c for c in sorted(range(12), key=lambda c: (-row[c], c)) if np.isfinite(row[c])][:k]
            for row in scores
        ]
        assert [columns.tolist() for columns in top_k(scores, k)] == expected
