"""The survey pages of `leal serve` (docs/surveys.md).

- `GET /survey/{token}/{score}`: the link of one score in the email. It records a click
  (shop.surveys.record_click, flagged `suspect` when it comes within `[surveys]
  scanner_seconds` of the send) and answers the answer page, in the customer's language,
  with that score chosen and the optional comment box. It NEVER records an answer: link
  scanners (Safe Links, Mimecast, Barracuda) open every link of an email seconds after
  delivery.
- `GET /survey/{token}/h`: the honeypot, a link no person sees: a suspect click and a page
  that says nothing.
- `POST /survey/{token}`: the page's form. The answer is recorded (one per moment, a later
  submit updates it) and a thank-you page answers.

The POST is CSRF-safe three ways: the form carries a token signed for the purpose
`surveyform` over the moment and a nonce (a form made for one moment answers no other);
the nonce is also in a cookie (HttpOnly, SameSite=Strict, Secure on https, its path the
survey link's), so a cross-site form, which cannot read or send it, is refused; and an
Origin or Referer header, when the browser sends one, must be this service's.

A forged or altered survey token is 403, a moment Leal never sent too, one whose campaign
no longer asks a survey or whose customer was erased is 410: the neutral pages of
workers.web_pages, in the shop's language (the customer's would tell who it was). Without
LEAL_SECRET_KEY the routes are off (503). Tokens stay out of the access log
(workers.web_guard).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import Connection, Engine

from campaigns.config import Settings, Survey
from shop.db import writer
from shop.surveys import (
    ACTION,
    HONEYPOT,
    MAX_COMMENT,
    SCORE,
    Answer,
    CommentNotTextError,
    CommentTooLongError,
    ErasedCustomerError,
    Link,
    ScoreError,
    SurveyClosedError,
    SurveyError,
    SurveyMomentFound,
    find_moment,
    record_answer,
    record_click,
)
from templates.links import HONEYPOT as HONEYPOT_PATH
from templates.links import SurveyMoment, open_survey_token
from templates.sandbox import format_count, make_environment
from templates.surveys import CLI_QUESTIONS, SCALES, cli_questions, question, scale_labels
from templates.unsubscribe import BadTokenError, Signer
from workers.web_pages import (
    language_code,
    link_problem,
    page,
    page_language,
    page_response,
    personal,
)
from workers.web_words import POINTS, WORDS

FORM_PURPOSE = "surveyform"
COOKIE = "leal_survey"
_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
_DIGITS = re.compile(r"[0-9]{1,2}")

_FORM = make_environment(html=True).from_string(
    """<h1>{{ w.title }}</h1>
<form method="post" action="{{ action }}" class="card">
<input type="hidden" name="form" value="{{ form_token }}">
{% if problem %}<p role="alert" style="color:#a3401b"><strong>{{ problem }}</strong></p>{% endif %}
{% for q in questions %}
<fieldset style="border:0;padding:0;margin:0 0 18px">
<legend style="font-weight:600;margin:0 0 4px;padding:0">{{ q.text }}</legend>
<div class="scale" style="display:grid;grid-template-columns:repeat(auto-fit,minmax(2.4rem,1fr))">
{% for score in scores %}<label><input type="radio" name="{{ q.name }}" value="{{ score }}" \
required{% if score == q.chosen %} checked{% endif %}><span>{{ score }}</span></label>{% endfor %}
</div>
<div class="ends muted"><span>{{ low }}</span><span>{{ high }}</span></div>
</fieldset>
{% endfor %}
{% if comment_box %}
<p><label for="comment">{{ w.comment }}</label><br>
<textarea id="comment" name="comment" maxlength="{{ max_comment }}">{{ comment }}</textarea></p>
{% endif %}
<p><button type="submit">{{ w.send }}</button></p>
</form>
"""
)
_THANKS = make_environment(html=True).from_string(
    """<section class="card">
