"""The survey pages of `leal serve`: a GET (a person or a link scanner) never records an
answer, only the page's CSRF-safe POST does; clicks that look like a scanner are flagged;
the pages speak the customer's language; hostile input stays data."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine, func, select

from campaigns.config import Settings
from campaigns.loader import Config
from shop.db import writer
from shop.models import LedgerEntry, SurveyClick, SurveyResponse
from shop.privacy import erase_customer
from shop.surveys import MAX_COMMENT, clean_comment
from templates.links import SurveyMoment, card_token, survey_token
from templates.surveys import cli_questions, question, scale_labels
from templates.unsubscribe import SECRET_ENV, Signer
from tests.factories import ShopFactory
from tests.hostile.corpora import naughty_strings, ssti_payloads, xss_payloads
from tests.reports.test_render import Page
from tests.shop.test_surveys import OCCASION, sent, survey_settings
from workers import web_survey
from workers.web import create_app, route_status
from workers.web_guard import RedactTokens
from workers.web_pages import CSP
from workers.web_pages import WORDS as LINK_WORDS
from workers.web_survey import COOKIE
from workers.web_words import WORDS

SIGNER = Signer(b"k" * 32)
PUBLIC = "https://leal.cafe.example"
SHOP = "Cafè del Born"
SENT_AT = datetime(2026, 6, 15, 8, tzinfo=UTC)
LATER = SENT_AT + timedelta(hours=3)  # a person, reading the email over lunch


class Clock:
    """The instant workers.web_survey sees."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = LATER
        monkeypatch.setattr(web_survey, "_now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def _settings(settings: Settings, **shop: Any) -> Settings:
    dump = settings.model_dump()
    return survey_settings(settings, web={"public_url": PUBLIC},
                           shop=dump["shop"] | {"name": SHOP} | shop)  # fmt: skip


def _client(engine: Engine, settings: Settings) -> TestClient:
    """A browser on the public address (https: the cookie is Secure)."""
    return TestClient(create_app(Config(settings, None), engine, SIGNER), base_url=PUBLIC)


@pytest.fixture
def surveyed(settings: Settings) -> Settings:
    return _settings(settings)


@pytest.fixture
def client(engine: Engine, surveyed: Settings, clock: Clock) -> TestClient:
    return _client(engine, surveyed)


def _url(moment: SurveyMoment, score: int | str, signer: Signer = SIGNER) -> str:
    return f"/survey/{survey_token(signer, moment)}/{score}"


def _post_url(moment: SurveyMoment) -> str:
    return f"/survey/{survey_token(SIGNER, moment)}"


def _form_token(page: str) -> str:
    found = re.search(r'name="form" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _open(client: TestClient, moment: SurveyMoment, score: int | str) -> httpx.Response:
    answer: httpx.Response = client.get(_url(moment, score))
    return answer


def _answer(
    client: TestClient, moment: SurveyMoment, link: int | str = 7, **fields: str
) -> httpx.Response:
    """Open the link of score `link`, then send the page's form with `fields` (that score
    when `fields` names none)."""
    page = _open(client, moment, link)
    assert page.status_code == 200, page.text
    data = {"form": _form_token(page.text), "score": str(link)} | fields
    answer: httpx.Response = client.post(_post_url(moment), data=data)
    return answer


def _answers(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(SurveyResponse.customer_id, SurveyResponse.score, SurveyResponse.scores,
                   SurveyResponse.comment).order_by(SurveyResponse.id)
        ).all()  # fmt: skip
    return [tuple(row) for row in rows]


def _clicks(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(SurveyClick.link, SurveyClick.score, SurveyClick.suspect)
            .order_by(SurveyClick.id)
        ).all()  # fmt: skip
    return [tuple(row) for row in rows]


def _checked(page: str) -> dict[str, str]:
    """The radio buttons checked on the page: field name -> value."""
    return {attrs["name"]: attrs["value"] for attrs in Page(page).named("input")
            if attrs.get("type") == "radio" and "checked" in attrs}  # fmt: skip


# --- scanners and people -----------------------------------------------------------------


def test_a_scanner_opens_every_link_then_the_person_answers_once_with_her_score(
    engine: Engine, surveyed: Settings, shop: ShopFactory, clock: Clock
) -> None:
    # given Ana's NPS email, sent at 08:00
    moment = sent(engine, shop.customer("ana"), at=SENT_AT)
    # when her mail provider's scanner opens every link of it (and the honeypot) 4 s later,
    # from a client of its own
    clock.now = SENT_AT + timedelta(seconds=4)
    scanner = _client(engine, surveyed)
    for score in [*range(11), "h"]:
        assert _open(scanner, moment, score).status_code == 200
    # then nothing is answered, and every click is flagged as a scanner's
    assert _answers(engine) == []
    assert {suspect for _, _, suspect in _clicks(engine)} == {True}
    # when Ana herself opens the 7 three hours later, picks 9, types a comment and sends
    clock.now = LATER
    person = _client(engine, surveyed)
    page = _open(person, moment, 7)
    assert _checked(page.text) == {"score": "7"}
    done = person.post(_post_url(moment), data={"form": _form_token(page.text), "score": "9",
                                                "comment": "Great beans"})  # fmt: skip
    # then her answer is the one recorded, her click is not suspect, and she is thanked
    assert done.status_code == 200 and WORDS["es"]["thanks_title"] in done.text
    assert _answers(engine) == [("ana", 9, {"nps": 9}, "Great beans")]
    assert _clicks(engine)[-1] == ("score", 7, False)
    assert len(_clicks(engine)) == 13


def test_the_honeypot_is_flagged_and_answers_a_page_that_says_nothing(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given Ana (Spanish) and her survey email, read hours after the send
    moment = sent(engine, shop.customer("ana", locale="es"))
    # when the invisible honeypot link is followed
    page = _open(client, moment, "h")
    # then the click is suspect, the page holds no form, and not even her language
    assert page.status_code == 200
    assert _clicks(engine) == [("honeypot", None, True)]
    assert "<form" not in page.text and '<html lang="en">' in page.text and SHOP in page.text
    assert _answers(engine) == []


@pytest.mark.parametrize(("after", "suspect"), [(timedelta(seconds=2), True),
                                                (timedelta(seconds=59), True),
                                                (timedelta(seconds=60), False),
                                                (timedelta(days=2), False)])  # fmt: skip
def test_a_click_within_scanner_seconds_of_the_send_is_flagged(
    client: TestClient, engine: Engine, shop: ShopFactory, clock: Clock,
    after: timedelta, suspect: bool,
) -> None:  # fmt: skip
    moment = sent(engine, shop.customer("ana"))
    clock.now = SENT_AT + after
    assert _open(client, moment, 8).status_code == 200
    assert _clicks(engine) == [("score", 8, suspect)]


def test_a_get_never_records_an_answer_even_repeated(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    moment = sent(engine, shop.customer("ana"))
    for _ in range(3):
        assert _open(client, moment, 10).status_code == 200
    assert client.head(_url(moment, 10)).status_code in (200, 405)
    assert _answers(engine) == []


def test_a_later_submit_updates_the_answer_and_books_the_points_once(
    client: TestClient, engine: Engine, shop: ShopFactory, clock: Clock
) -> None:
    # given [loyalty] actions = { survey_answered = 20 }
    moment = sent(engine, shop.customer("ana", locale="es"))
    # when Ana answers 6, then a day later 10 with a comment
    first = _answer(client, moment, 6)
    clock.now = LATER + timedelta(days=1)
    second = _answer(client, moment, 10, comment="¡Me encantó!")
    # then one answer, the latest score; 20 points booked once, told once
    assert _answers(engine) == [("ana", 10, {"nps": 10}, "¡Me encantó!")]
    assert "Hemos añadido 20 puntos a tu tarjeta de fidelidad." in first.text
    assert "puntos" not in second.text and WORDS["es"]["thanks"] in second.text
    with engine.connect() as connection:
        bonus = connection.execute(select(LedgerEntry.points, LedgerEntry.at)
                                   .where(LedgerEntry.kind == "bonus")).all()  # fmt: skip
    assert [tuple(row) for row in bonus] == [(20, LATER)]


# --- refused -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_altered_token_is_403(
    client: TestClient, engine: Engine, shop: ShopFactory, method: str
) -> None:
    moment = sent(engine, shop.customer("ana"))
    good = survey_token(SIGNER, moment)
    other = survey_token(SIGNER, SurveyMoment("bo", "nps", OCCASION))
    altered = other.split(".")[0] + "." + good.split(".")[1]
    for token in (survey_token(Signer(b"x" * 32), moment), altered, "nonsense", good + "A"):
        if method == "get":
            answer = client.get(f"/survey/{token}/9")
        else:
            answer = client.post(f"/survey/{token}", data={"form": "x", "score": "9"})
        assert answer.status_code == 403, token
        assert LINK_WORDS["en"]["invalid"] in answer.text
    assert _answers(engine) == [] and _clicks(engine) == []


def test_a_token_made_for_another_purpose_opens_no_survey(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given Ana's sent survey moment and her other links
    moment = sent(engine, shop.customer("ana"))
    page = _open(client, moment, 9)
    others = (
        card_token(SIGNER, "ana"),
        SIGNER.token("ana", "email"),
        SIGNER.sign("card", "ana", "nps", OCCASION),
        _form_token(page.text),  # the form's own token
        SIGNER.sign("survey", "ana", "nps"),
    )
    # then none of them opens the survey or takes an answer
    for token in others:
        assert client.get(f"/survey/{token}/9").status_code == 403, token
        data = {"form": _form_token(page.text), "score": "9"}
        assert client.post(f"/survey/{token}", data=data).status_code == 403, token
    assert _answers(engine) == []


def test_a_moment_leal_never_sent_is_refused(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given a validly signed token for a moment that is not in the outbox as sent
    ana = shop.customer("ana")
    sent(engine, ana, occasion="survey:queued", status="queued")
    for occasion in ("survey:never", "survey:queued"):
        moment = SurveyMoment(ana, "nps", occasion)
        assert _open(client, moment, 9).status_code == 403
    assert _clicks(engine) == []


def test_a_score_off_the_scale_in_the_link_is_404(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    moment = sent(engine, shop.customer("ana"), campaign="csat")
    for score in ("0", "6", "abc", "-1", "007", "１"):
        assert _open(client, moment, score).status_code == 404, score
    assert _clicks(engine) == []


@pytest.mark.parametrize("case", ["missing", "forged", "other-moment", "no-cookie",
                                  "other-cookie"])  # fmt: skip
def test_a_form_without_its_own_token_and_cookie_is_refused(
    client: TestClient, engine: Engine, surveyed: Settings, shop: ShopFactory, case: str
) -> None:
    # given Ana (Catalan) with two survey moments, their pages opened in her browser
    ana = shop.customer("ana", locale="ca")
    moment, other = sent(engine, ana), sent(engine, ana, occasion="survey:o2")
    mine = _form_token(_open(client, moment, 9).text)
    theirs = _form_token(_open(client, other, 9).text)
    nonce = client.cookies.get(COOKIE, path=f"/survey/{survey_token(SIGNER, moment)}")
    assert nonce
    forged = Signer(b"x" * 32).sign("surveyform", ana, "nps", OCCASION, nonce)
    form = {"missing": "", "forged": forged, "other-moment": theirs}.get(case, mine)
    sender = client
    if case in ("no-cookie", "other-cookie"):  # another browser: the form without its cookie
        sender = _client(engine, surveyed)
        if case == "other-cookie":
            sender.cookies.set(COOKIE, "A" * 22, domain="leal.cafe.example",
                               path=f"/survey/{survey_token(SIGNER, moment)}")  # fmt: skip
    # when a form comes back with that token
    answer = sender.post(_post_url(moment), data={"form": form, "score": "0"})
    # then it is refused, in her language, and nothing is recorded
    assert answer.status_code == 403
    assert str(escape(WORDS["ca"]["expired"])) in answer.text and '<html lang="ca">' in answer.text
    assert _answers(engine) == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "http://leal.cafe.example"}, 403),  # another scheme is another origin
        ({"Origin": "https://leal.cafe.example.evil.example"}, 403),
        ({"Referer": "https://evil.example/survey"}, 403),
        ({"Origin": "https://leal.cafe.example"}, 200),
        ({"Origin": "https://leal.cafe.example:443"}, 200),
        ({"Origin": "null"}, 200),  # what browsers send under the page's no-referrer policy
        ({"Referer": "https://leal.cafe.example/survey/x/9"}, 200),
        ({}, 200),
    ],
)  # fmt: skip
def test_a_post_from_another_origin_is_refused(
    client: TestClient, engine: Engine, shop: ShopFactory,
    headers: dict[str, str], status: int,
) -> None:  # fmt: skip
    moment = sent(engine, shop.customer("ana"))
    form = _form_token(_open(client, moment, 9).text)
    answer = client.post(_post_url(moment), data={"form": form, "score": "9"}, headers=headers)
    assert answer.status_code == status
    assert len(_answers(engine)) == (status == 200)


def test_an_erased_customer_s_link_is_gone(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given Ana (Italian) opened her survey, then was erased
    moment = sent(engine, shop.customer("ana", locale="it"))
    form = _form_token(_open(client, moment, 9).text)
    with writer(engine).begin() as connection:
        erase_customer(connection, "ana", LATER)
    # then the link and the form are 410 in the shop's words, and nothing more is recorded
    for answer in (_open(client, moment, 9),
                   client.post(_post_url(moment), data={"form": form, "score": "9"})):  # fmt: skip
        assert answer.status_code == 410
        assert LINK_WORDS["en"]["gone"] in answer.text and '<html lang="en">' in answer.text
    assert _answers(engine) == [] and _clicks(engine) == []


def test_a_campaign_that_no_longer_asks_is_gone(
    engine: Engine, settings: Settings, shop: ShopFactory, clock: Clock
) -> None:
    moment = sent(engine, shop.customer("ana"), campaign="retired")
    client = _client(engine, _settings(settings))
    assert _open(client, moment, 9).status_code == 410


def test_without_the_secret_key_surveys_are_off(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    # given no LEAL_SECRET_KEY
    moment = sent(engine, shop.customer("ana"))
    config = Config(surveyed, None)
    app = TestClient(create_app(config, engine, environ={SECRET_ENV: ""}), base_url=PUBLIC)
    # then the page and the form are 503, and `leal serve` says why
    for answer in (app.get(_url(moment, 9)), app.post(_post_url(moment), data={"score": "9"})):
        assert answer.status_code == 503 and SECRET_ENV in answer.json()["detail"]
    group = next(group for group in route_status(config, {}) if group.paths == "/survey/*")
    assert not group.on and SECRET_ENV in group.why
    assert _clicks(engine) == []


# --- the pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "es", "ca", "it", "ro"])
def test_each_language_asks_its_question(
    client: TestClient, engine: Engine, surveyed: Settings, shop: ShopFactory, locale: str
) -> None:
    # given a customer in this language and her NPS survey
    moment = sent(engine, shop.customer("ana", locale=locale))
    # when she opens the link of 8
    page = _open(client, moment, 8).text
    # then the page is in her language, asks the question, shows the scale with 8 chosen
    survey = surveyed.campaigns["nps"].survey
    assert survey is not None
    low, high = scale_labels("nps", locale)
    assert f'<html lang="{locale}">' in page
    for said in (question(survey, locale, SHOP), low, high, WORDS[locale]["send"],
                 WORDS[locale]["comment"], SHOP):  # fmt: skip
        assert str(escape(said)) in page, said
    assert _checked(page) == {"score": "8"}
    radios = [attrs["value"] for attrs in Page(page).named("input") if attrs["type"] == "radio"]
    assert radios == [str(score) for score in range(11)]
    # and her thank-you page too
    done = client.post(_post_url(moment), data={"form": _form_token(page), "score": "8"})
    assert f'<html lang="{locale}">' in done.text
    assert str(escape(WORDS[locale]["thanks"])) in done.text


def test_without_a_language_of_her_own_the_shop_s_is_used(
    engine: Engine, settings: Settings, shop: ShopFactory, clock: Clock
) -> None:
    client = _client(engine, _settings(settings, default_locale="ro"))
    for customer, locale in (("ana", None), ("jean", "fr")):
        page = _open(client, sent(engine, shop.customer(customer, locale=locale)), 3).text
        assert '<html lang="ro">' in page and WORDS["ro"]["title"] in page


def test_a_campaign_s_own_question_is_asked(
    engine: Engine, settings: Settings, shop: ShopFactory, clock: Clock
) -> None:
    # given a campaign with its own Spanish (Mexico) wording
    own = _settings(settings)
    campaigns = own.model_dump()["campaigns"]
    campaigns["nps"]["survey"]["question"] = {"es_MX": "¿Nos recomendarías, güey?"}
    client = _client(engine, Settings(**(own.model_dump() | {"campaigns": campaigns})))
    page = _open(client, sent(engine, shop.customer("ana", locale="es_MX")), 9).text
    assert "¿Nos recomendarías, güey?" in page and '<html lang="es">' in page


@pytest.mark.parametrize(("campaign", "scores"), [("csat", range(1, 6)), ("ces", range(1, 8))])
def test_csat_and_ces_show_their_scales(
    client: TestClient, engine: Engine, shop: ShopFactory, campaign: str, scores: range
) -> None:
    moment = sent(engine, shop.customer("ana", locale="en"), campaign=campaign)
    page = _open(client, moment, scores[-1]).text
    radios = [attrs["value"] for attrs in Page(page).named("input") if attrs["type"] == "radio"]
    assert radios == [str(score) for score in scores]
    for said in scale_labels(campaign, "en"):  # type: ignore[arg-type]
        assert said in page
    assert _answer(client, moment, scores[0]).status_code == 200
    assert _answers(engine) == [("ana", scores[0], {campaign: scores[0]}, None)]


def test_the_loyalty_index_asks_three_questions_and_needs_all_three(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given a Customer Loyalty Index survey opened from the link of 8
    moment = sent(engine, shop.customer("ana", locale="it"), campaign="cli")
    page = _open(client, moment, 8).text
    # then the page asks the three questions, the first with 8 chosen
    for _, text in cli_questions("it", SHOP):
        assert str(escape(text)) in page
    assert _checked(page) == {"recommend": "8"}
    # when she sends it with the first question only, and a comment
    form = _form_token(page)
    short = client.post(_post_url(moment), data={"form": form, "recommend": "8",
                                                 "comment": "Buono <b>"})  # fmt: skip
    # then the form comes back with her choices and comment, saying what is missing
    assert short.status_code == 422 and WORDS["it"]["choose"] in short.text
    assert _checked(short.text) == {"recommend": "8"} and "Buono &lt;b&gt;" in short.text
    (refill,) = Page(short.text).named("form")  # posted from /survey/<token>: same place
    assert refill["action"] == survey_token(SIGNER, moment)
    assert _answers(engine) == []
    # when she answers all three from the page that came back
    done = client.post(_post_url(moment), data={"form": _form_token(short.text), "recommend": "8",
                                                "buy_again": "10", "try_other": "3"})  # fmt: skip
    assert done.status_code == 200
    assert _answers(engine) == [
        ("ana", 8, {"recommend": 8, "buy_again": 10, "try_other": 3}, None)]  # fmt: skip


@pytest.mark.parametrize(("fields", "problem"), [
    ({"score": ""}, "choose"), ({"score": "11"}, "choose"), ({"score": "x"}, "choose"),
    ({"comment": "x" * (MAX_COMMENT + 1)}, "too_long"),
])  # fmt: skip
def test_a_form_that_cannot_be_recorded_comes_back_saying_why(
    client: TestClient, engine: Engine, shop: ShopFactory, fields: dict[str, str], problem: str
) -> None:
    moment = sent(engine, shop.customer("ana", locale="en"))
    answer = _answer(client, moment, 9, **fields)
    assert answer.status_code == 422
    assert str(escape(WORDS["en"][problem].format(max=MAX_COMMENT))) in answer.text
    assert _answers(engine) == []


def test_two_tabs_of_one_survey_both_work(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given the links of 3 and of 9 opened one after the other in one browser
    moment = sent(engine, shop.customer("ana"))
    first = _form_token(_open(client, moment, 3).text)
    second = _form_token(_open(client, moment, 9).text)
    # then the older tab's form still sends, and the newer one's updates it
    assert client.post(_post_url(moment), data={"form": first, "score": "3"}).status_code == 200
    assert client.post(_post_url(moment), data={"form": second, "score": "9"}).status_code == 200
    assert _answers(engine) == [("ana", 9, {"nps": 9}, None)]


def test_the_headers_and_the_cookie(client: TestClient, engine: Engine, shop: ShopFactory) -> None:
    moment = sent(engine, shop.customer("ana"))
    page = _open(client, moment, 9)
    token = survey_token(SIGNER, moment)
    # the shell's headers on every answer: the page, the thank-you page, a refusal
    answers = (page, client.post(_post_url(moment), data={"form": _form_token(page.text),
                                                          "score": "9"}),
               client.get("/survey/forged/9"), _open(client, moment, "h"))  # fmt: skip
    for answer in answers:
        assert answer.headers["Content-Security-Policy"] == CSP
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert answer.headers["X-Robots-Tag"] == "noindex, nofollow"
    # the double-submit cookie: this link's path only, out of scripts' reach, same-site only
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in (f"Path=/survey/{token}", "HttpOnly", "SameSite=strict", "Secure"):
        assert attribute.lower() in cookie.lower(), attribute


def test_on_plain_http_the_cookie_is_not_secure(
    engine: Engine, settings: Settings, shop: ShopFactory, clock: Clock
) -> None:
    local = _settings(settings).model_dump() | {"web": {"public_url": "http://localhost:8000"}}
    client = TestClient(create_app(Config(Settings(**local), None), engine, SIGNER))
    page = _open(client, sent(engine, shop.customer("ana")), 9)
    assert "secure" not in page.headers["set-cookie"].lower()


def test_the_page_loads_nothing_and_runs_nothing(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    moment = sent(engine, shop.customer("ana"))
    page = _open(client, moment, 9).text
    parsed = Page(page)
    assert not parsed.named("script") and not parsed.named("img")
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    (form,) = parsed.named("form")
    assert form == {
        "method": "post",
        "action": f"../{survey_token(SIGNER, moment)}",
        "class": "card",
    }


def test_the_access_log_never_holds_a_survey_token() -> None:
    token = survey_token(SIGNER, SurveyMoment("ana", "nps", OCCASION))
    for path in (f"/survey/{token}/9", f"/survey/{token}", f"/survey/{token}/h?utm=x"):
        line = ("1.2.3.4", "GET", path, "1.1", 200)
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                                   '%s - "%s %s HTTP/%s" %d', line, None)  # fmt: skip
        RedactTokens().filter(record)
        message = record.getMessage()
        assert token not in message and token.split(".")[1] not in message
        assert message.startswith('1.2.3.4 - "GET /survey/<token>')


# --- hostile input ------------------------------------------------------------------------


def _hostile() -> Iterator[str]:
    """Every corpus string a form can carry (UTF-8), once."""
    every = xss_payloads() + ssti_payloads() + naughty_strings()
    for text in dict.fromkeys(every):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            continue
        yield text


def test_hostile_comments_are_stored_as_data(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given Ana's survey page, open
    moment = sent(engine, shop.customer("ana", locale="en"))
    form = _form_token(_open(client, moment, 9).text)
    expected: str | None = None
    for payload in _hostile():
        # when she sends each payload of the attack corpora as her comment
        answer = client.post(_post_url(moment), data={"form": form, "score": "9",
                                                      "comment": payload})  # fmt: skip
        # then it is thanked for (never a 500) and stored as typed, less control characters
        # (a blank one keeps the comment before it)
        assert answer.status_code == 200, payload
        expected = clean_comment(payload) or expected
        assert _answers(engine) == [("ana", 9, {"nps": 9}, expected)], payload


def test_hostile_comments_shown_again_are_text(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given a form sent back without a score (so the page shows the comment again)
    moment = sent(engine, shop.customer("ana", locale="en"))
    baseline = Page(_answer(client, moment, 9, score="", comment="plain").text).tags
    for payload in islice(_hostile(), 0, None, 3):
        page = _answer(client, moment, 9, score="", comment=payload)
        # then the payload is the textarea's text: the same markup as a plain comment
        assert page.status_code == 422, payload
        assert Page(page.text).tags == baseline, payload
    assert _answers(engine) == []


def test_a_hostile_shop_name_and_question_stay_text(
    engine: Engine, settings: Settings, shop: ShopFactory, clock: Clock
) -> None:
    attack = "<script>alert(1)</script>{{ 7*7 }}\"'><img src=x onerror=alert(2)>"
    hostile = _settings(settings, name=attack)
    campaigns = hostile.model_dump()["campaigns"]
    campaigns["nps"]["survey"]["question"] = {"en": attack}
    client = _client(engine, Settings(**(hostile.model_dump() | {"campaigns": campaigns})))
    page = _open(client, sent(engine, shop.customer("ana", locale="en")), 9).text
    parsed = Page(page)
    assert not parsed.named("script") and not parsed.named("img")
    assert str(escape(attack)) in page and "{{ 7*7 }}" in page


def test_each_moment_keeps_one_answer_however_often_it_is_sent(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # given three moments, each answered twice through the page: three answers
    ana = shop.customer("ana")
    for index in range(3):
        moment = sent(engine, ana, occasion=f"survey:d{index}")
        _answer(client, moment, index)
        _answer(client, moment, index + 1)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(SurveyResponse)) == 3
