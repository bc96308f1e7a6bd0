"""`leal serve` under the public attack corpora: every payload through every field of every
event kind and every Twilio form field (validly signed). Never a 500; a refused event writes
nothing; what is accepted is stored as sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator

from campaigns.config import Settings
from campaigns.loader import Config
from shop.csv_rows import COLUMNS, OPTIONAL
from shop.db import make_engine
from shop.models import CartEvent, Customer, Order, Product
from shop.suppressions import described_suppressions
from templates.unsubscribe import SECRET_ENV, Signer
from tests.factories import ShopFactory
from tests.hostile.corpora import crlf_payloads, naughty_strings, xss_payloads
from workers.channels.twilio_sms import TOKEN_ENV
from workers.web import EVENTS_TOKEN_ENV, create_app

PUBLIC = "https://leal.cafe.example"
TWILIO = "twilio-test-token"
BEARER = {"Authorization": f"Bearer {'e' * 24}"}
KEYS = {"customer": (Customer, Customer.id, "customer_id"),
        "product": (Product, Product.sku, "sku"),
        "order": (Order, Order.id, "order_id"),
        "cart": (CartEvent, CartEvent.cart_id, "cart_id")}  # fmt: skip
FIELDS = {"customer": COLUMNS["customers"], "product": COLUMNS["products"],
          "order": (*COLUMNS["orders"], *OPTIONAL["orders"]),
          "cart": COLUMNS["cart_events"]}  # fmt: skip


def _payloads() -> list[str]:
    """Every payload that can travel in a request (the CRLF corpus holds raw bytes)."""
    every = naughty_strings() + xss_payloads() + crlf_payloads()
    return [text for text in dict.fromkeys(every) if _utf8(text)]


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@pytest.fixture
def client(engine: Engine, settings: Settings, shop: ShopFactory) -> TestClient:
    shop.customer("ana", phone="+34600000001")
    shop.product("mug", price_cents=100)
    config = Config(Settings(**(settings.model_dump() | {"web": {"public_url": PUBLIC}})), None)
    environ = {EVENTS_TOKEN_ENV: "e" * 24, SECRET_ENV: "s" * 32, TOKEN_ENV: TWILIO}
    return TestClient(create_app(config, engine, environ=environ), raise_server_exceptions=False)


def _events(kind: str, payloads: list[str]) -> Iterator[dict[str, object]]:
    """Events whose every field holds a payload, until each payload has been in one field;
    orders also carry an item made of payloads."""
    fields = FIELDS[kind]
    stream = iter(payloads)
    while chunk := list(islice(stream, len(fields))):
        event: dict[str, object] = dict(zip(fields, chunk, strict=False))
        if kind == "order":
            event["items"] = [dict(zip(COLUMNS["order_items"], chunk[::-1], strict=False))]
        yield event


@pytest.mark.parametrize("kind", list(KEYS))
def test_payloads_in_every_event_field_never_500_and_refusals_write_nothing(
    client: TestClient, engine: Engine, kind: str
) -> None:
    _, key, field = KEYS[kind]
    with engine.connect() as connection:
        before = set(connection.scalars(select(key)))
    accepted, statuses = set(), set()
    for event in _events(kind, _payloads()):
        answer = client.post(f"/events/{kind}", content=json.dumps(event), headers=BEARER)
        statuses.add(answer.status_code)
        assert answer.status_code in (200, 422), (event, answer.text)
        if answer.status_code == 200:
            accepted.add(str(event[field]))
    with engine.connect() as connection:
        after = set(connection.scalars(select(key)))
    assert after - before <= accepted
    assert 422 in statuses


def test_markup_in_a_product_name_is_stored_exactly_as_sent(
    client: TestClient, engine: Engine
) -> None:
    payloads = [text for text in xss_payloads() + crlf_payloads() if _utf8(text)]
    accepted = {}
    for number, text in enumerate(payloads):
        event = {
            "sku": f"p{number}",
            "name": text,
            "category": "c",
            "price": "1.00",
            "in_stock": True,
        }
        answer = client.post("/events/product", json=event, headers=BEARER)
        assert answer.status_code in (200, 422), answer.text
        if answer.status_code == 200:
            accepted[f"p{number}"] = text
    with engine.connect() as connection:
        stored = {sku: name for sku, name in connection.execute(select(Product.sku, Product.name))}
    assert stored == accepted | {"mug": "mug"}
    assert len(accepted) > len(payloads) // 2


def _signed(client: TestClient, path: str, form: dict[str, str]) -> int:
    signature = RequestValidator(TWILIO).compute_signature(f"{PUBLIC}{path}", form)
    answer = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    return int(answer.status_code)


def test_payloads_in_every_twilio_field_never_500_and_touch_no_one(
    client: TestClient, engine: Engine
) -> None:
    for number, text in enumerate(_payloads()):
        # every other payload comes from a well-formed number, so its Body is acted on
        sender = text if number % 2 else "+34600000002"
        inbound = {"From": sender, "To": text, "Body": text, "MessageSid": text}
        assert _signed(client, "/twilio/inbound", inbound) in (200, 400), text
        status = {"MessageSid": text, "MessageStatus": text, "ErrorCode": text, "To": text}
        assert _signed(client, "/twilio/status", status) in (204, 400), text
    with engine.connect() as connection:
        assert connection.scalar(select(Customer.sms_opt_in).where(Customer.id == "ana"))
        stopped = described_suppressions(connection)
    # only the well-formed number could be opted out, by a payload that spells STOP
    assert {address for _, address, _ in stopped} <= {"+34600000002"}


def test_payloads_as_unsubscribe_tokens_are_403() -> None:
    # no database: a token is refused before anything is looked up
    environ = {SECRET_ENV: "s" * 32}
    client = TestClient(create_app(Config(Settings(), None), make_engine("sqlite://"),
                                   environ=environ))  # fmt: skip
    valid = Signer(b"s" * 32).token("ana", "email")
    for text in filter(None, _payloads()):
        for token in (text, f"{valid}{text}"):
            path = f"/unsubscribe/{quote(token, safe='')}"  # the payload, not a query string
            answer = client.post(path, data={"List-Unsubscribe": "One-Click"})
            assert answer.status_code in (403, 404, 405), (token, answer.status_code)
