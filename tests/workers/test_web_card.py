"""GET /card/{token}: the customer's loyalty card in `leal serve`, in five languages, behind
a signed link that reveals nothing once the customer is erased."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine, insert

from campaigns.config import Settings
from campaigns.loader import Config
from shop.db import writer
from shop.models import Coupon, Customer
from shop.privacy import erase_customer
from templates.links import SurveyMoment, card_token, card_url, survey_token
from templates.sandbox import format_money
from templates.tiers import tier_name
from templates.unsubscribe import SECRET_ENV, Signer
from tests.factories import MADRID, ShopFactory
from tests.hostile.corpora import naughty_strings, ssti_payloads, xss_payloads
from tests.reports.test_render import Page
from workers.web import create_app, route_status
from workers.web_card import WORDS
from workers.web_guard import RedactTokens
from workers.web_pages import CSP
from workers.web_pages import WORDS as LINK_WORDS

SIGNER = Signer(b"k" * 32)
PUBLIC = "https://leal.cafe.example"
SHOP_URL = "https://cafe.example"


def _settings(settings: Settings, **shop: object) -> Settings:
    dump = settings.model_dump()
    return Settings(**(dump | {"web": {"public_url": PUBLIC},
                               "shop": dump["shop"] | {"url": SHOP_URL} | shop}))  # fmt: skip


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    return TestClient(create_app(Config(_settings(settings), None), engine, SIGNER))


def _today() -> date:
    return datetime.now(MADRID).date()


def _card(client: TestClient, customer_id: str, signer: Signer = SIGNER) -> tuple[int, str]:
    answer = client.get(f"/card/{card_token(signer, customer_id)}")
    return answer.status_code, answer.text


def _member(shop: ShopFactory, engine: Engine, customer_id: str, **fields: object) -> date:
    """A customer with two orders (1,500 + 250 points: Gold) and a reward coupon; the
    first order's shop-local date."""
    shop.customer(customer_id, **fields)
    first = datetime.now(UTC) - timedelta(days=40)
    shop.order(customer_id, first, total_cents=150000)
    shop.order(customer_id, first + timedelta(days=10), total_cents=25050)
    with engine.begin() as connection:
        connection.execute(insert(Coupon), {
            "code": f"RW-{customer_id.upper()}", "campaign": "rewards",
            "customer_id": customer_id, "occasion": "reward:x", "percent_off": 10,
            "free_shipping": False, "expires_on": _today() + timedelta(days=20),
            "created_at": datetime.now(UTC), "points_cost": 100,
        })  # fmt: skip
    return first.astimezone(MADRID).date()


@pytest.mark.parametrize("locale", ["en", "es", "ca", "it", "ro"])
def test_the_card_speaks_the_customer_s_language(
    client: TestClient, engine: Engine, shop: ShopFactory, locale: str
) -> None:
    # given a member with 1,750 points and a reward coupon, in her language
    ordered_on = _member(shop, engine, "ana", locale=locale)
    # when she opens her card's link
    status, page = _card(client, "ana")
    # then it is hers, in her language: words, tier, money, dates
    assert status == 200
    assert f'<html lang="{locale}">' in page
    words = WORDS[locale]
    for key in ("title", "balance", "tier", "rewards", "expiring", "orders"):
        assert str(escape(words[key])) in page, key
    assert str(escape(tier_name("gold", locale))) in page
    assert str(escape(format_money(150000, "EUR", locale))) in page
    assert str(escape(format_date(ordered_on, format="medium", locale=locale))) in page
    assert "RW-ANA" in page and "Leal Demo Shop" in page


