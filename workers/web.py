"""`leal serve`: the small web service customers' devices and Twilio talk to.

- RFC 8058 one-click unsubscribe: POST /unsubscribe/{token} with the body
  `List-Unsubscribe=One-Click` suppresses that channel for that customer and answers 200
  only after the commit. A GET (link scanners fetch every URL) shows a confirmation page
  and changes nothing. A forged or altered token gets 403.
- The shop's events (POST /events/customer|product|order|cart, bearer LEAL_EVENTS_TOKEN),
  applied through the import's path so summaries stay current.
- Twilio's inbound webhook, with a validated X-Twilio-Signature: STOP and its synonyms opt
  the number out of SMS, START opts it back in, HELP changes nothing. Twilio's status
  callbacks (same signature) record what became of each sent SMS in the ledger.
"""

from __future__ import annotations

import hmac
import html
import os
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Form, Header, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine, select, update
from twilio.request_validator import RequestValidator

from campaigns.loader import Config
from shop.db import make_engine
from shop.events import EventError, apply_event
from shop.models import Customer
from shop.suppressions import lift, suppress
from templates.unsubscribe import BadTokenError, Signer, Unsubscribe
from workers import ledger
from workers.channels.twilio_sms import INVALID, OPTED_OUT, TOKEN_ENV

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
EVENTS_TOKEN_ENV = "LEAL_EVENTS_TOKEN"  # noqa: S105 (the variable's name, not a secret)
_KEYWORD = re.compile(r"[^A-Z]")


def create_app(
    config: Config, engine: Engine | None = None, signer: Signer | None = None
) -> FastAPI:
    app = FastAPI(title="Leal", docs_url=None, redoc_url=None)
    engine = engine or make_engine(config.settings.database.url)
    signer = signer or Signer.from_env()
    public_url = config.settings.web.public_url.rstrip("/")

    def verified(token: str) -> Unsubscribe:
        try:
            return signer.verify(token)
        except BadTokenError:
            raise HTTPException(status_code=403, detail="this link is not valid") from None

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def confirm_page(token: str) -> str:
        what = verified(token)
        channel = "emails" if what.channel == "email" else "text messages"
        return _page(
            f"Stop {channel} from {html.escape(config.settings.shop.name)}?",
            '<form method="post"><input type="hidden" name="List-Unsubscribe" '
            'value="One-Click"><button type="submit">Unsubscribe</button></form>',
        )

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe(token: str, one_click: str = Form("", alias="List-Unsubscribe")) -> str:
        what = verified(token)
        if one_click != "One-Click":
            raise HTTPException(status_code=400, detail="expected List-Unsubscribe=One-Click")
        with engine.begin() as connection:  # answer only once it is committed
            customer = connection.execute(
                select(Customer.email, Customer.phone).where(Customer.id == what.customer_id)
            ).first()
            if customer is not None:
                address = customer.email if what.channel == "email" else customer.phone
                _opt_out(connection, what.customer_id, what.channel, address)
        return _page("You are unsubscribed.", "You will not hear from us on this channel again.")

    async def signed_form(request: Request) -> dict[str, str]:
        """Twilio's form, once its X-Twilio-Signature proves it came from Twilio."""
        form = {key: str(value) for key, value in (await request.form()).items()}
        validator = RequestValidator(os.environ.get(TOKEN_ENV, ""))
        url = public_url + request.url.path
        if not validator.validate(url, form, request.headers.get("X-Twilio-Signature", "")):
            raise HTTPException(status_code=403, detail="bad signature")
        return form

    @app.post("/events/{kind}")
    def event(kind: str, body: dict[str, Any], authorization: str = Header("")) -> dict[str, str]:
        """The shop's events, authenticated by LEAL_EVENTS_TOKEN as a bearer token."""
        expected = os.environ.get(EVENTS_TOKEN_ENV, "")
        if not expected or not hmac.compare_digest(authorization, f"Bearer {expected}"):
            raise HTTPException(status_code=403, detail="a valid bearer token is required")
        try:
            apply_event(engine, config.settings, kind, body)
        except EventError as error:
            raise HTTPException(status_code=422, detail=error.problems) from None
        return {"status": "applied"}

    @app.post("/twilio/status")
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        state, error = form.get("MessageStatus", ""), form.get("ErrorCode", "")
        delivered = state not in ("failed", "undelivered")
        detail = f"twilio {state}" + (f" {error}" if error else "")
        with engine.begin() as connection:
            found = ledger.provider_update(
                connection, form.get("MessageSid", ""), delivered, detail, datetime.now(UTC)
            )
            if found is not None and error.isdigit() and int(error) in (*OPTED_OUT, *INVALID):
                suppress(connection, "sms", form.get("To", ""), "undelivered", datetime.now(UTC))
        return Response(status_code=204)

    @app.post("/twilio/inbound")
    async def inbound(request: Request) -> Response:
        form = await signed_form(request)
        keyword = _KEYWORD.sub("", form.get("Body", "").upper())
        number = form.get("From", "")
        with engine.begin() as connection:
            if keyword in STOP_WORDS:
                _set_sms_consent(connection, number, consent=False)
            elif keyword in START_WORDS:
                _set_sms_consent(connection, number, consent=True)
        # Twilio answers STOP/START/HELP itself (Advanced Opt-Out): reply nothing more.
        return Response("<Response/>", media_type="application/xml")

    return app


def _opt_out(connection: Connection, customer_id: str, channel: str, address: str | None) -> None:
    consent = {"email_opt_in": False} if channel == "email" else {"sms_opt_in": False}
    connection.execute(update(Customer).where(Customer.id == customer_id).values(**consent))
    if address:
        suppress(connection, channel, address, "unsubscribed", datetime.now(UTC))


def _set_sms_consent(connection: Connection, number: str, *, consent: bool) -> None:
    """STOP: opted out and suppressed; START: opted in and the suppression lifted."""
    owners = update(Customer).where(Customer.phone == number)
    connection.execute(owners.values(sms_opt_in=consent))
    if consent:
        lift(connection, "sms", number)
    else:
        suppress(connection, "sms", number, "stop", datetime.now(UTC))


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'></head>"
        f"<body style='font-family:sans-serif;max-width:32em;margin:3em auto'><h1>{title}</h1>"
        f"<p>{body}</p></body></html>"
    )
