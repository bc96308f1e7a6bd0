"""Hostile shop data: the big list of naughty strings in every import field and event, then
rendered as names. Each value is stored as given or refused at its file:line, never a
crash; what is stored renders escaped in HTML, as typed in text, and never as a header."""

from __future__ import annotations

import csv
import email
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy import Engine, select

from campaigns.config import Settings
from shop.csv_rows import COLUMNS
from shop.events import EventError, apply_event
from shop.models import Customer, Product
from templates.context import MessageRef, Personal, build_contexts
from templates.loader import TemplateSet
from templates.mime import EmailBuilder, EmailParts
from templates.render import Renderer
from templates.unsubscribe import Signer
from tests.hostile.corpora import crlf_payloads, naughty_strings
from tests.shop.import_files import run

GOOD = {
    "customers": {
        "customer_id": "", "email": "ana@example.com", "phone": "+34612345678",
        "first_name": "Ana", "last_name": "Pérez", "birth_date": "1990-02-28", "locale": "ca",
        "timezone": "Europe/Madrid", "email_opt_in": "true", "sms_opt_in": "false",
        "created_at": "2024-01-15T10:00:00",
    },
    "products": {
        "sku": "", "name": "Cup", "category": "Tableware", "price": "12.50",
        "image_url": "https://shop.example/cup.jpg", "url": "https://shop.example/cup",
        "in_stock": "true",
    },
}  # fmt: skip
AT = datetime(2026, 2, 28, 10, tzinfo=UTC)
KEYS = {"customers": "customer_id", "products": "sku"}
MODELS = {"customers": (Customer, "id"), "products": (Product, "sku")}


def _hostile_rows(name: str) -> list[dict[str, str]]:
    """One row per (column, naughty string): a good row with that one field replaced."""
    rows = []
    for column in COLUMNS[name]:
        for number, value in enumerate(naughty_strings()):
            row = GOOD[name] | {KEYS[name]: f"{column}-{number}"}
            rows.append(row | {column: value})
    return rows


