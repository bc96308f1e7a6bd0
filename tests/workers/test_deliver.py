"""Delivery through the file channel: the ledger decides, nothing twice, checks at send time."""

from __future__ import annotations

import email
import json
import logging
from datetime import date, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.models import Customer, OutboxMessage
from templates.unsubscribe import Signer
from tests.factories import ShopFactory, local
from workers import ledger
from workers.run import deliver_due

AT = local("2026-06-15 09:00")
NOW = local("2026-06-15 10:00")  # inside every sending window
SIGNER = Signer(b"k" * 32)


def _config(settings: Settings, folder: Path) -> Config:
    birthday = {"trigger": "birthday", "channels": ["email", "sms"], "template": "birthday",
                "holdout_percent": 0, "offer": {"percent_off": 15, "valid_days": 30}}  # fmt: skip
    data = settings.model_dump() | {
        "campaigns": {"birthday": birthday},
        "delivery": {"folder": folder},
        "email": {"from_address": "hola@cafe.example"},
        "web": {"public_url": "https://leal.cafe.example"},
    }
    return Config(Settings(**data), None)


def _rows(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as connection:
        query = select(OutboxMessage.channel, OutboxMessage.status, OutboxMessage.reason)
        return {channel: (status, reason) for channel, status, reason in connection.execute(query)}


def test_planned_messages_are_delivered_once_with_their_coupon(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given a planned birthday email and SMS for Ana
    shop.customer("ana", birth_date=date(1990, 6, 15), first_name="Ana", locale="ca")
    config = _config(settings, tmp_path)
    daily_run(engine, config, AT)
    # when the due rows are delivered, then delivered again
    first = deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    again = deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    # then each went out once, and the ledger says so
    assert first == {"sent": 2} and not again
    assert _rows(engine) == {"email": ("sent", None), "sms": ("sent", None)}
    [eml] = (tmp_path / "email").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "ana@example.com"
    assert str(message["Subject"]) == "Per molts anys, Ana! Un regal de Leal Demo Shop"
    assert message["Message-ID"] == f"<leal.outbox.{eml.stem}@cafe.example>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [sms_file] = (tmp_path / "sms").glob("*.json")
    sms = json.loads(sms_file.read_text(encoding="utf-8"))
    assert sms["to"] == "+34600000000" and "Per molts anys, Ana!" in sms["body"]
    code = sms["body"].split("codi ")[1][:11]
    html = message.get_body(("html",))
    assert html is not None and code in html.get_content()  # both channels, one coupon


def test_consent_is_checked_again_at_send_time(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given a planned birthday, after which Ana withdrew her SMS consent
    shop.customer("ana", birth_date=date(1990, 6, 15))
    config = _config(settings, tmp_path)
    daily_run(engine, config, AT)
    with engine.begin() as connection:
        connection.execute(update(Customer).values(sms_opt_in=False))
    # when delivered
    tally = deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    # then the email went, the SMS was skipped with the reason
    assert tally == {"sent": 1, "skipped:no_consent": 1}
    assert _rows(engine)["sms"] == ("skipped", "no_consent")
    assert not list((tmp_path / "sms").glob("*.json"))


def test_a_name_that_would_break_the_subject_skips_the_email(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    shop.customer("ana", birth_date=date(1990, 6, 15), first_name="Ana\r\nBcc: x@y.z")
    config = _config(settings, tmp_path)
    daily_run(engine, config, AT)
    tally = deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    assert tally["skipped:render"] == 1
    assert _rows(engine)["email"] == ("skipped", "render")
    assert not list((tmp_path / "email").glob("*.eml"))


def due_for_ana(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> tuple[list[int], datetime]:
    """Ana's planned birthday email and SMS, and an instant at which they are due."""
    shop.customer("ana", birth_date=date(1990, 6, 15))
    daily_run(engine, _config(settings, tmp_path), AT)
    now = AT + timedelta(minutes=1)
    with engine.connect() as connection:
        return ledger.due_ids(connection, now, 10), now


def test_a_row_is_claimed_once_and_a_lost_worker_gives_it_back(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given two planned rows
    ids, now = due_for_ana(engine, settings, shop, tmp_path)
    lost, new = ledger.new_token(), ledger.new_token()
    with engine.begin() as connection:
        # when two workers claim the same rows, one after the other
        first = ledger.claim(connection, ids, now, lost)
        second = ledger.claim(connection, ids, now, new)
    # then only the first wins them
    assert (first, second) == (ids, [])
    with engine.begin() as connection:
        # when the first worker dies, its claim goes stale and another worker claims the rows
        released = ledger.release_stale(connection, now + timedelta(minutes=10), now)
        assert released == 2
        assert ledger.claim(connection, ids, now, new) == ids
    with engine.connect() as connection:  # a worker's connection: `hold` commits itself
        # then the worker that lost them can neither hold nor record them; the new owner can
        assert not ledger.hold(connection, ids[0], lost, now)
        assert ledger.finish(connection, ids[0], lost, ledger.SENT, now) is False
        assert not ledger.defer(connection, ids[1], lost, now, now, "sending_hours")
        assert ledger.renew(connection, ids, lost, now) == 0
        assert ledger.hold(connection, ids[0], new, now)
        assert ledger.finish(connection, ids[0], new, ledger.SENT, now, commit=True) is True
        assert ledger.renew(connection, ids, new, now) == 1  # the one still sending


def test_delivery_logs_carry_ids_and_states_never_personal_data(
    engine: Engine,
    settings: Settings,
    shop: ShopFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop.customer("ana", birth_date=date(1990, 6, 15), first_name="Anaïs", phone="+34611111111")
    config = _config(settings, tmp_path)
    daily_run(engine, config, AT)
    with caplog.at_level(logging.INFO, logger="leal.delivery"):
        deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2 and all("status=sent" in line for line in lines)
    assert all(line.startswith("outbox=") and "campaign=birthday" in line for line in lines)
    text = " ".join(lines)
    for personal in ("ana@example.com", "+34611111111", "Anaïs", "unsubscribe"):
        assert personal not in text


def test_a_template_over_its_limits_for_one_customer_skips_only_that_message(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    import shutil

    from templates.loader import SHIPPED

    # given the shop's own birthday SMS, whose loop explodes for one customer only
    own = tmp_path / "templates"
    for folder in ("birthday", "_shared"):
        shutil.copytree(SHIPPED / folder, own / folder)
    bomb = "{% if customer.first_name == 'Bo' %}{% for i in range(10000) %}{% for j in "
    bomb += "range(10000) %}{% endfor %}{% endfor %}{% endif %}"
    (own / "birthday" / "en" / "sms.txt").write_text(bomb + "Happy birthday!", encoding="utf-8")
    for name in ("ana", "bo", "cy"):
        shop.customer(name, birth_date=date(1990, 6, 15), first_name=name.title(), locale="en")
    config = _config(settings, tmp_path / "out")
    config = Config(Settings(**(config.settings.model_dump() | {"templates": {"dir": own}})), None)
    daily_run(engine, config, AT)
    # when the batch is delivered
    tally = deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    # then only Bo's SMS is skipped, with the limit and the file it broke in, and the rest
    # of the batch (Ana's and Cy's SMS, all three emails) went out
    assert tally == {"sent": 5, "skipped:render": 1}
    with engine.connect() as connection:
        [(customer, detail)] = connection.execute(
            select(OutboxMessage.customer_id, OutboxMessage.detail).where(
                OutboxMessage.status == "skipped"
            )
        ).all()
    assert customer == "bo" and "birthday/en/sms.txt" in (detail or "")
