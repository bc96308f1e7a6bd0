"""Twilio's webhooks for `leal serve`: inbound STOP/START and delivery status callbacks.

Both are form posts signed with X-Twilio-Signature (HMAC-SHA1 of the public URL and the
form under LEAL_TWILIO_AUTH_TOKEN). Without the token they answer 503: validating with an
empty key would let anyone opt numbers out or mark messages failed. A missing signature
is 403 before the body is read; fields that Twilio always sends well-formed (E.164
numbers, message ids, numeric error codes) are checked, so a malformed one is 400, not
a query with a NUL byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import Connection, Engine, update
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator

from shop.address_keys import keyer
from shop.db import writer
from shop.models import Customer
from shop.suppressions import lift, suppress
from workers.channels.twilio_sms import INVALID, OPTED_OUT, TOKEN_ENV
from workers.provider_status import apply_provider_status

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
# The reasons the delivery path gives the same errors (workers.deliver): an opt-out is the
# person's own "no", which a shop's file saying opt-in must not undo (shop.suppressions).
SUPPRESSING_ERRORS = {code: "opted_out" for code in OPTED_OUT} | {
    code: "invalid_number" for code in INVALID
}
_KEYWORD = re.compile(r"[^A-Z]")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SID = re.compile(r"[A-Za-z0-9]{1,64}")
_ERROR_CODE = re.compile(r"[0-9]{1,6}")  # not str.isdigit: that accepts "²", int() does not


def twilio_router(engine: Engine, public_url: str, environ: Mapping[str, str]) -> APIRouter:
    router = APIRouter()

    async def signed_form(request: Request) -> dict[str, str]:
        """Twilio's form, once its X-Twilio-Signature proves it came from Twilio."""
        token = environ.get(TOKEN_ENV, "")
        if not token:
            raise HTTPException(status_code=503, detail=f"off: {TOKEN_ENV} is not set")
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            raise HTTPException(status_code=403, detail="bad signature")
        form = await request.form(max_files=0, max_fields=200)
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        if len(fields) != len(form) or not RequestValidator(token).validate(
            public_url + request.url.path, fields, signature
        ):
            raise HTTPException(status_code=403, detail="bad signature")
        return fields

    @router.post("/twilio/status")
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        sid, state = form.get("MessageSid", ""), form.get("MessageStatus", "")
        if not _SID.fullmatch(sid):
            raise HTTPException(status_code=400, detail="MessageSid is missing or malformed")
        code = form.get("ErrorCode", "")
        code = code if _ERROR_CODE.fullmatch(code) else ""
        to = form.get("To", "")
        await run_in_threadpool(_record_status, engine, sid, state, code,
                                to if _E164.fullmatch(to) else None)  # fmt: skip
        return Response(status_code=204)

    @router.post("/twilio/inbound")
    async def inbound(request: Request) -> Response:
        form = await signed_form(request)
        number = form.get("From", "")
        if not _E164.fullmatch(number):
            raise HTTPException(status_code=400, detail="From is not an E.164 number")
        keyword = _KEYWORD.sub("", form.get("Body", "").upper())
        if keyword in STOP_WORDS or keyword in START_WORDS:
            await run_in_threadpool(_set_sms_consent, engine, number, keyword in START_WORDS)
        # Twilio answers STOP/START/HELP itself (Advanced Opt-Out): reply nothing more.
        return Response("<Response/>", media_type="application/xml")

    return router


def _record_status(engine: Engine, sid: str, state: str, code: str, to: str | None) -> None:
    now = datetime.now(UTC)
    detail = f"twilio {state[:16]}" + (f" {code}" if code else "")
    with writer(engine).begin() as connection:
        found = apply_provider_status(connection, sid, state, detail, now)
        # The error is a fact about the number whatever order callbacks came in.
        reason = SUPPRESSING_ERRORS.get(int(code)) if code else None
        if found is not None and to is not None and reason is not None:
            suppress(connection, "sms", to, reason, now)


def _set_sms_consent(engine: Engine, number: str, consent: bool) -> None:
    """STOP: opted out and suppressed; START: opted in and the suppression lifted."""
    with writer(engine).begin() as connection:
        _apply_consent(connection, number, consent)


def _apply_consent(connection: Connection, number: str, consent: bool) -> None:
    # By the number's keyed hash, so STOP finds its owner however the shop spelt the number.
    phone_key = keyer(connection).key("sms", number)
    owners = update(Customer).where(Customer.phone_key == phone_key)
    connection.execute(owners.values(sms_opt_in=consent))
    if consent:
        lift(connection, "sms", number)
    else:
        suppress(connection, "sms", number, "stop", datetime.now(UTC))
