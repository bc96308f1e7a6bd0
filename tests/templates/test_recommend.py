"""Recommendations: co-purchase, popularity, exclusions, carts, time as a parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from shop.models import OrderItem
from templates.recommend import Purchase, Recommender
from tests.factories import ShopFactory

AS_OF = datetime(2026, 6, 15, 9, tzinfo=UTC)
RECENT = AS_OF - timedelta(days=10)
STOCK = {sku: True for sku in ("beans", "filter", "grinder", "kettle", "mug", "tea")}


def bought(*rows: tuple[str, str], at: datetime = RECENT) -> list[Purchase]:
    return [Purchase(customer, sku, at) for customer, sku in rows]


# beans and filter go together (3 buyers), mug and tea (2); grinder is bought alone, by 5
HISTORY = bought(
    ("a", "beans"), ("a", "filter"), ("b", "beans"), ("b", "filter"), ("c", "beans"),
    ("c", "filter"), ("d", "mug"), ("d", "tea"), ("e", "mug"), ("e", "tea"),
    ("f", "grinder"), ("g", "grinder"), ("h", "grinder"), ("i", "grinder"), ("j", "grinder"),
    ("new", "beans"),
)  # fmt: skip


def test_a_customer_gets_what_others_bought_with_their_products_first() -> None:
    model = Recommender.from_purchases(HISTORY, STOCK, as_of=AS_OF)
    # "new" bought beans: the filter first, then the popular grinder, never the beans
    assert model.recommend(["new"], k=2) == {"new": ["filter", "grinder"]}


def test_already_bought_is_allowed_when_the_campaign_says_so() -> None:
    model = Recommender.from_purchases(HISTORY, STOCK, as_of=AS_OF)
    # a bought beans and filter, each the other's complement
    assert model.recommend(["a"], k=2) == {"a": ["grinder", "mug"]}
    assert model.recommend(["a"], k=2, exclude_purchased=False) == {"a": ["beans", "filter"]}


def test_a_customer_without_history_gets_the_last_90_days_best_sellers() -> None:
    # an old favourite, bought by many 200 days ago, is not popular now
    old = bought(*[(f"o{n}", "kettle") for n in range(9)], at=AS_OF - timedelta(days=200))
    model = Recommender.from_purchases(HISTORY + old, STOCK, as_of=AS_OF)
    assert model.recommend(["stranger"], k=3) == {"stranger": ["grinder", "beans", "filter"]}


def test_out_of_stock_is_never_recommended() -> None:
    model = Recommender.from_purchases(HISTORY, STOCK | {"filter": False}, as_of=AS_OF)
    picks = model.recommend(["new", "stranger"], k=5)
    assert all("filter" not in skus for skus in picks.values())
    assert picks["new"][0] == "grinder"


def test_a_cart_gets_its_complements_never_its_own_lines() -> None:
    model = Recommender.from_purchases(HISTORY, STOCK, as_of=AS_OF)
    picks = model.recommend(["d"], k=2, cart_skus={"d": ["mug"]})
    # d bought mug and tea; with exclusion on, tea (the mug's complement) is out too
    assert picks == {"d": ["grinder", "beans"]}
    assert model.recommend(["d"], k=1, exclude_purchased=False, cart_skus={"d": ["mug"]}) == {
        "d": ["tea"]
    }


def test_orders_after_the_instant_do_not_count() -> None:
    later = bought(("new", "mug"), at=AS_OF + timedelta(hours=1))
    model = Recommender.from_purchases(HISTORY + later, STOCK, as_of=AS_OF)
    assert model.recommend(["new"], k=6, exclude_purchased=True)["new"][0] == "filter"
    assert "mug" in model.recommend(["new"], k=6)["new"]  # not bought as of AS_OF


def test_k_and_determinism() -> None:
    model = Recommender.from_purchases(HISTORY, STOCK, as_of=AS_OF)
    first = model.recommend(["a", "d", "stranger"], k=3)
    assert first == model.recommend(["stranger", "d", "a"], k=3)
    assert all(len(skus) == 3 for skus in first.values())


def test_fit_reads_the_shops_orders(engine: Engine, shop: ShopFactory) -> None:
    # given two customers who bought beans with a filter, and a third with only beans
    for sku in ("beans", "filter", "mug"):
        shop.product(sku)
    orders = {}
    for customer in ("a", "b", "c"):
        shop.customer(customer)
        orders[customer] = shop.order(customer, RECENT)
    with engine.begin() as connection:
        connection.execute(insert(OrderItem), [
            {"order_id": orders[c], "sku": s, "quantity": 1, "unit_price_cents": 100}
            for c, s in (("a", "beans"), ("a", "filter"), ("b", "beans"), ("b", "filter"),
                         ("c", "beans"))
        ])  # fmt: skip
        model = Recommender.fit(connection, as_of=AS_OF)
    # then c is offered the filter first
    assert model.recommend(["c"], k=1) == {"c": ["filter"]}
