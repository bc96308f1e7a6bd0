"""`leal serve`: the small web service customers' devices and Twilio talk to.

- RFC 8058 one-click unsubscribe: POST /unsubscribe/{token} with the body
  `List-Unsubscribe=One-Click` suppresses that channel for that customer and answers 200
  only after the commit. A GET (link scanners fetch every URL) shows a confirmation page
  and changes nothing. Both pages speak the customer's language and carry the shop's name
  (workers.web_unsubscribe). A forged or altered token gets 403.
- Survey answer pages (workers.web_survey) and the loyalty card (workers.web_card).
- The shop's events (POST /events/customer|product|order|cart, bearer LEAL_EVENTS_TOKEN),
  applied through the import's path so summaries stay current.
- Twilio's inbound webhook and status callbacks (workers.web_twilio).
- A data subject's export and erasure (workers.web_privacy, bearer LEAL_ADMIN_TOKEN).

Fail closed: a route group whose secret is missing answers 503 and `route_status` says
why (`leal serve` prints it at start). Every request body is capped (workers.web_guard)
and tokens never reach the access log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, Engine, select, update
from starlette.concurrency import run_in_threadpool

from campaigns.loader import Config
from shop.db import make_engine, writer
from shop.events import EventError, apply_event, parse_event
from shop.models import Customer
from shop.suppressions import suppress
from templates.unsubscribe import SECRET_ENV, BadTokenError, MissingSecretError, Signer
from templates.unsubscribe import Unsubscribe as UnsubscribeToken
from workers.channels.twilio_sms import TOKEN_ENV
from workers.web_card import card_router
from workers.web_guard import BodyLimit, bearer_problem, check_bearer, redact_access_log
from workers.web_pages import link_problem, page_response
from workers.web_privacy import ADMIN_TOKEN_ENV, privacy_router
from workers.web_survey import survey_router
from workers.web_twilio import START_WORDS, STOP_WORDS, twilio_router
from workers.web_unsubscribe import confirm_page, done_page

__all__ = ["START_WORDS", "STOP_WORDS", "RouteGroup", "create_app", "route_status"]

EVENTS_TOKEN_ENV = "LEAL_EVENTS_TOKEN"  # noqa: S105 (the variable's name, not a secret)


@dataclass(frozen=True)
class RouteGroup:
    paths: str
    on: bool
    why: str


def route_status(config: Config, environ: Mapping[str, str]) -> list[RouteGroup]:
    """Per route group, whether `leal serve` answers it and why (what is missing if not)."""
    _, unsubscribe_off = _signer_from(environ)
    events_off = bearer_problem(environ, EVENTS_TOKEN_ENV)
    admin_off = bearer_problem(environ, ADMIN_TOKEN_ENV)
    twilio_signs = f"signatures checked against {config.settings.web.public_url}"
    return [
        RouteGroup("/unsubscribe/*", not unsubscribe_off,
                   unsubscribe_off or f"tokens checked with {SECRET_ENV}"),
        RouteGroup("/events/*", not events_off,
                   events_off or f"bearer token {EVENTS_TOKEN_ENV}"),
        RouteGroup("/twilio/*", bool(environ.get(TOKEN_ENV)),
                   twilio_signs if environ.get(TOKEN_ENV) else f"{TOKEN_ENV} is not set"),
        RouteGroup("/customers/* (export, erase)", not admin_off,
                   admin_off or f"bearer token {ADMIN_TOKEN_ENV}"),
        RouteGroup("/card/*", not unsubscribe_off,
                   unsubscribe_off or f"tokens checked with {SECRET_ENV}"),
        RouteGroup("/survey/*", not unsubscribe_off,
                   unsubscribe_off or f"tokens checked with {SECRET_ENV}"),
    ]  # fmt: skip


def create_app(
    config: Config,
    engine: Engine | None = None,
    signer: Signer | None = None,
    environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """The app; `environ` (default: the process's) holds the secrets, read per request."""
    environ = os.environ if environ is None else environ
    # No trailing-slash redirects: `/unsubscribe/<token>/` is not another spelling of a link.
    app = FastAPI(title="Leal", docs_url=None, redoc_url=None, openapi_url=None,
                  redirect_slashes=False)  # fmt: skip
    app.add_middleware(BodyLimit)
    redact_access_log()
    engine = engine or make_engine(config.settings.database.url)
    unsubscribe_off = None
    if signer is None:
        signer, unsubscribe_off = _signer_from(environ)
    _unsubscribe_routes(app, config, engine, signer, unsubscribe_off)
    _events_route(app, config, engine, environ)
    app.include_router(twilio_router(engine, config.settings.web.public_url.rstrip("/"), environ))
    app.include_router(privacy_router(engine, environ))
    app.include_router(card_router(config.settings, engine, signer, unsubscribe_off))
    app.include_router(survey_router(config.settings, engine, signer, unsubscribe_off))
    return app


def _signer_from(environ: Mapping[str, str]) -> tuple[Signer | None, str | None]:
    """The signer for LEAL_SECRET_KEY, or why there is none."""
    value = environ.get(SECRET_ENV, "")
    if not value:
        return None, f"{SECRET_ENV} is not set"
    try:
        return Signer(value.encode()), None
    except MissingSecretError as error:
        return None, str(error)


def _unsubscribe_routes(
    app: FastAPI, config: Config, engine: Engine, signer: Signer | None, off: str | None
) -> None:
    shop = config.settings.shop

    def verified(token: str) -> UnsubscribeToken | None:
        """What the token unsubscribes; None when it is forged or altered."""
        if signer is None:
            raise HTTPException(status_code=503, detail=f"unsubscribe is off: {off}")
        try:
            return signer.verify(token)
        except BadTokenError:
            return None

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def confirm(token: str) -> Response:
        what = verified(token)
        if what is None:  # the shop's language: a forged link names nobody
            return link_problem(shop, shop.default_locale, 403)
        with engine.connect() as connection:
            locale = connection.scalar(
                select(Customer.locale).where(Customer.id == what.customer_id)
            )
        return page_response(confirm_page(shop, locale, what.channel))

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe(token: str, one_click: str = Form("", alias="List-Unsubscribe")) -> Response:
        what = verified(token)
        if what is None:
            return link_problem(shop, shop.default_locale, 403)
        if one_click != "One-Click":
            raise HTTPException(status_code=400, detail="expected List-Unsubscribe=One-Click")
        with writer(engine).begin() as connection:  # answer only once it is committed
            customer = connection.execute(
                select(Customer.email, Customer.phone, Customer.locale).where(
                    Customer.id == what.customer_id
                )
            ).first()
            if customer is not None:
                address = customer.email if what.channel == "email" else customer.phone
                _opt_out(connection, what.customer_id, what.channel, address)
        locale = customer.locale if customer is not None else None
        return page_response(done_page(shop, locale, what.channel))


def _events_route(app: FastAPI, config: Config, engine: Engine, environ: Mapping[str, str]) -> None:
    @app.post("/events/{kind}")
    async def event(kind: str, request: Request) -> dict[str, Any]:
        """The shop's events, authenticated by LEAL_EVENTS_TOKEN before the body is read."""
        check_bearer(request.headers.get("Authorization", ""), environ, EVENTS_TOKEN_ENV)
        try:
            body = parse_event(await request.body())
            warnings = await run_in_threadpool(apply_event, engine, config.settings, kind, body)
        except EventError as error:
            raise HTTPException(status_code=422, detail=error.problems) from None
        return {"status": "applied", "warnings": warnings}


def _opt_out(connection: Connection, customer_id: str, channel: str, address: str | None) -> None:
    consent = {"email_opt_in": False} if channel == "email" else {"sms_opt_in": False}
    connection.execute(update(Customer).where(Customer.id == customer_id).values(**consent))
    if address:
        suppress(connection, channel, address, "unsubscribed", datetime.now(UTC))