<h1>{{ w.thanks_title }}</h1>
<p>{{ w.thanks }}</p>
{% if points %}<p><strong>{{ points }}</strong></p>{% endif %}
</section>
"""
)
_NEUTRAL = make_environment(html=True).from_string(
    """<section class="card"><h1>{{ shop }}</h1><p><a href="{{ url }}">{{ visit }}</a></p></section>
"""
)
_SAID = make_environment(html=True).from_string(
    '<section class="card"><h1>{{ title }}</h1><p>{{ said }}</p></section>\n'
)


@dataclass(frozen=True)
class Question:
    name: str  # the form field
    text: str
    chosen: int | None


@dataclass(frozen=True)
class Filled:
    """What a person sent: the scores by form field (None: not chosen), the comment."""

    scores: Mapping[str, int | None]
    comment: str


def survey_router(
    settings: Settings, engine: Engine, signer: Signer | None, off: str | None
) -> APIRouter:
    """The survey routes; `signer` None (no LEAL_SECRET_KEY, `off` says why) answers 503."""
    router = APIRouter()
    public = urlsplit(settings.web.public_url)
    secure = public.scheme == "https"
    prefix = public.path.rstrip("/")  # where a proxy serves Leal under a path

    def opened(token: str) -> tuple[Signer, SurveyMoment | None]:
        """The signer and the moment `token` names (None when it is not a survey token)."""
        if signer is None:
            raise HTTPException(status_code=503, detail=f"surveys are off: {off}")
        try:
            return signer, open_survey_token(signer, token)
        except BadTokenError:
            return signer, None

    @router.get("/survey/{token}/{chosen}", response_class=HTMLResponse)
    def survey_page(token: str, chosen: str, request: Request) -> HTMLResponse:
        checked, moment = opened(token)
        if moment is None:
            return _problem(settings, 403)
        link: Link = HONEYPOT if chosen == HONEYPOT_PATH else SCORE
        score = _score(chosen)
        try:
            with writer(engine).begin() as connection:  # the click, committed before the page
                found = _find(connection, settings, moment)
                if link == SCORE and score not in _scale(found.survey):  # None is in no scale
                    return _problem(settings, 404)
                record_click(connection, settings, moment, link, score, _now(), found=found)
        except SurveyError as error:
            return _problem(settings, _status(error))
        if link == HONEYPOT:
            return _neutral(settings)
        nonce = _cookie_nonce(request) or secrets.token_urlsafe(16)
        first = CLI_QUESTIONS[0] if found.survey.kind == "cli" else "score"
        html = _form_page(settings, found, _form_token(checked, found, nonce),
                          action=f"../{token}", filled=Filled({first: score}, ""))  # fmt: skip
        response = personal(page_response(html))
        _set_cookie(response, nonce, f"{prefix}/survey/{token}", secure=secure)
        return response

    @router.post("/survey/{token}", response_class=HTMLResponse)
    def answer(
        token: str,
        request: Request,
        form: str = Form(""),
        score: str = Form(""),
        recommend: str = Form(""),
        buy_again: str = Form(""),
        try_other: str = Form(""),
        comment: str = Form(""),
    ) -> HTMLResponse:
        checked, moment = opened(token)
        if moment is None or not _same_origin(request, settings.web.public_url):
            return _problem(settings, 403)
        given = {"score": score, "recommend": recommend, "buy_again": buy_again,
                 "try_other": try_other}  # fmt: skip
        filled = Filled({name: _score(value) for name, value in given.items()}, comment)
        try:
            with writer(engine).begin() as connection:
                found = _find(connection, settings, moment)
                if not _form_is_theirs(checked, form, found, request):
                    return _expired(settings, found)
                outcome = _record(connection, settings, found, filled)
        except SurveyError as error:
            return _problem(settings, _status(error))
        if isinstance(outcome, str):  # shown again with their answer and what was wrong
            html = _form_page(settings, found, form, action=token, filled=filled,
                              problem=outcome)  # fmt: skip
            return personal(page_response(html, 422))
        return personal(page_response(_thanks_page(settings, found, outcome)))

    return router


def _now() -> datetime:
    """The instant of a click or a submit (a test moves it)."""
    return datetime.now(UTC)


def _find(connection: Connection, settings: Settings, moment: SurveyMoment) -> SurveyMomentFound:
    return find_moment(connection, settings, moment.campaign, moment.customer_id, moment.occasion)


def _score(text: str) -> int | None:
    return int(text) if _DIGITS.fullmatch(text) else None


def _scale(survey: Survey) -> range:
    return SCALES[survey.kind].scores


def _status(error: SurveyError) -> int:
    """A moment that is gone (its customer erased, its campaign no longer asking) is 410;
    anything else refused (a moment Leal never sent) is 403."""
    return 410 if isinstance(error, ErasedCustomerError | SurveyClosedError) else 403


def _record(
    connection: Connection, settings: Settings, found: SurveyMomentFound, filled: Filled
) -> Answer | str:
    """Record what the form holds; what to tell the person instead when a score is missing
    or off the scale, or the comment is too long or not text."""
    lang = _lang(found, settings)
    w = WORDS[lang]
    kind = found.survey.kind
    wanted = CLI_QUESTIONS if kind == "cli" else ("score",)
    scores = {name: value for name in wanted if (value := filled.scores.get(name)) is not None}
    if len(scores) < len(wanted):  # a score not chosen
        return w["choose"]
    try:
        return record_answer(
            connection, settings, campaign=found.campaign, customer_id=found.customer_id,
            occasion=found.occasion, kind=kind, score=scores[wanted[0]],
            scores=scores if kind == "cli" else None,
            comment=filled.comment, locale=lang, at=_now(), found=found,
        )  # fmt: skip
    except CommentTooLongError:
        return w["too_long"].format(max=MAX_COMMENT)
    except CommentNotTextError:
        return w["not_text"]
    except ScoreError:
        return w["choose"]


def _lang(found: SurveyMomentFound, settings: Settings) -> str:
    return page_language(found.locale, settings.shop.default_locale)


def _question_locale(found: SurveyMomentFound, settings: Settings, lang: str) -> str:
    """The locale to word the main question in: the customer's (or else the shop's) when
    it is the page's language or the campaign words its question in it (as the email did),
    so a campaign's `es_MX` wording reaches a Mexican customer."""
    survey = found.survey
    for locale in (found.locale, settings.shop.default_locale):
        if not locale:
            continue
        own = locale in survey.question or language_code(locale) in survey.question
        if own or language_code(locale) == lang:
            return locale
    return lang


