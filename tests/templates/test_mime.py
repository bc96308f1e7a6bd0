"""Email bytes: structure, exact round trip through Python's parser, and no injection."""

from __future__ import annotations

import base64
import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message

import pytest

from templates.mime import (
    EmailBuilder,
    EmailParts,
    HeaderInjectionError,
    _base64_lines,
    ledger_message_id,
)

SHOP = EmailBuilder("Cafè Leal", "hola@cafe.example", reply_to="ajuda@cafe.example")
WHEN = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
HEADERS = [
    "From", "Reply-To", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe",
    "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
]  # fmt: skip


def parts(**changes: str) -> EmailParts:
    values = {
        "to_address": "ana@example.com",
        "subject": "Per molts anys, Anaïs! 🎂 Un regal de Cafè Leal",
        "text": "Hola Anaïs,\nEl teu codi: ABCDE-FGHJK\n",
        "html": "<p>Hola Anaïs</p>\n<p>" + "ò" * 2000 + "</p>\n",
        "message_id": "<outbox-42.leal@cafe.example>",
        "list_unsubscribe_https": "https://cafe.example/unsubscribe/abc.def",
        "list_unsubscribe_mailto": "mailto:baixa@cafe.example?subject=abc.def",
    } | changes
    return EmailParts(date=WHEN, **values)


def parse(raw: bytes, kind: policy.Policy = policy.default) -> Message:
    return email.message_from_bytes(raw, policy=kind)


def test_headers_and_both_parts_round_trip_exactly() -> None:
    message = parse(SHOP.build(parts()))
    assert isinstance(message, EmailMessage)
    assert list(message.keys()) == HEADERS
    assert str(message["From"]) == "Cafè Leal <hola@cafe.example>"
    assert str(message["Subject"]) == "Per molts anys, Anaïs! 🎂 Un regal de Cafè Leal"
    assert message["List-Unsubscribe"] == (
        "<https://cafe.example/unsubscribe/abc.def>, <mailto:baixa@cafe.example?subject=abc.def>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content() == "Hola Anaïs,\r\nEl teu codi: ABCDE-FGHJK\r\n"
    assert html.get_content() == parts().html.replace("\n", "\r\n")


def test_every_line_ends_with_crlf_and_fits_smtp() -> None:
    raw = SHOP.build(parts(html="x" * 5000 + "\n.leading dot\nFrom here\n"))
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 78
    message = parse(raw)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    assert html is not None
    # MIME text is canonical CRLF, and the parser hands it back as such
    assert html.get_content() == "x" * 5000 + "\r\n.leading dot\r\nFrom here\r\n"


def test_a_long_subject_is_folded_and_decodes_back() -> None:
    subject = "Ștefan, ți-am păstrat coșul: " + "cafea și ceai " * 12
    raw = SHOP.build(parts(subject=subject))
    assert str(parse(raw)["Subject"]) == subject
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78


def test_without_an_https_url_there_is_no_one_click_header() -> None:
    message = parse(SHOP.build(parts(list_unsubscribe_https="")))
    assert message["List-Unsubscribe"] == "<mailto:baixa@cafe.example?subject=abc.def>"
    assert "List-Unsubscribe-Post" not in message


def test_a_plain_http_link_gets_no_one_click_header() -> None:
    message = parse(SHOP.build(parts(list_unsubscribe_https="http://localhost:8000/u/x")))
    assert message["List-Unsubscribe"].startswith("<http://localhost:8000/u/x>")
    assert "List-Unsubscribe-Post" not in message


def test_a_retry_is_the_same_bytes() -> None:
    assert SHOP.build(parts()) == SHOP.build(parts())


@pytest.mark.parametrize(
    "field",
    ["subject", "to_address", "message_id", "list_unsubscribe_https", "list_unsubscribe_mailto"],
)
@pytest.mark.parametrize("evil", ["\r\nBcc: x@y.z", "\nBcc: x@y.z", "\rBcc: x@y.z", "\x00"])
def test_a_control_character_in_any_header_value_is_refused(field: str, evil: str) -> None:
    value = getattr(parts(), field)
    with pytest.raises(HeaderInjectionError):
        SHOP.build(parts(**{field: value + evil}))


@pytest.mark.parametrize("evil", ["Ana\r\nBcc: x@y.z", "Ana\nBcc: x@y.z"])
def test_a_display_name_with_a_newline_is_refused(evil: str) -> None:
    with pytest.raises(HeaderInjectionError):
        EmailBuilder(evil, "hola@cafe.example")


@pytest.mark.parametrize("kind", [policy.default, policy.compat32], ids=["default", "compat32"])
def test_an_encoded_newline_in_data_stays_literal_text(kind: policy.Policy) -> None:
    evil = "=?UTF-8?Q?=0A?=Bcc: x@y.z"
    raw = EmailBuilder(evil, "hola@cafe.example").build(parts(subject=evil))
    message = parse(raw, kind)
    assert list(message.keys()) == [h for h in HEADERS if h != "Reply-To"]
    assert "Bcc" not in message
    if kind is policy.default:
        assert str(message["Subject"]) == evil


@pytest.mark.parametrize(
    "address",
    ["ana@example.com, bo@example.com", "Ana <ana@example.com>", "ana", "añа@example.com"],
)
def test_anything_but_one_plain_address_is_refused(address: str) -> None:
    with pytest.raises(HeaderInjectionError):
        SHOP.build(parts(to_address=address))


def test_the_message_id_comes_from_the_ledger_row() -> None:
    assert ledger_message_id(42, "hola@cafe.example") == "<leal.outbox.42@cafe.example>"
    assert ledger_message_id(42, "hola@cafe.example") != ledger_message_id(43, "hola@cafe.example")
    message = parse(SHOP.build(parts(message_id=ledger_message_id(42, "hola@cafe.example"))))
    assert message["Message-ID"] == "<leal.outbox.42@cafe.example>"


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 113, 114, 115, 4096])
def test_base64_lines_match_the_stdlib_encoder(size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    expected = base64.encodebytes(data[:size]).replace(b"\n", b"\r\n")
    assert _base64_lines(data[:size]) == expected
