"""The Twilio channel: the official SDK, a messaging service or a from-number, a status
callback, and a pace per sender.

Twilio's error codes decide the outcome: 21610 (the number replied STOP) and 21211 /
30006 (not a valid mobile number) fail the message and suppress the number; 20429 or an
HTTP 429 (too many requests), any 5xx and refused credentials (401/403) are retried later.
The pace holds the configured rate per sender: in this process, or across all workers when
they share a Redis.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from shop.redact import redact
from workers.channels.base import Outcome, OutgoingEmail, OutgoingSms
from workers.pace import LocalPace, Pace, RedisPace

TOKEN_ENV = "LEAL_TWILIO_AUTH_TOKEN"  # noqa: S105 (the variable's name, not a secret)
OPTED_OUT, INVALID = {21610}, {21211, 21614, 30006}
RATE_LIMITED = {20429}
# The SDK logs every request and response at INFO (about ten lines an SMS, numbers and
# bodies included): Leal's own delivery log says what happened, without personal data.
logging.getLogger("twilio").setLevel(logging.WARNING)


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    rate_per_second: float = 1.0
    api_url: str | None = None  # tests point the SDK at a local server
    pace_redis_url: str | None = None  # share the pace with every worker on this Redis

    @property
    def sender(self) -> str:
        return self.messaging_service_sid or self.from_number or ""


class TwilioChannel:
    def __init__(self, account: TwilioAccount) -> None:
        if not (account.from_number or account.messaging_service_sid):
            raise ValueError("[twilio] needs from_number or messaging_service_sid")
        self.account = account
        self.client = Client(account.account_sid, os.environ.get(TOKEN_ENV, ""))
        if account.api_url:
            self.client.api.base_url = account.api_url
        self.pace: Pace = (
            RedisPace(account.pace_redis_url, account.sender, account.rate_per_second)
            if account.pace_redis_url
            else LocalPace(account.rate_per_second)
        )

    def send_sms(self, message: OutgoingSms) -> Outcome:
        self.pace.wait()
        sender = (
            {"messaging_service_sid": self.account.messaging_service_sid}
            if self.account.messaging_service_sid
            else {"from_": self.account.from_number}
        )
        callback = (
            {"status_callback": self.account.status_callback}
            if self.account.status_callback
            else {}
        )
        try:
            sent = self.client.messages.create(
                to=message.to, body=message.body, **sender, **callback
            )
        except TwilioRestException as error:
            return _by_error(error)
        except RequestException as error:
            return Outcome("retry", "twilio_unavailable", type(error).__name__)
        return Outcome("sent", provider_id=sent.sid)

    def send_email(self, message: OutgoingEmail) -> Outcome:
        raise TypeError("the Twilio channel sends SMS only")

    def probe(self) -> str | None:
        """Fetch the account: the API answers and takes our credentials; nothing is sent."""
        try:
            self.client.api.v2010.accounts(self.account.account_sid).fetch()
        except TwilioRestException as error:
            return f"{error.status} {error.code} {error.msg}"[:500]
        except RequestException as error:
            return f"Twilio API: {type(error).__name__}"
        return None


def _by_error(error: TwilioRestException) -> Outcome:
    detail = redact(f"{error.code} {error.msg}")[:500]  # Twilio's words quote the number
    if error.code in OPTED_OUT:
        return Outcome("failed", "opted_out", detail)
    if error.code in INVALID:
        return Outcome("failed", "invalid_number", detail)
    if error.status in (401, 403):  # our credentials, not the message: wait for a fix
        return Outcome("retry", "twilio_auth", detail)
    if error.code in RATE_LIMITED or error.status == 429 or error.status >= 500:
        return Outcome(
            "retry", "rate_limited" if error.status == 429 else "twilio_temporary", detail
        )
    return Outcome("failed", "twilio_error", detail)
