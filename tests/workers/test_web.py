"""`leal serve`: one-click unsubscribe (RFC 8058) and Twilio's inbound webhook."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator

from campaigns.config import Settings
from campaigns.loader import Config
from shop.models import Customer, Suppression
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
        rows = connection.execute(select(Suppression.channel, Suppression.address))
        return sorted((channel, address) for channel, address in rows)


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


def _inbound(
    client: TestClient, body: str, number: str = "+34600000000", token: str = TWILIO_TOKEN
) -> int:
    form = {"From": number, "To": "+34900000000", "Body": body, "MessageSid": "SM" + "0" * 32}
    signature = RequestValidator(token).compute_signature(f"{PUBLIC}/twilio/inbound", form)
    answer = client.post("/twilio/inbound", data=form, headers={"X-Twilio-Signature": signature})
    return int(answer.status_code)


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
