"""Keyed hashes of canonical addresses: how suppressions are stored and matched.

An address is first made canonical, so that spellings of one mailbox or one number give one
hash: an email is NFC-normalized with its domain lowercased (email-validator) and then
lowercased whole; a phone number is E.164 (phonenumbers). The local part is lowercased too
although RFC 5321 lets a server tell `Ana@` from `ana@`: no mailbox provider we know of
does, and a suppression that matches too much only withholds a message, while one that
matches too little writes again to someone who said no. Dots and `+tags` stay: those rules
are one provider's (Gmail), not the address's.

The hash is HMAC-SHA256 under the installation's own random key, kept in the database
(`privacy_keys`, made by migration 0012). It is not LEAL_SECRET_KEY: that one signs links
and may be rotated, and rotating the key of the hashes would orphan every suppression.
docs/privacy.md says what this protects against and what it does not.
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, exists, or_, select

from shop.models import Customer, PrivacyKey, Suppression
from shop.sql import upsert_insert

KEY_NAME = "address-hashes"
CHANNELS = ("email", "sms")

# Everyday ASCII addresses: canonical by lowercasing, without email-validator's cost.
_PLAIN_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


class PrivacyKeyError(RuntimeError):
    """The key of the address hashes is gone while hashes made with it remain."""


def canonical_email(address: str) -> str:
    """One spelling per mailbox (see the module's docstring)."""
    address = address.strip()
    if _PLAIN_EMAIL.fullmatch(address) and "xn--" not in address.lower():
        return address.lower()
    try:
        address = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        address = unicodedata.normalize("NFC", address)  # still hashed: better than nothing
    return address.lower()


def canonical_phone(number: str, region: str | None = None) -> str:
    """E.164, reading national numbers in `region` (the shop's default_phone_region)."""
    number = number.strip()
    if _E164.fullmatch(number):
        return number
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return re.sub(r"[^\d+]", "", number)  # unparseable: compare the digits
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


class Keyer:
    """Hashes addresses under one installation key (get one with `keyer`)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def key(self, channel: str, address: str | None, region: str | None = None) -> str | None:
        if not address:
            return None
        if channel == "email":
            canonical = canonical_email(address)
        elif channel == "sms":
            canonical = canonical_phone(address, region)
        else:
            raise ValueError(f"unknown channel {channel!r}")
        message = f"{channel}:{canonical}".encode()
        return hmac.new(self._secret, message, sha256).hexdigest()


def keyer(connection: Connection) -> Keyer:
    """The installation's Keyer. Made on first use in an empty database; refused (fail
    closed) where hashes exist without their key, since a new key would match none."""
    secret = connection.scalar(select(PrivacyKey.secret).where(PrivacyKey.name == KEY_NAME))
    if secret is None:
        secret = _first_key(connection)
    return Keyer(bytes.fromhex(secret))


def _first_key(connection: Connection) -> str:
    hashed = or_(
        exists().where(Suppression.id.is_not(None)),
        exists().where(or_(Customer.email_key.is_not(None), Customer.phone_key.is_not(None))),
    )
    if connection.scalar(select(hashed)):
        raise PrivacyKeyError(
            "the privacy_keys table has lost the key of the address hashes while suppressions"
            " or customers hold hashes made with it: restore it from a backup (a new key would"
            " let every suppressed address be contacted again)"
        )
    row = {"name": KEY_NAME, "secret": secrets.token_hex(32), "created_at": datetime.now(UTC)}
    insert = upsert_insert(connection, PrivacyKey).on_conflict_do_nothing(index_elements=["name"])
    connection.execute(insert, row)  # two first users: one key wins, both read it
    return str(connection.scalar(select(PrivacyKey.secret).where(PrivacyKey.name == KEY_NAME)))


def insert_default(context: Any, channel: str) -> str | None:
    """Column default of `customers.email_key`/`phone_key`: an INSERT that leaves them out
    (the test factories, a shop's own script) still gets hashes, never a silent NULL."""
    address = context.get_current_parameters().get("email" if channel == "email" else "phone")
    if not address:
        return None
    return keyer(context.connection).key(channel, address)
