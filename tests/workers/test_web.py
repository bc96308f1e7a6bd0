"""`leal serve`: one-click unsubscribe (RFC 8058) and Twilio's inbound webhook."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select
from twilio.request_validator import RequestValidator

from campaigns.config import Settings
from campaigns.loader import Config
from shop.models import Customer, CustomerStats, LedgerEntry, OutboxMessage
from shop.suppressions import described_suppressions
from templates.unsubscribe import Signer
from tests.factories import ShopFactory
from workers.channels.twilio_sms import TOKEN_ENV
from workers.web import create_app

SIGNER = Signer(b"k" * 32)
PUBLIC = "https://leal.cafe.example"
TWILIO_TOKEN = "twilio-test-token"


@pytest.fixture
def client(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv(TOKEN_ENV, TWILIO_TOKEN)
    config = Config(Settings(**(settings.model_dump() | {"web": {"public_url": PUBLIC}})), None)
    return TestClient(create_app(config, engine, SIGNER))


def _customer(engine: Engine, customer_id: str) -> tuple[bool, bool]:
    with engine.connect() as connection:
        row = connection.execute(
            select(Customer.email_opt_in, Customer.sms_opt_in).where(Customer.id == customer_id)
        ).one()
    return bool(row[0]), bool(row[1])


def _suppressed(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = described_suppressions(connection)
        return sorted((channel, address) for channel, address, _ in rows)


def test_a_get_only_asks_and_a_one_click_post_unsubscribes(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    ana = shop.customer("ana")
    url = f"/unsubscribe/{SIGNER.token(ana, 'email')}"
    # when a link scanner GETs the link, nothing changes
    page = client.get(url)
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert _customer(engine, ana) == (True, True)
    # when the mail client POSTs the RFC 8058 one-click body
    done = client.post(url, data={"List-Unsubscribe": "One-Click"})
    # then Ana's email is off and suppressed, her SMS untouched
    assert done.status_code == 200
    assert _customer(engine, ana) == (False, True)
    assert _suppressed(engine) == [("email", "ana@example.com")]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_altered_token_is_refused(
    client: TestClient, engine: Engine, shop: ShopFactory, method: str
) -> None:
    ana = shop.customer("ana")
    forged = Signer(b"x" * 32).token(ana, "email")
    altered = (
        SIGNER.token("bo", "email").split(".")[0] + "." + SIGNER.token(ana, "email").split(".")[1]
    )
    for token in (forged, altered, "nonsense"):
        url = f"/unsubscribe/{token}"
        if method == "post":
            answer = client.post(url, data={"List-Unsubscribe": "One-Click"})
        else:
            answer = client.get(url)
        assert answer.status_code == 403
    assert _customer(engine, ana) == (True, True) and _suppressed(engine) == []


def _twilio(client: TestClient, path: str, form: dict[str, str], token: str = TWILIO_TOKEN) -> int:
    signature = RequestValidator(token).compute_signature(f"{PUBLIC}{path}", form)
    answer = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    return int(answer.status_code)


def _inbound(client: TestClient, body: str, token: str = TWILIO_TOKEN) -> int:
    form = {"From": "+34600000000", "To": "+34900000000", "Body": body, "MessageSid": "SM1"}
    return _twilio(client, "/twilio/inbound", form, token)


@pytest.mark.parametrize("body", ["STOP", " stop ", "Stop.", "unsubscribe!", "End", "QUIT",
                                  "stopall", "REVOKE", "optout", "Cancel"])  # fmt: skip
def test_stop_words_opt_the_number_out(
    client: TestClient, engine: Engine, shop: ShopFactory, body: str
) -> None:
    ana = shop.customer("ana")
    assert _inbound(client, body) == 200
    assert _customer(engine, ana) == (True, False)
    assert _suppressed(engine) == [("sms", "+34600000000")]


def test_start_opts_back_in_and_help_or_chat_change_nothing(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    ana = shop.customer("ana")
    assert _inbound(client, "STOP") == 200
    assert _inbound(client, "HELP") == 200 and _customer(engine, ana) == (True, False)
    assert _inbound(client, "start") == 200
    assert _customer(engine, ana) == (True, True) and _suppressed(engine) == []
    assert _inbound(client, "please stop sending at night") == 200
    assert _customer(engine, ana) == (True, True)


def test_a_forged_twilio_signature_is_refused_and_changes_nothing(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    ana = shop.customer("ana")
    assert _inbound(client, "STOP", token="not-our-token") == 403
    assert _customer(engine, ana) == (True, True) and _suppressed(engine) == []


def test_status_callbacks_record_what_became_of_a_sent_sms(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given two SMS the ledger shows sent, with Twilio's ids
    ana, bo = shop.customer("ana"), shop.customer("bo", phone="+34600000009")
    now = datetime(2026, 6, 15, 8, tzinfo=UTC)
    with engine.begin() as connection:
        for customer, sid in ((ana, "SMa"), (bo, "SMb")):
            connection.execute(insert(OutboxMessage), {
                "campaign": "birthday", "trigger": "birthday", "customer_id": customer,
                "channel": "sms", "occasion": "birthday:2026", "status": "sent",
                "context": {}, "run_date": now.date(), "due_at": now, "created_at": now,
                "updated_at": now, "provider_id": sid,
            })  # fmt: skip
    # when Twilio reports one delivered and the other undeliverable (30006, not a mobile)
    delivered = {"MessageSid": "SMa", "MessageStatus": "delivered", "To": "+34600000000"}
    lost = {"MessageSid": "SMb", "MessageStatus": "undelivered", "ErrorCode": "30006",
            "To": "+34600000009"}  # fmt: skip
    forged = _twilio(client, "/twilio/status", lost, token="not-ours")
    answers = [_twilio(client, "/twilio/status", form) for form in (delivered, lost)]
    # then the ledger says so, the bad number is suppressed, a forged callback did nothing
    assert forged == 403 and answers == [204, 204]
    with engine.connect() as connection:
        rows = connection.execute(select(OutboxMessage.provider_id, OutboxMessage.status,
                                         OutboxMessage.detail)).all()  # fmt: skip
    assert sorted(tuple(row) for row in rows) == [
        ("SMa", "sent", "twilio delivered"),
        ("SMb", "failed", "twilio undelivered 30006"),
    ]
    assert _suppressed(engine) == [("sms", "+34600000009")]


EVENTS = {"Authorization": "Bearer events-token-for-tests"}


@pytest.fixture
def events(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("LEAL_EVENTS_TOKEN", "events-token-for-tests")
    return client


def test_an_order_event_books_points_and_refreshes_the_summary(
    events: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given a customer and a product
    ana = shop.customer("ana")
    shop.product("mug", price_cents=1250)
    items = [{"sku": "mug", "quantity": 2, "unit_price": "12.50"}]
    order = {"order_id": "o-77", "customer_id": ana, "ordered_at": "2026-06-14T10:00:00Z",
             "total": "25.00", "items": items}  # fmt: skip
    # when the shop posts the order twice (a retried webhook)
    first = events.post("/events/order", json=order, headers=EVENTS)
    again = events.post("/events/order", json=order, headers=EVENTS)
    # then it is booked once: 25 points, and Ana's summary knows her last order
    assert (first.status_code, again.status_code) == (200, 200)
    with engine.connect() as connection:
        points = connection.scalars(select(LedgerEntry.points)).all()
        stats = connection.execute(
            select(CustomerStats.order_count, CustomerStats.last_order_on)
        ).one()
    assert points == [25]
    assert tuple(stats) == (1, date(2026, 6, 14))


def test_a_bad_event_is_refused_with_the_reason_and_writes_nothing(
    events: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    answer = events.post("/events/cart", headers=EVENTS, json={
        "cart_id": "k1", "customer_id": "ghost", "sku": "mug", "quantity": 1,
        "at": "2026-06-14T10:00:00Z"})  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["detail"] == ["cart_events: unknown customer_id 'ghost'"]
    unknown = events.post("/events/refund", headers=EVENTS, json={})
    assert unknown.status_code == 422


def test_events_need_the_token(events: TestClient, engine: Engine) -> None:
    customer = {"customer_id": "zoe", "first_name": "Zoe", "last_name": "Li",
                "email_opt_in": False, "sms_opt_in": False}  # fmt: skip
    assert events.post("/events/customer", json=customer).status_code == 403
    wrong = {"Authorization": "Bearer nope"}
    assert events.post("/events/customer", json=customer, headers=wrong).status_code == 403
    assert events.post("/events/customer", json=customer, headers=EVENTS).status_code == 200
    with engine.connect() as connection:
        assert connection.scalars(select(Customer.id)).all() == ["zoe"]


def test_stop_finds_its_owner_however_the_shop_spelt_the_number(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given Ana's number written with spaces, as a row written around the importer may be
    ana = shop.customer("ana", phone="+34 600 00 00 00")
    # when Twilio forwards her STOP, From in E.164 as always
    assert _inbound(client, "STOP") == 200
    # then her SMS consent is off, not only the suppression written
    assert _customer(engine, ana) == (True, False)


def test_an_opt_in_event_over_an_unsubscribe_is_applied_with_a_warning(
    events: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given Ana unsubscribed from emails through Leal's one-click link
    ana = shop.customer("ana")
    url = f"/unsubscribe/{SIGNER.token(ana, 'email')}"
    assert events.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    # when the shop's system posts her profile again with email_opt_in=true
    profile = {"customer_id": ana, "email": "ana@example.com", "first_name": "Ana",
               "email_opt_in": True, "sms_opt_in": True}  # fmt: skip
    answer = events.post("/events/customer", json=profile, headers=EVENTS)
    # then the event is applied (200, not a 422 a webhook would retry), her opt-out kept,
    # and the answer says why
    assert answer.status_code == 200, answer.text
    assert any("email_opt_in=true ignored" in w for w in answer.json()["warnings"])
    assert _customer(engine, ana) == (False, True)
