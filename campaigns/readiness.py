"""What a real delivery needs that the settings schema alone cannot tell: secrets in the
environment, public URLs that customers' devices can reach. Used by `leal check` and before
`leal run` / `leal send` deliver through a real channel.

Which problems count when:
- always: a LEAL_SECRET_KEY that is set but too short (nothing could ever sign with it);
- with a real channel (`[delivery] email = "smtp"` or `sms = "twilio"`): public https
  links on a host customers can reach, LEAL_SECRET_KEY, and what that channel needs.
With the file channels nothing leaves the machine, so `http://localhost:8000` and
`shop.example` are fine for development (`leal send` still asks for LEAL_SECRET_KEY).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

import phonenumbers

from campaigns.loader import Config, Problem
from templates.unsubscribe import SECRET_ENV, MissingSecretError, Signer
from workers.channels.smtp import PASSWORD_ENV
from workers.channels.twilio_sms import TOKEN_ENV

# RFC 2606 / RFC 6761 names that never reach a customer, and mDNS's .local.
_RESERVED_SUFFIXES = (".localhost", ".example", ".test", ".invalid", ".local")
_RESERVED_NAMES = {"localhost", "example.com", "example.net", "example.org"}
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
STATUS_PATH = "/twilio/status"  # the route of `leal serve` that checks Twilio's signature


def real_channels(config: Config) -> list[str]:
    """The channels configured to leave this machine, e.g. ["smtp", "twilio"]."""
    delivery = config.settings.delivery
    return [name for name in (delivery.email, delivery.sms) if name != "file"]


def delivery_problems(config: Config, environ: Mapping[str, str] = os.environ) -> list[Problem]:
    """Every setting or secret that a real delivery needs and that is missing or unsafe."""
    problems = _short_secret(environ)
    if not real_channels(config):
        return problems
    problems += _public_links(config) + _missing_secret(environ)
    if config.settings.delivery.email == "smtp":
        problems += _smtp_problems(config, environ)
    if config.settings.delivery.sms == "twilio":
        problems += _twilio_problems(config, environ)
    return problems


def unreachable_host(url: str) -> str | None:
    """Why customers' devices cannot reach `url`'s host, or None if they can."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return _unreachable(host)


def _unreachable(host: str) -> str | None:
    if not host:
        return "it has no host"
    if host in _RESERVED_NAMES or host.endswith(_RESERVED_SUFFIXES):
        return f"{host} is a reserved name that no customer can reach"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global:
        return f"{host} is a loopback, private or reserved address"
    return None


