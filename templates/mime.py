"""Marketing emails as RFC 5322 bytes, built directly: fast, and closed to header injection.

`email.message.EmailMessage` with the default policy costs ~2.5–5 ms a message; this builder
writes the same structure (multipart/alternative, text then HTML, UTF-8 in base64, CRLF)
from a template in about a tenth of that. Safety does not rest on the
encoder: every header value is refused outright if it holds a control character (CR, LF,
NUL…), so no data can start a header; text that is not plain ASCII, or that contains
`=?`, is always written as our own RFC 2047 encoded-words, so a parser decodes it back
to the literal text (CVE-2024-6923 was a generator that did not).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

import numpy as np
import numpy.typing as npt

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
)
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")
_URL = re.compile(r"(https?|mailto):[\x21-\x3b\x3d\x3f-\x7e]+")
_CRLF_COLUMN = np.tile(np.frombuffer(b"\r\n", dtype=np.uint8), (4096, 1))  # 230 KiB of base64
_CHUNK_BYTES = 39  # UTF-8 bytes per encoded-word: 64 characters, 73 after "Subject: "


class HeaderInjectionError(ValueError):
    """A header value that could break out of its header, or an invalid address or URL."""


@dataclass(frozen=True)
class EmailParts:
    to_address: str
    subject: str
    text: str
    html: str
    message_id: str  # "<outbox-123.leal@shop.example>": stable across retries
    date: datetime
    list_unsubscribe_https: str | None = None
    list_unsubscribe_mailto: str | None = None


def ledger_message_id(outbox_id: int, from_address: str) -> str:
    """The Message-ID of an outbox row: the same for every retry of it, unique per row."""
    return f"<leal.outbox.{outbox_id}@{_address(from_address).rpartition('@')[2]}>"


class EmailBuilder:
    """One sender's messages; the From and Reply-To lines are encoded once."""

    def __init__(self, from_name: str, from_address: str, reply_to: str | None = None) -> None:
        self.fixed = f"From: {_mailbox(from_name, from_address)}\r\n"
        if reply_to is not None:
            self.fixed += f"Reply-To: {_address(reply_to)}\r\n"

    def build(self, parts: EmailParts) -> bytes:
        boundary = _boundary(parts.message_id)
        head = (
            self.fixed
            + f"To: {_address(parts.to_address)}\r\n"
            + f"Subject: {_unstructured(parts.subject)}\r\n"
            + f"Date: {format_datetime(parts.date)}\r\n"
            + f"Message-ID: {_message_id(parts.message_id)}\r\n"
            + _unsubscribe(parts.list_unsubscribe_https, parts.list_unsubscribe_mailto)
            + "MIME-Version: 1.0\r\n"
            + f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
        )
        return b"".join(
            (
                head.encode("ascii"),
                _part(boundary, "text/plain", parts.text),
                _part(boundary, "text/html", parts.html),
                f"--{boundary}--\r\n".encode("ascii"),
            )
        )


def _part(boundary: str, content_type: str, body: str) -> bytes:
    head = (
        f"--{boundary}\r\nContent-Type: {content_type}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    )
    return head.encode("ascii") + _base64_lines(_crlf(body).encode("utf-8"))


def _crlf(text: str) -> str:
    """Canonical MIME text: every line break CRLF."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "\r\n")


def _base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character CRLF lines. binascii encodes all of it in one C call and
    numpy cuts the lines (a list of slices cost twice as much); the stdlib's line-by-line
    encoders cost three times as much, and quoted-printable more still."""
    encoded = binascii.b2a_base64(data, newline=False)
    rows = len(encoded) // 76
    grid = np.frombuffer(encoded, dtype=np.uint8, count=rows * 76).reshape(rows, 76)
    lines = np.concatenate((grid, _crlf_column(rows)), axis=1).tobytes()
    rest = encoded[rows * 76 :]
    return lines + rest + b"\r\n" if rest else lines


def _crlf_column(rows: int) -> npt.NDArray[np.uint8]:
    return _CRLF_COLUMN[:rows] if rows <= len(_CRLF_COLUMN) else np.tile(_CRLF_COLUMN[0], (rows, 1))


def _boundary(message_id: str) -> str:
    """From the message id, so a retried message is the same bytes. `_` is not a base64
    character, so the boundary cannot occur in a part."""
    return "=_leal_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]


def _check(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise HeaderInjectionError(f"{what} contains a control character (CR, LF, …)")
    return value


def _address(value: str) -> str:
    _check(value, "address")
    if _ADDRESS.fullmatch(value) is None or len(value) > 254:
        raise HeaderInjectionError(f"not a plain ASCII email address: {value[:60]!r}")
    return value


def _mailbox(name: str, address: str) -> str:
    _check(name, "display name")
    if not name:
        return _address(address)
    if _ATOMS.fullmatch(name) and "=?" not in name:
        return f'"{name}" <{_address(address)}>'
    return f"{_encoded_words(name)} <{_address(address)}>"


def _unstructured(value: str) -> str:
    _check(value, "subject")
    if value.isascii() and "=?" not in value and len(value) <= 900:
        return value
    return _encoded_words(value)


def _encoded_words(value: str) -> str:
    """RFC 2047 B-encoded words of at most 75 characters, folded one per line; a word
    never splits a character."""
    words, chunk = [], b""
    for character in value:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > _CHUNK_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


def _message_id(value: str) -> str:
    if _MESSAGE_ID.fullmatch(_check(value, "Message-ID")) is None:
        raise HeaderInjectionError(f"not a Message-ID: {value[:60]!r}")
    return value


def _unsubscribe(https: str | None, mailto: str | None) -> str:
    """RFC 2369 List-Unsubscribe, and RFC 8058 one-click when there is an https URL."""
    urls = [_url(url) for url in (https, mailto) if url]
    if not urls:
        return ""
    line = "List-Unsubscribe: " + ",\r\n ".join(f"<{url}>" for url in urls) + "\r\n"
    if https and https.startswith("https:"):  # RFC 8058: one-click only over HTTPS
        line += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    return line


def _url(value: str) -> str:
    if _URL.fullmatch(_check(value, "List-Unsubscribe URL")) is None or len(value) > 900:
        raise HeaderInjectionError(f"not an http(s) or mailto URL: {value[:60]!r}")
    return value
