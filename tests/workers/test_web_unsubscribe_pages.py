"""The unsubscribe pages of `leal serve` speak the customer's language and carry the shop's
name, in the pages' shell; the RFC 8058 behaviour is unchanged (tests/workers/test_web.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine

from campaigns.config import Settings
from campaigns.loader import Config
from templates.unsubscribe import Signer
from tests.factories import ShopFactory
from tests.reports.test_render import Page
from workers.web import create_app
from workers.web_pages import CSP
from workers.web_pages import WORDS as LINK_WORDS
from workers.web_words import UNSUBSCRIBE

SIGNER = Signer(b"k" * 32)
SHOP = "Cafè del Born"


def _client(engine: Engine, settings: Settings, **shop: object) -> TestClient:
    dump = settings.model_dump()
    config = Settings(**(dump | {"shop": dump["shop"] | {"name": SHOP} | shop}))
    return TestClient(create_app(Config(config, None), engine, SIGNER))


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    return _client(engine, settings)


def _said(text: str) -> str:
    return str(escape(text))


@pytest.mark.parametrize("locale", ["en", "es", "ca", "it", "ro"])
@pytest.mark.parametrize("channel", ["email", "sms"])
def test_both_pages_speak_the_customer_s_language(
    client: TestClient, shop: ShopFactory, locale: str, channel: str
) -> None:
    # given a customer in this language
    ana = shop.customer("ana", locale=locale)
    url = f"/unsubscribe/{SIGNER.token(ana, channel)}"
    words = UNSUBSCRIBE[locale]
    # when she opens her unsubscribe link
    page = client.get(url)
    # then the question names the channel and the shop, in her language, with the form
    assert page.status_code == 200 and f'<html lang="{locale}">' in page.text
    assert _said(words[f"ask_{channel}"].format(shop=SHOP)) in page.text
    assert _said(words["button"]) in page.text and '<form method="post">' in page.text
    # when she confirms
    done = client.post(url, data={"List-Unsubscribe": "One-Click"})
    # then the page says so in her language
    assert done.status_code == 200 and f'<html lang="{locale}">' in done.text
    assert _said(words["done"]) in done.text and _said(words[f"done_{channel}"]) in done.text


def test_catalan_and_romanian_say_it_their_way(client: TestClient, shop: ShopFactory) -> None:
    marta, ioana = shop.customer("marta", locale="ca_ES"), shop.customer("ioana", locale="ro")
    catalan = client.get(f"/unsubscribe/{SIGNER.token(marta, 'email')}").text
    romanian = client.get(f"/unsubscribe/{SIGNER.token(ioana, 'sms')}").text
    assert "Vols deixar de rebre correus de Cafè del Born?" in catalan
    assert "Dona&#39;m de baixa" in catalan
    assert "Nu mai vrei SMS-uri de la Cafè del Born?" in romanian
    assert "Dezabonează-mă" in romanian
    done = client.post(f"/unsubscribe/{SIGNER.token(ioana, 'sms')}",
                       data={"List-Unsubscribe": "One-Click"})  # fmt: skip
    assert "Te-ai dezabonat." in done.text and "Nu vei mai primi SMS-uri de la noi." in done.text


def test_without_a_language_of_her_own_the_shop_s_is_used(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    client = _client(engine, settings, default_locale="it")
    for customer, locale in (("ana", None), ("jean", "fr")):
        token = SIGNER.token(shop.customer(customer, locale=locale), "email")
        page = client.get(f"/unsubscribe/{token}").text
        assert '<html lang="it">' in page and _said(UNSUBSCRIBE["it"]["button"]) in page


def test_the_pages_are_the_shell_s(client: TestClient, shop: ShopFactory) -> None:
    url = f"/unsubscribe/{SIGNER.token(shop.customer('ana', locale='en'), 'email')}"
    for answer in (client.get(url), client.post(url, data={"List-Unsubscribe": "One-Click"})):
        assert answer.headers["Content-Security-Policy"] == CSP
        assert answer.headers["Cache-Control"] == "no-store"
        parsed = Page(answer.text)
        assert parsed.title.strip() in (f"Unsubscribe · {SHOP}", f"You are unsubscribed. · {SHOP}")
        assert not parsed.named("script") and not parsed.named("img")


def test_a_forged_token_gets_the_neutral_page(client: TestClient, shop: ShopFactory) -> None:
    shop.customer("ana", locale="ro")
    forged = Signer(b"x" * 32).token("ana", "email")
    one_click = {"List-Unsubscribe": "One-Click"}
    for answer in (client.get(f"/unsubscribe/{forged}"),
                   client.post(f"/unsubscribe/{forged}", data=one_click)):  # fmt: skip
        assert answer.status_code == 403
        assert LINK_WORDS["en"]["invalid"] in answer.text and '<html lang="en">' in answer.text


def test_a_hostile_shop_name_stays_text(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    attack = "<script>alert(1)</script>{{ 7*7 }}"
    client = _client(engine, settings, name=attack)
    page = client.get(f"/unsubscribe/{SIGNER.token(shop.customer('ana'), 'email')}").text
    assert "<script>" not in page and str(escape(attack)) in page