def _is_loopback(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _short_secret(environ: Mapping[str, str]) -> list[Problem]:
    value = environ.get(SECRET_ENV, "")
    if not value:
        return []
    try:
        Signer(value.encode())  # the signer's own rule, not a copy of it
    except MissingSecretError as error:
        return [Problem(f"environment {SECRET_ENV}", None, f"too short: {error}")]
    return []


def _missing_secret(environ: Mapping[str, str]) -> list[Problem]:
    if environ.get(SECRET_ENV):
        return []
    hint = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    message = f"not set: unsubscribe links cannot be signed (set it to the output of: {hint})"
    return [Problem(f"environment {SECRET_ENV}", None, message)]


def _public_links(config: Config) -> list[Problem]:
    """Links in messages (unsubscribe, shop) must work on a customer's phone; the
    one-click List-Unsubscribe-Post header (Gmail, Yahoo) is only sent for https."""
    web, shop = config.settings.web, config.settings.shop
    problems = []
    if urlsplit(web.public_url).scheme != "https":
        message = (
            f"web.public_url {web.public_url!r} is not https: unsubscribe links need it, and "
            "without it emails lack the one-click List-Unsubscribe-Post header"
        )
        problems.append(config.problem(("web", "public_url"), message))
    for location, url in ((("web", "public_url"), web.public_url), (("shop", "url"), shop.url)):
        why = unreachable_host(url)
        if why:
            key = ".".join(location)
            message = f"{key} {url!r} cannot be reached by customers: {why}"
            problems.append(config.problem(location, message))
    return problems


def _smtp_problems(config: Config, environ: Mapping[str, str]) -> list[Problem]:
    settings = config.settings
    smtp = settings.smtp
    problems = []
    if smtp.username and not environ.get(PASSWORD_ENV):
        message = f"smtp.username is set but {PASSWORD_ENV} is not: the login would fail"
        problems.append(config.problem(("smtp", "username"), message))
    if not smtp.username and environ.get(PASSWORD_ENV):
        message = f"{PASSWORD_ENV} is set but smtp.username is not: it would never be used"
        problems.append(config.problem(("smtp", "username"), message))
    if smtp.security == "none" and not _is_loopback(smtp.host):
        message = (
            f"smtp.security = none to {smtp.host}: mail and password would cross the network "
            "in clear text (use starttls or ssl; none only to a relay on this machine)"
        )
        problems.append(config.problem(("smtp", "security"), message))
    if smtp.ca_file and not config.beside(smtp.ca_file).is_file():
        message = f"smtp.ca_file: no file {config.beside(smtp.ca_file)}"
        problems.append(config.problem(("smtp", "ca_file"), message))
    if not settings.shop.postal_address.strip():
        message = "shop.postal_address is empty: commercial email must give the sender's address"
        problems.append(config.problem(("shop", "postal_address"), message))
    return problems + _address_problems(config)


def _address_problems(config: Config) -> list[Problem]:
    email, smtp = config.settings.email, config.settings.smtp
    addresses = {
        ("email", "from_address"): email.from_address,
        ("email", "reply_to"): email.reply_to,
        ("email", "unsubscribe_mailto"): email.unsubscribe_mailto,
        ("smtp", "envelope_from"): smtp.envelope_from,
    }
    problems = []
    for location, address in addresses.items():
        why = _unreachable(address.rsplit("@", 1)[1].lower()) if address else None
        if why:
            key = ".".join(location)
            message = f"{key} {address!r}: {why} (replies and bounces would be lost)"
            problems.append(config.problem(location, message))
    return problems


def _twilio_problems(config: Config, environ: Mapping[str, str]) -> list[Problem]:
    twilio = config.settings.twilio
    problems = []
    if not environ.get(TOKEN_ENV):
        message = "not set: SMS cannot be sent, nor Twilio's webhooks verified"
        problems.append(Problem(f"environment {TOKEN_ENV}", None, message))
    if not _ACCOUNT_SID.fullmatch(twilio.account_sid):
        message = f"twilio.account_sid {twilio.account_sid!r} is not an account SID (AC + 32 hex)"
        problems.append(config.problem(("twilio", "account_sid"), message))
    problems += _sender_problems(config)
    return problems + _callback_problems(config) + _pace_problems(config)


def _sender_problems(config: Config) -> list[Problem]:
    twilio = config.settings.twilio
    if twilio.messaging_service_sid is not None:
        if _SERVICE_SID.fullmatch(twilio.messaging_service_sid):
            return []
        message = "twilio.messaging_service_sid is not a Messaging Service SID (MG + 32 hex)"
        return [config.problem(("twilio", "messaging_service_sid"), message)]
    if twilio.from_number is None:
        message = "twilio: set from_number (E.164, +34…) or messaging_service_sid"
        return [config.problem(("twilio",), message)]
    if not _is_e164(twilio.from_number):
        message = f"twilio.from_number {twilio.from_number!r} is not a number in E.164 (+34…)"
        return [config.problem(("twilio", "from_number"), message)]
    return []


def _is_e164(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return False
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164 == number and phonenumbers.is_possible_number(parsed)


def _callback_problems(config: Config) -> list[Problem]:
    """`leal serve` checks Twilio's signature against public_url + path, so a callback
    elsewhere is refused every time, and one over http is refused by Twilio's rules."""
    callback = config.settings.twilio.status_callback
    if callback is None:
        return []
    location = ("twilio", "status_callback")
    expected = config.settings.web.public_url.rstrip("/") + STATUS_PATH
    if urlsplit(callback).scheme != "https":
        return [config.problem(location, f"twilio.status_callback {callback!r} is not https")]
    if callback.split("?", 1)[0] != expected:
        message = (
            f"twilio.status_callback {callback!r} is not {expected!r} ([web] public_url + "
            f"{STATUS_PATH}): `leal serve` would refuse every callback's signature"
        )
        return [config.problem(location, message)]
    return []


def _pace_problems(config: Config) -> list[Problem]:
    """A batch of SMS at the configured pace must end before its claim times out, or
    recovery hands a live worker's rows to another one and both send them."""
    delivery, twilio = config.settings.delivery, config.settings.twilio
    minutes = delivery.batch / twilio.rate_per_second / 60
    if minutes < delivery.claim_timeout_minutes:
        return []
    message = (
        f"delivery.batch {delivery.batch} at twilio.rate_per_second {twilio.rate_per_second} "
        f"takes {minutes:.0f} min, not under delivery.claim_timeout_minutes "
        f"{delivery.claim_timeout_minutes}: lower the batch or raise the timeout"
    )
    return [config.problem(("delivery", "batch"), message)]
