"""Malformed event payloads are 422 with the reason, never 500, and write nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select

from campaigns.config import Settings
from campaigns.loader import Config
from shop.models import Coupon, Order, OrderItem, Product
from templates.unsubscribe import SECRET_ENV
from tests.factories import ShopFactory
from workers.web import EVENTS_TOKEN_ENV, create_app

BEARER = {"Authorization": f"Bearer {'e' * 24}", "Content-Type": "application/json"}
ORDER = ('{"order_id": "o1", "customer_id": "ana", "ordered_at": "2026-06-14T10:00:00Z", '
         '"total": "1.00", "items": %s}')  # fmt: skip
ITEM = '{"sku": "mug", "quantity": 1, "unit_price": "1.00"}'


@pytest.fixture
def client(engine: Engine, settings: Settings, shop: ShopFactory) -> TestClient:
    shop.customer("ana")
    shop.product("mug", price_cents=100)
    environ = {EVENTS_TOKEN_ENV: "e" * 24, SECRET_ENV: "s" * 32}
    return TestClient(create_app(Config(settings, None), engine, environ=environ))


MALFORMED = {
    "items-null": ("order", ORDER % "null"),
    "items-object": ("order", ORDER % ITEM),
    "items-string": ("order", ORDER % '"mug"'),
    "item-not-object": ("order", ORDER % "[1]"),
    "item-nested-value": ("order", ORDER % '[{"sku": ["mug"], "quantity": 1}]'),
    "items-on-a-product": ("product", '{"sku": "cup", "items": []}'),
    "body-a-list": ("product", "[1]"),
    "body-null": ("product", "null"),
    "body-a-string": ("product", '"sku"'),
    "not-json": ("product", "{"),
    "not-utf8": ("product", b'{"sku": "\xff"}'),
    "nested-object": ("product", '{"sku": {"a": 1}, "name": "x"}'),
    "nested-list": ("product", '{"sku": "cup", "name": ["x"]}'),
    "huge-integer": ("product", '{"sku": "cup", "price": ' + "9" * 5000 + "}"),
    "huge-float": ("product", '{"sku": "cup", "price": 1e999}'),
    "nan": ("product", '{"sku": "cup", "price": NaN}'),
    "infinity": ("product", '{"sku": "cup", "price": -Infinity}'),
    "deep-nesting": ("product", '{"sku": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "lone-surrogate-value": ("product", '{"sku": "\\ud800"}'),
    "lone-surrogate-name": ("product", '{"\\udfff": "x"}'),
    "unknown-kind": ("refund", "{}"),
}


@pytest.mark.parametrize(("kind", "body"), MALFORMED.values(), ids=MALFORMED)
def test_a_malformed_event_is_422_and_writes_nothing(
    client: TestClient, engine: Engine, kind: str, body: str | bytes
) -> None:
    # when the shop posts a malformed event
    answer = client.post(f"/events/{kind}", content=body, headers=BEARER)
    # then it is refused with a reason in JSON, and nothing was written
    assert answer.status_code == 422, answer.text
    assert isinstance(answer.json()["detail"], list)
    with engine.connect() as connection:
        counts = [connection.scalar(select(func.count()).select_from(table))
                  for table in (Order, OrderItem)]  # fmt: skip
        products = connection.scalars(select(Product.sku)).all()
    assert counts == [0, 0] and products == ["mug"]


def test_a_well_formed_order_with_items_still_applies(client: TestClient) -> None:
    answer = client.post("/events/order", content=ORDER % f"[{ITEM}]", headers=BEARER)
    assert answer.status_code == 200, answer.text


def test_an_order_event_carries_its_coupon_and_discount_and_redeems_the_coupon(
    client: TestClient, engine: Engine
) -> None:
    # given a coupon Leal issued to Ana
    with engine.begin() as connection:
        connection.execute(insert(Coupon), {
            "code": "ANAAA-CODE2", "campaign": "birthday", "customer_id": "ana",
            "occasion": "2026", "percent_off": 10, "free_shipping": False,
            "expires_on": date(2026, 6, 30), "created_at": datetime(2026, 6, 1, tzinfo=UTC),
        })  # fmt: skip
    order = json.loads(ORDER % f"[{ITEM}]") | {"coupon_code": "anaaa-code2", "discount": 0.25}
    # when the shop posts an order with the code and a discount (a JSON number)
    answer = client.post("/events/order", json=order, headers=BEARER)
    # then it applies, the order keeps both, and the coupon is redeemed by it
    assert answer.status_code == 200, answer.text
    with engine.connect() as connection:
        stored = connection.execute(select(Order.coupon_code, Order.discount_cents)).one()
        coupon = connection.execute(select(Coupon.redeemed_order_id, Coupon.redeemed_at)).one()
    assert tuple(stored) == ("ANAAA-CODE2", 25)
    assert tuple(coupon) == ("o1", datetime(2026, 6, 14, 10, tzinfo=UTC))


def test_an_order_event_with_a_bad_discount_is_422_and_writes_nothing(
    client: TestClient, engine: Engine
) -> None:
    order = json.loads(ORDER % "[]") | {"discount": "-1.00"}
    answer = client.post("/events/order", json=order, headers=BEARER)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == ["orders: discount '-1.00' is negative"]
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Order)) == 0
