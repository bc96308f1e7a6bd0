"""Twilio status callbacks apply monotonically: a late `sent` never overwrites `delivered`,
a `delivered` after `undelivered` is recorded as what it is."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, inspect, select
from twilio.request_validator import RequestValidator

from campaigns.config import Settings
from campaigns.loader import Config
from shop.db import alembic_config, make_engine, migrate
from shop.models import OutboxMessage
from shop.suppressions import described_suppressions
from templates.unsubscribe import SECRET_ENV
from tests.factories import ShopFactory
from workers.channels.twilio_sms import TOKEN_ENV
from workers.web import create_app

PUBLIC = "https://leal.cafe.example"
TOKEN = "twilio-test-token"
NOW = datetime(2026, 6, 15, 8, tzinfo=UTC)


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    config = Config(Settings(**(settings.model_dump() | {"web": {"public_url": PUBLIC}})), None)
    return TestClient(create_app(config, engine, environ={TOKEN_ENV: TOKEN,
                                                          SECRET_ENV: "s" * 32}))  # fmt: skip


def _sent_sms(engine: Engine, shop: ShopFactory, sid: str) -> None:
    customer = shop.customer(f"c-{sid}", phone="+34600000009")
    with engine.begin() as connection:
        connection.execute(insert(OutboxMessage), {
            "campaign": "birthday", "trigger": "birthday", "customer_id": customer,
            "channel": "sms", "occasion": "birthday:2026", "status": "sent", "context": {},
            "run_date": NOW.date(), "due_at": NOW, "created_at": NOW, "updated_at": NOW,
            "provider_id": sid, "sent_at": NOW,
        })  # fmt: skip


def _callback(client: TestClient, sid: str, state: str, code: str = "") -> int:
    form = {"MessageSid": sid, "MessageStatus": state, "To": "+34600000009"}
    if code:
        form["ErrorCode"] = code
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/status", form)
    answer = client.post("/twilio/status", data=form, headers={"X-Twilio-Signature": signature})
    return int(answer.status_code)


def _row(engine: Engine, sid: str) -> tuple[object, ...]:
    with engine.connect() as connection:
        row = connection.execute(
            select(OutboxMessage.status, OutboxMessage.reason, OutboxMessage.provider_status,
                   OutboxMessage.detail, OutboxMessage.sent_at)
            .where(OutboxMessage.provider_id == sid)
        ).one()  # fmt: skip
    return tuple(row)


@pytest.mark.parametrize(
    ("callbacks", "expected"),
    [
        # late, lower states after delivered change nothing
        ([("delivered", ""), ("sent", ""), ("queued", ""), ("sending", "")],
         ("sent", None, "delivered", "twilio delivered")),
        # a delivery receipt after an undelivered one: it reached the phone
        ([("sent", ""), ("undelivered", "30003"), ("delivered", "")],
         ("sent", None, "delivered", "twilio delivered")),
        # a failure after the delivery receipt does not undo it
        ([("delivered", ""), ("undelivered", "30003"), ("failed", "30003")],
         ("sent", None, "delivered", "twilio delivered")),
        # in order, a failure fails the row
        ([("queued", ""), ("sent", ""), ("undelivered", "30003")],
         ("failed", "undelivered", "undelivered", "twilio undelivered 30003")),
        # a status Twilio may add one day is ignored, not a failure
        ([("sent", ""), ("teleported", "")], ("sent", None, "sent", "twilio sent")),
    ],
    ids=["late-sent", "delivered-after-undelivered", "failure-after-delivered", "in-order",
         "unknown-state"],
)  # fmt: skip
def test_callbacks_apply_in_rank_order_whatever_order_they_arrive_in(
    client: TestClient, engine: Engine, shop: ShopFactory,
    callbacks: list[tuple[str, str]], expected: tuple[object, ...],
) -> None:  # fmt: skip
    # given an SMS the ledger shows sent
    _sent_sms(engine, shop, "SMx")
    # when Twilio's callbacks arrive in this order
    answers = [_callback(client, "SMx", state, code) for state, code in callbacks]
    # then each is acknowledged and the row holds the highest-ranked word, sent_at kept
    assert set(answers) == {204}
    assert _row(engine, "SMx") == (*expected, NOW)


def test_a_late_delivered_keeps_the_suppression_an_invalid_number_caused(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    _sent_sms(engine, shop, "SMy")
    assert _callback(client, "SMy", "undelivered", "30006") == 204  # landline
    assert _callback(client, "SMy", "delivered") == 204
    assert _row(engine, "SMy")[:3] == ("sent", None, "delivered")
    with engine.connect() as connection:
        assert described_suppressions(connection) == [("sms", "+34600000009", "invalid_number")]


def test_an_opted_out_error_suppresses_as_an_opt_out(
    client: TestClient, engine: Engine, shop: ShopFactory
) -> None:
    # 21610 is the person's own STOP: the reason a re-import must not undo
    _sent_sms(engine, shop, "SMz")
    assert _callback(client, "SMz", "failed", "21610") == 204
    with engine.connect() as connection:
        assert described_suppressions(connection) == [("sms", "+34600000009", "opted_out")]


def test_migration_0013_adds_and_removes_provider_status(tmp_path: Path) -> None:
    # given a database migrated to head
    url = f"sqlite:///{tmp_path / 'leal.db'}"
    engine = make_engine(url)
    migrate(engine)
    assert "provider_status" in {c["name"] for c in inspect(engine).get_columns("outbox")}
    # when 0013 is downgraded
    command.downgrade(alembic_config(engine), "0012")
    engine.dispose()
    # then the column is gone
    assert "provider_status" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
