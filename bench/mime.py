"""Time building one marketing email: Leal's builder beside EmailMessage.

    python bench/mime.py

Both build the same message: multipart/alternative, a 2 KB text part and a 35 KB HTML
part in Catalan, a subject with accents, List-Unsubscribe and the one-click header.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from templates.mime import EmailBuilder, EmailParts

N = 2000
TEXT = "Hola Anaïs, per molts anys! Aquí tens el teu regal de Cafè Leal.\n" * 32
HTML = "<tr><td style='padding:8px'>Cafè d'Etiòpia · 12,50 €</td></tr>\n" * 560
PARTS = EmailParts(
    to_address="anais@example.com",
    subject="Per molts anys, Anaïs! Un regal de Cafè Leal",
    text=TEXT,
    html=HTML,
    message_id="<outbox-42.leal@cafe.example>",
    date=datetime(2026, 12, 24, 9, tzinfo=UTC),
    list_unsubscribe_https="https://cafe.example/unsubscribe/ZW1haWw6QzAwNDI.c2lnbmF0dXJl",
    list_unsubscribe_mailto="mailto:baixa@cafe.example?subject=unsubscribe",
)


def ours() -> bytes:
    return EmailBuilder("Cafè Leal", "hola@cafe.example", "ajuda@cafe.example").build(PARTS)


def stdlib() -> bytes:
    message = EmailMessage()
    message["From"] = "Cafè Leal <hola@cafe.example>"
    message["Reply-To"] = "ajuda@cafe.example"
    message["To"] = PARTS.to_address
    message["Subject"] = PARTS.subject
    message["Date"] = format_datetime(PARTS.date)
    message["Message-ID"] = PARTS.message_id
    message["List-Unsubscribe"] = (
        f"<{PARTS.list_unsubscribe_https}>, <{PARTS.list_unsubscribe_mailto}>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(PARTS.text)
    message.add_alternative(PARTS.html, subtype="html")
    return message.as_bytes(policy=SMTP)


def timed(build: Callable[[], bytes], n: int) -> tuple[float, int]:
    size = len(build())
    started = time.perf_counter()
    for _ in range(n):
        build()
    return (time.perf_counter() - started) / n, size


def main() -> None:
    for name, build, n in (("leal EmailBuilder", ours, N), ("EmailMessage", stdlib, N // 20)):
        seconds, size = timed(build, n)
        print(
            f"{name:<20}{seconds * 1e6:>9,.0f} µs/message {1 / seconds:>9,.0f} messages/s "
            f"per core, {size:,} bytes"
        )


if __name__ == "__main__":
    main()