def _write_csv(path: Path, name: str, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS[name], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _lines(path: Path) -> list[int]:
    """The line each record of a CSV file starts on (a quoted newline spans lines)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader, starts, end = csv.reader(handle), [], 1
        next(reader)
        for _ in reader:
            starts.append(end + 1)
            end = reader.line_num
    return starts


def test_naughty_strings_in_every_customer_and_product_field_are_stored_or_refused(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    for name in ("customers", "products"):
        # given each naughty string in each field of an otherwise good row
        rows = _hostile_rows(name)
        folder = tmp_path / name
        folder.mkdir()
        path = folder / f"{name}.csv"
        _write_csv(path, name, rows)
        # when the file is imported
        report = run(engine, folder, settings)
        # then every row is either refused at its own line or stored
        refused = {int(p.split(":")[1]) for p in report.problems if p.startswith(f"{path}:")}
        assert len(refused) == len(report.problems), report.problems[:5]
        model, _ = MODELS[name]
        with engine.connect() as connection:
            stored = {row[0]: row for row in connection.execute(select(model.__table__))}
        for line, row in zip(_lines(path), rows, strict=True):
            assert (line in refused) != (row[KEYS[name]] in stored), (line, row)
        # and a stored text field holds exactly what the file said
        for row in rows:
            found = stored.get(row[KEYS[name]])
            if found is not None and name == "customers":
                assert (found.first_name, found.last_name) == (row["first_name"],
                                                               row["last_name"])  # fmt: skip


def test_naughty_strings_through_the_event_path_are_stored_or_refused(
    engine: Engine, settings: Settings
) -> None:
    # given every third naughty string (each event is a whole import: the CSV test above
    # takes them all), in a customer field taken in turn
    columns = COLUMNS["customers"]
    for number, value in list(enumerate(naughty_strings()))[::3]:
        column = columns[number % len(columns)]
        event = GOOD["customers"] | {"customer_id": f"e{number}", column: value}
        # when it is applied as a shop event
        try:
            apply_event(engine, settings, "customer", event)
        except EventError as error:
            # then a refusal names the file and the reason, never a crash
            assert all(p.startswith("customers: ") for p in error.problems), error.problems
            continue
        # or the value is stored
        with engine.connect() as connection:
            found = connection.execute(select(Customer).where(Customer.id == event["customer_id"]))
            assert found.first() is not None, (column, value)


def test_a_lone_surrogate_in_an_event_is_refused(engine: Engine, settings: Settings) -> None:
    # given a JSON event whose name is "\\ud800" (valid JSON, not encodable text)
    event = GOOD["customers"] | {"customer_id": "s1", "first_name": "\ud800"}
    # when applied, then it is refused like any bad field, not a crash
    with pytest.raises(EventError):
        apply_event(engine, settings, "customer", event)


def _email_templates(folder: Path) -> Renderer:
    parts = {
        "subject.txt": "Hola {{ customer.first_name }} {{ customer.last_name }}",
        "text.txt": "[{{ customer.first_name }}] [{{ customer.last_name }}]",
        "email.mjml": "<mjml><mj-body><mj-section><mj-column><mj-text>[{{ customer.first_name }}]"
        " [{{ customer.last_name }}]</mj-text></mj-column></mj-section></mj-body></mjml>",
    }
    for part, text in parts.items():
        (folder / "hello" / "en").mkdir(parents=True, exist_ok=True)
        (folder / "hello" / "en" / part).write_text(text, encoding="utf-8")
    return Renderer(TemplateSet(folder, "en"))


def test_naughty_and_crlf_names_render_escaped_in_html_as_typed_in_text_never_as_headers(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given customers whose first and last names are each naughty string and CRLF payload,
    # imported from a file (so only what the import accepts is stored)
    names = naughty_strings() + crlf_payloads()
    rows = [
        GOOD["customers"] | {"customer_id": f"n{i}", "first_name": n, "last_name": n[::-1]}
        for i, n in enumerate(names)
    ]
    folder = tmp_path / "shop"
    folder.mkdir()
    _write_csv(folder / "customers.csv", "customers", rows)
    report = run(engine, folder, settings)
    assert all("control character" in p or "longer than" in p for p in report.problems)
    with engine.connect() as connection:
        stored = list(connection.scalars(select(Customer.id)))
        refs = [MessageRef("hello", "birthday", customer, "email", "birthday:2026",
                           {"birthday_on": "2026-02-28"}) for customer in stored]  # fmt: skip
        built = build_contexts(connection, settings, refs, date(2026, 2, 28), Signer(b"s" * 32),
                               Personal())  # fmt: skip
    renderer = _email_templates(tmp_path / "templates")
    builder = EmailBuilder("Café", "hola@cafe.example", None)
    by_id = {row["customer_id"]: row for row in rows}
    assert len(stored) > len(names) * 0.9
    for customer, context in zip(stored, built, strict=True):
        assert isinstance(context, dict)
        first, last = by_id[customer]["first_name"], by_id[customer]["last_name"]
        # when the email is rendered and built
        rendered = renderer.email("hello", context)
        # then the names are escaped in HTML and as typed in the text
        assert f"[{escape(first)}] [{escape(last)}]" in rendered.html
        assert rendered.text == f"[{first}] [{last}]"
        # and the subject is one header, whatever the name holds
        data = builder.build(EmailParts(
            to_address="ana@example.com", subject=rendered.subject, text=rendered.text,
            html=rendered.html, message_id="<1@cafe.example>", date=AT,
            list_unsubscribe_https=None, list_unsubscribe_mailto=None,
        ))  # fmt: skip
        message = email.message_from_bytes(data)
        assert len(message.get_all("Subject", [])) == 1
        assert not {key.lower() for key in message} - {
            "subject",
            "from",
            "to",
            "date",
            "message-id",
            "mime-version",
            "content-type",
        }, customer