def _questions(
    settings: Settings, found: SurveyMomentFound, lang: str, filled: Filled
) -> list[Question]:
    shop = settings.shop.name
    main = question(found.survey, _question_locale(found, settings, lang), shop)
    if found.survey.kind != "cli":
        return [Question("score", main, filled.scores.get("score"))]
    texts = [main] + [text for _, text in cli_questions(lang, shop)[1:]]
    return [Question(name, text, filled.scores.get(name))
            for name, text in zip(CLI_QUESTIONS, texts, strict=True)]  # fmt: skip


def _form_page(
    settings: Settings,
    found: SurveyMomentFound,
    form_token: str,
    *,
    action: str,
    filled: Filled,
    problem: str | None = None,
) -> str:
    """The answer page: the question(s), the scale as radio buttons with the chosen score
    checked, the comment box when the campaign offers one. `action` is relative (the page
    may be served under a proxy's path): `../<token>` from the link, `<token>` from the
    POST's own page."""
    lang = _lang(found, settings)
    w = WORDS[lang]
    low, high = scale_labels(found.survey.kind, lang)
    body = Markup(_FORM.render(  # noqa: S704 (autoescaped)
        w=w, action=action, form_token=form_token, problem=problem,
        questions=_questions(settings, found, lang, filled), scores=_scale(found.survey),
        low=low, high=high, comment_box=found.survey.comment, comment=filled.comment,
        max_comment=MAX_COMMENT,
    ))  # fmt: skip
    return page(settings.shop, lang, w["title"], body)


