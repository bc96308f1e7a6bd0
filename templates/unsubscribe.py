"""Signed unsubscribe tokens: one per customer and channel, unforgeable, not enumerable.

A token is `<payload>.<mac>`: the payload names the channel and the customer, the MAC is
HMAC-SHA256 under `LEAL_SECRET_KEY` (128 bits kept), so nobody without the key can make
a token for another customer, or guess one. The key only ever comes from the
environment; a demo or a preview without one signs with a throwaway key.

Decoding is strict: a token has exactly one spelling (unpadded URL-safe base64 with zero
trailing bits), so a re-spelled token (padding, `+/`, whitespace, other trailing bits) is
refused like a forged one rather than silently accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

SECRET_ENV = "LEAL_SECRET_KEY"  # noqa: S105 (the variable's name, not a secret)
_PURPOSE = b"leal-unsubscribe-v1\x00"
_MAC_BYTES = 16
CHANNELS = frozenset({"email", "sms"})
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_SEPARATOR = "\x1f"  # the fields of a signed token; ids never hold control characters


class MissingSecretError(RuntimeError):
    """LEAL_SECRET_KEY is not set where real links are needed."""


class BadTokenError(ValueError):
    """A token that is malformed or was not signed with our key."""


@dataclass(frozen=True)
class Unsubscribe:
    customer_id: str
    channel: str


class Signer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise MissingSecretError(f"{SECRET_ENV} must hold at least 16 bytes")
        self._key = key

    @classmethod
    def from_env(cls, *, ephemeral_ok: bool = False) -> Signer:
        """The key from LEAL_SECRET_KEY; without it, a random one if `ephemeral_ok`
        (links then stop verifying when the process ends), else MissingSecretError."""
        value = os.environ.get(SECRET_ENV, "")
        if value:
            return cls(value.encode())
        if ephemeral_ok:
            return cls(secrets.token_bytes(32))
        hint = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        raise MissingSecretError(f"set {SECRET_ENV}, e.g. to the output of: {hint}")

    def token(self, customer_id: str, channel: str) -> str:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        payload = f"{channel}:{customer_id}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str) -> Unsubscribe:
        """What a token unsubscribes; BadTokenError unless it is ours and intact."""
        payload_text, _, mac_text = token.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise BadTokenError("malformed token") from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise BadTokenError("bad signature")
        channel, _, customer_id = payload.decode("utf-8", "replace").partition(":")
        if channel not in CHANNELS or not customer_id:
            raise BadTokenError("malformed token")
        return Unsubscribe(customer_id, channel)

    def sign(self, purpose: str, *fields: str) -> str:
        """A token for `fields` under `purpose` (`survey`, `card`…): a token made for one
        purpose never verifies for another, nor as an unsubscribe token."""
        if any(_SEPARATOR in field or not field for field in fields):
            raise ValueError("token fields must be non-empty and hold no separator")
        payload = _SEPARATOR.join(fields).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload, _purpose(purpose)))}"

    def open(self, purpose: str, token: str, count: int) -> tuple[str, ...]:
        """The `count` fields a `sign(purpose, …)` token carries; BadTokenError unless it
        is ours, for this purpose, and intact."""
        payload_text, _, mac_text = token.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise BadTokenError("malformed token") from None
        if not hmac.compare_digest(mac, self._mac(payload, _purpose(purpose))):
            raise BadTokenError("bad signature")
        fields = tuple(payload.decode("utf-8", "replace").split(_SEPARATOR))
        if len(fields) != count or not all(fields):
            raise BadTokenError("malformed token")
        return fields

    def _mac(self, payload: bytes, purpose: bytes = b"") -> bytes:
        message = (purpose or _PURPOSE) + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def _purpose(name: str) -> bytes:
    if not name.isalnum():
        raise ValueError(f"bad token purpose {name!r}")
    return f"leal-{name}-v1".encode() + b"\x00"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """The bytes `text` spells, only if `_b64` spells them exactly so.

    `urlsafe_b64decode` alone skips characters outside its alphabet, accepts `+/` and
    ignores the trailing bits, so several spellings would decode to one token."""
    if not _B64URL.fullmatch(text):
        raise ValueError("not unpadded URL-safe base64")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical spelling")
    return data