def test_without_a_language_of_her_own_the_shop_s_is_used(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a shop that speaks Catalan, a customer without a locale and one in French
    app = TestClient(create_app(Config(_settings(settings, default_locale="ca"), None), engine,
                                SIGNER))  # fmt: skip
    _member(shop, engine, "ana", locale=None)
    _member(shop, engine, "jean", locale="fr")
    # then both cards are in Catalan
    for customer in ("ana", "jean"):
        status, page = _card(app, customer)
        assert status == 200 and '<html lang="ca">' in page and WORDS["ca"]["title"] in page


def test_the_page_shows_the_numbers(client: TestClient, engine: Engine, shop: ShopFactory) -> None:
    # given 1,500 + 250 points earned and a reward coupon (English)
    _member(shop, engine, "ana", locale="en")
    _, page = _card(client, "ana")
    # then the balance, what it buys, the tier and the coupon are on the page
    assert "1,750 points" in page and "Worth 17 rewards of 10% off." in page
    assert "50 points more for your next reward." in page
    assert "You are at our highest level." in page
    assert "+1,500" in page and "+250" in page


def test_a_forged_or_altered_token_is_403_with_neutral_words(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    _member(shop, engine, "ana")
    good = card_token(SIGNER, "ana")
    altered = card_token(SIGNER, "bo").split(".")[0] + "." + good.split(".")[1]
    for token in (card_token(Signer(b"x" * 32), "ana"), altered, "nonsense", good + "A"):
        answer = client.get(f"/card/{token}")
        assert answer.status_code == 403
        assert LINK_WORDS["en"]["invalid"] in answer.text and "Ana" not in answer.text


def test_a_token_made_for_another_purpose_opens_no_card(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given Ana's survey link, her unsubscribe link, and a survey-purpose token of one field
    _member(shop, engine, "ana")
    others = (
        survey_token(SIGNER, SurveyMoment("ana", "nps", "survey:o1")),
        SIGNER.token("ana", "email"),
        SIGNER.sign("survey", "ana"),
    )
    # then none of them opens her card
    for token in others:
        assert client.get(f"/card/{token}").status_code == 403


def test_an_erased_customer_s_link_is_a_dead_link_byte_for_byte(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given Ana (Italian) erased, and a link to a customer that never existed
    _member(shop, engine, "ana", locale="it")
    assert _card(client, "ana")[0] == 200
    with writer(engine).begin() as connection:
        erase_customer(connection, "ana", datetime.now(UTC))
    erased = client.get(f"/card/{card_token(SIGNER, 'ana')}")
    unknown = client.get(f"/card/{card_token(SIGNER, 'nobody')}")
    # then both answer 404 with the same bytes, in the shop's language, naming no one
    assert erased.status_code == unknown.status_code == 404
    assert erased.content == unknown.content
    assert LINK_WORDS["en"]["gone"] in erased.text and "RW-ANA" not in erased.text
    assert '<html lang="en">' in erased.text


def test_every_answer_carries_the_shell_s_headers(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    _member(shop, engine, "ana")
    for token in (card_token(SIGNER, "ana"), "forged", card_token(SIGNER, "nobody")):
        headers = client.get(f"/card/{token}").headers
        assert headers["Content-Security-Policy"] == CSP
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Robots-Tag"] == "noindex, nofollow"


def test_the_page_loads_nothing_and_links_only_the_shop(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    _member(shop, engine, "ana")
    _, page = _card(client, "ana")
    assert re.findall(r"https?://[^\s\"'<>]*", page) == [SHOP_URL]
    parsed = Page(page)
    assert not parsed.named("script") and not parsed.named("img")
    assert parsed.named("link") == [{"rel": "icon", "href": "data:,"}]  # no favicon request
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)


def test_without_the_secret_key_the_card_is_off(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given no LEAL_SECRET_KEY
    _member(shop, engine, "ana")
    config = Config(_settings(settings), None)
    app = TestClient(create_app(config, engine, environ={SECRET_ENV: ""}))
    # then the card is 503 and `leal serve` says why
    answer = app.get(f"/card/{card_token(Signer(b's' * 32), 'ana')}")
    assert answer.status_code == 503 and SECRET_ENV in answer.json()["detail"]
    card = next(group for group in route_status(config, {}) if group.paths == "/card/*")
    assert not card.on and SECRET_ENV in card.why
    on = next(group for group in route_status(config, {SECRET_ENV: "s" * 32})
              if group.paths == "/card/*")  # fmt: skip
    assert on.on


def test_the_card_url_opens_the_card(client: TestClient, engine: Engine, shop: ShopFactory) -> None:
    _member(shop, engine, "ana")
    url = card_url(PUBLIC, SIGNER, "ana")
    assert url.startswith(f"{PUBLIC}/card/")
    assert client.get(url.removeprefix(PUBLIC)).status_code == 200


def test_the_access_log_never_holds_a_card_token() -> None:
    token = card_token(SIGNER, "ana")
    line = ("1.2.3.4", "GET", f"/card/{token}?x=1", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', line, None)  # fmt: skip
    RedactTokens().filter(record)
    assert record.getMessage() == '1.2.3.4 - "GET /card/<token>?<redacted> HTTP/1.1" 200'


def _hostile_names() -> list[str]:
    """Every corpus string a first name can hold (100 characters, no NUL: PostgreSQL)."""
    every = xss_payloads() + ssti_payloads() + naughty_strings()
    names = (text[:100] for text in every if text.strip() and "\x00" not in text)
    return [name for name in dict.fromkeys(names) if _utf8(name)]


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_hostile_names_stay_text(engine: Engine, settings: Settings, shop: ShopFactory) -> None:
    # given a shop and customers named with every payload of the attack corpora
    names = _hostile_names()
    hostile_shop = "<script>alert(1)</script>{{ 7*7 }}"
    app = TestClient(create_app(Config(_settings(settings, name=hostile_shop), None), engine,
                                SIGNER))  # fmt: skip
    shop.customer("plain", first_name="Ana", locale="en")
    with engine.begin() as connection:
        connection.execute(insert(Customer), [
            {"id": f"h{index}", "first_name": name, "locale": "en", "email_opt_in": False,
             "sms_opt_in": False} for index, name in enumerate(names)
        ])  # fmt: skip
    baseline = Page(_card(app, "plain")[1]).tags
    # then every card has the plain card's markup, the name printed as text
    for index, name in enumerate(names):
        status, page = _card(app, f"h{index}")
        assert status == 200, name
        assert Page(page).tags == baseline, name
        assert str(escape(name)) in page, name
    assert "{{ 7*7 }}" in _card(app, "plain")[1] and "<script>" not in _card(app, "plain")[1]
