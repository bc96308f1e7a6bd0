"""The SMTP channel against a real SMTP server on loopback."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import date, timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.models import OutboxMessage
from shop.suppressions import described_suppressions
from templates.unsubscribe import Signer
from tests.factories import ShopFactory, local
from tests.workers.smtp_sink import Sink, smtp_sink
from workers import ledger
from workers.channels import make_channel
from workers.deliver import Deliverer
from workers.run import deliver_due

AT = local("2026-06-15 09:00")
NOW = local("2026-06-15 10:00")  # inside every sending window
SIGNER = Signer(b"k" * 32)


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as running:
        yield running


def _config(settings: Settings, port: int) -> Config:
    birthday = {
        "trigger": "birthday",
        "channels": ["email"],
        "template": "birthday",
        "holdout_percent": 0,
    }
    data = settings.model_dump() | {
        "campaigns": {"birthday": birthday},
        "delivery": {"email": "smtp"},
        "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
        "email": {"from_address": "hola@cafe.example"},
    }
    return Config(Settings(**data), None)


def test_every_email_arrives_once_over_one_connection(
    engine: Engine, settings: Settings, shop: ShopFactory, sink: tuple[Sink, int]
) -> None:
    server, port = sink
    for n in range(5):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15), first_name=f"Client {n}")
    config = _config(settings, port)
    daily_run(engine, config, AT)
    assert deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW) == {"sent": 5}
    assert deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW) == {}
    subjects = sorted(
        str(email.message_from_bytes(raw, policy=policy.default)["Subject"])
        for raw in server.messages
    )
    assert subjects == [
        f"¡Feliz cumpleaños, Client {n}! Todo el equipo de Leal Demo Shop te felicita"
        for n in range(5)
    ]
    assert sorted(server.recipients) == [f"c{n}@example.com" for n in range(5)]
    assert server.sessions == 1  # the connection is reused


def test_a_temporary_refusal_retries_later_and_a_hard_bounce_suppresses(
    engine: Engine, settings: Settings, shop: ShopFactory, sink: tuple[Sink, int]
) -> None:
    server, port = sink
    for name in ("ok", "busy", "gone"):
        shop.customer(name, birth_date=date(1990, 6, 15))
    server.replies = {"busy@example.com": "450 4.2.1 mailbox busy",
                      "gone@example.com": "550 5.1.1 no such user"}  # fmt: skip
    config = _config(settings, port)
    daily_run(engine, config, AT)
    tally = deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    assert tally == {"sent": 1, "retry:smtp_temporary": 1, "failed:hard_bounce": 1}
    with engine.connect() as connection:
        rows = dict(
            connection.execute(select(OutboxMessage.customer_id, OutboxMessage.status)).all()
        )
        detail = connection.scalar(
            select(OutboxMessage.detail).where(OutboxMessage.customer_id == "gone")
        )
        suppressed = [row[:2] for row in described_suppressions(connection)]
    assert rows == {"ok": "sent", "busy": "retry", "gone": "failed"}
    assert detail is not None and detail.startswith("550 5.1.1")
    assert suppressed == [("email", "gone@example.com")]
    # and the retry is not due yet: nothing more goes out now
    assert deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW) == {}
    assert server.recipients == ["ok@example.com"]


def test_a_server_that_is_down_means_retry(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    shop.customer("ana", birth_date=date(1990, 6, 15))
    with smtp_sink() as (_, port):
        pass  # the port is free again: nobody listens
    config = _config(settings, port)
    daily_run(engine, config, AT)
    assert deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW) == {
        "retry:smtp_unavailable": 1
    }


def test_a_campaign_pauses_itself_after_repeated_refusals_of_its_own_messages(
    engine: Engine, settings: Settings, shop: ShopFactory, sink: tuple[Sink, int]
) -> None:
    # given four planned emails, a campaign that pauses after 2 provider failures in a row,
    # and a relay that refuses its messages (not the recipients, not the connection)
    server, port = sink
    for n in range(4):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15))
    server.data_reply = "554 5.7.1 message refused as spam"
    base = _config(settings, port)
    delivery = base.settings.delivery.model_copy(update={"pause_after_failures": 2})
    config = Config(base.settings.model_copy(update={"delivery": delivery}), None)
    daily_run(engine, config, AT)
    # when they are delivered
    tally = deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW)
    # then two fail, the campaign (not the channel) pauses, the other two wait in the queue
    assert tally == {"failed:smtp_rejected": 2, "deferred:campaign_paused": 2}
    later = NOW + timedelta(minutes=1)
    assert deliver_due(engine, config, signer=SIGNER, clock=lambda: later) == {}
    # and once resumed (the campaign fixed), the waiting ones go
    server.data_reply = None
    with engine.begin() as connection:
        assert ledger.resume(connection, "birthday")
    assert deliver_due(engine, config, signer=SIGNER, clock=lambda: later) == {"sent": 2}
    assert len(server.recipients) == 2


def test_a_long_lived_worker_sees_a_campaign_resumed(
    engine: Engine, settings: Settings, shop: ShopFactory, sink: tuple[Sink, int]
) -> None:
    # given one worker's deliverer, kept across batches as a Celery worker keeps it, and a
    # campaign that pauses after two temporary refusals in a row
    server, port = sink
    for n in range(4):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15))
    server.replies = {f"c{n}@example.com": "451 4.3.0 try again later" for n in range(2)}
    base = _config(settings, port)
    delivery = base.settings.delivery.model_copy(update={"pause_after_failures": 2})
    config = Config(base.settings.model_copy(update={"delivery": delivery}), None)
    daily_run(engine, config, AT)
    deliverer = Deliverer(engine, config, make_channel(config), SIGNER)
    with engine.connect() as connection:
        ids = ledger.due_ids(connection, NOW, 10)
    assert deliverer.deliver(ids, NOW) == {"retry:smtp_temporary": 2,
                                           "deferred:campaign_paused": 2}  # fmt: skip
    # when the campaign is resumed and the same worker takes the next batch
    with engine.begin() as connection:
        assert ledger.resume(connection, "birthday")
        ids = ledger.due_ids(connection, NOW + timedelta(minutes=1), 10)
    # then the waiting emails go
    assert deliverer.deliver(ids, NOW + timedelta(minutes=1)) == {"sent": 2}
    assert sorted(server.recipients) == ["c2@example.com", "c3@example.com"]


def test_a_relay_shutting_down_421_counts_as_unavailable_not_as_the_campaigns_fault(
    engine: Engine, settings: Settings, shop: ShopFactory, sink: tuple[Sink, int]
) -> None:
    server, port = sink
    shop.customer("ana", birth_date=date(1990, 6, 15))
    server.replies = {"ana@example.com": "421 4.3.2 service shutting down"}
    config = _config(settings, port)
    daily_run(engine, config, AT)
    assert deliver_due(engine, config, signer=SIGNER, clock=lambda: NOW) == {
        "retry:smtp_unavailable": 1
    }