def _thanks_page(settings: Settings, found: SurveyMomentFound, answer: Answer) -> str:
    lang = _lang(found, settings)
    w = WORDS[lang]
    earned = settings.loyalty.actions.get(ACTION) if answer.points_booked else None
    points = w["points"].format(points=format_count(earned, lang, **POINTS[lang])) if earned else ""
    body = Markup(_THANKS.render(w=w, points=points))  # noqa: S704 (autoescaped)
    return page(settings.shop, lang, w["thanks_title"], body)


def _expired(settings: Settings, found: SurveyMomentFound) -> HTMLResponse:
    """A form token or cookie missing or not this moment's: 403, in their language."""
    lang = _lang(found, settings)
    w = WORDS[lang]
    body = Markup(_SAID.render(title=w["title"], said=w["expired"]))  # noqa: S704 (autoescaped)
    return personal(page_response(page(settings.shop, lang, w["title"], body), 403))


def _neutral(settings: Settings) -> HTMLResponse:
    """The honeypot's answer: the shop's name and a link to it, in the shop's language."""
    shop = settings.shop
    visit = WORDS[page_language(None, shop.default_locale)]["visit"].format(shop=shop.name)
    body = Markup(_NEUTRAL.render(shop=shop.name, url=shop.url, visit=visit))  # noqa: S704
    return personal(page_response(page(shop, shop.default_locale, shop.name, body)))


def _problem(settings: Settings, status: int) -> HTMLResponse:
    """The neutral page of a bad link, in the shop's language: the customer's would say
    whose link it was."""
    return personal(link_problem(settings.shop, settings.shop.default_locale, status))


def _form_token(signer: Signer, found: SurveyMomentFound, nonce: str) -> str:
    """The form's hidden token: the moment and the cookie's nonce, signed for the form."""
    return signer.sign(FORM_PURPOSE, found.customer_id, found.campaign, found.occasion, nonce)


def _form_is_theirs(signer: Signer, form: str, found: SurveyMomentFound, request: Request) -> bool:
    """Whether the form token was made by Leal for this moment, and its nonce is the one
    in this browser's cookie (a cross-site form has neither)."""
    try:
        customer_id, campaign, occasion, nonce = signer.open(FORM_PURPOSE, form, 4)
    except BadTokenError:
        return False
    if (customer_id, campaign, occasion) != (found.customer_id, found.campaign, found.occasion):
        return False
    cookie = request.cookies.get(COOKIE, "")
    return bool(_NONCE.fullmatch(nonce)) and hmac.compare_digest(cookie.encode(), nonce.encode())


def _cookie_nonce(request: Request) -> str | None:
    """The nonce this browser already holds for the link (another tab of the same survey
    keeps working), if it is one Leal could have made."""
    value = request.cookies.get(COOKIE, "")
    return value if _NONCE.fullmatch(value) else None


def _set_cookie(response: HTMLResponse, nonce: str, path: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, nonce, path=path, httponly=True, samesite="strict",
                        secure=secure)  # fmt: skip


def _origin(url: str) -> tuple[str, str, int] | None:
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def _same_origin(request: Request, public_url: str) -> bool:
    """No Origin or Referer from elsewhere. The page's `no-referrer` policy makes browsers
    send `Origin: null` and no Referer on its own POST: those say nothing, and the form
    token and cookie decide."""
    allowed = {_origin(public_url), _origin(str(request.base_url))} - {None}
    origin = request.headers.get("origin", "")
    if origin and origin != "null":
        return _origin(origin) in allowed
    referer = request.headers.get("referer", "")
    return not referer or _origin(referer) in allowed
