"""The Twilio channel: the real SDK against a local server that answers like Twilio."""

from __future__ import annotations

import logging
import threading
from datetime import date
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
from tests.workers.test_celery import REDIS, _redis_or_skip
from tests.workers.twilio_fake import fake_twilio
from workers.channels import Routed
from workers.channels.base import OutgoingSms
from workers.channels.file import FileChannel
from workers.channels.twilio_sms import TwilioAccount, TwilioChannel
from workers.deliver import Deliverer

AT = local("2026-06-15 09:00")
NOW = local("2026-06-15 10:00")


def test_each_twilio_answer_gets_its_outcome_and_stops_are_suppressed(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given birthday SMS for four numbers: fine, opted out (21610), invalid (21211), throttled
    for n in range(1, 5):
        shop.customer(f"c{n}", birth_date=date(1990, 6, 15), phone=f"+3460000000{n}")
    birthday = {
        "trigger": "birthday",
        "channels": ["sms"],
        "template": "birthday",
        "holdout_percent": 0,
    }
    config = Config(
        Settings(**(settings.model_dump() | {"campaigns": {"birthday": birthday}})), None
    )
    daily_run(engine, config, AT)
    with fake_twilio() as (server, url):
        sms = TwilioChannel(TwilioAccount("AC" + "0" * 32, from_number="+34900000000",
                                          status_callback="https://leal.example/twilio/status",
                                          rate_per_second=100, api_url=url))  # fmt: skip
        deliverer = Deliverer(engine, config, Routed(FileChannel(tmp_path), sms), Signer(b"k" * 32))
        with engine.connect() as connection:
            ids = list(connection.scalars(select(OutboxMessage.id)))
        tally = deliverer.deliver(ids, NOW)
    # then one is sent, two fail and are suppressed, the throttled one waits for a retry
    assert tally == {"sent": 1, "failed:opted_out": 1, "failed:invalid_number": 1,
                     "retry:rate_limited": 1}  # fmt: skip
    with engine.connect() as connection:
        suppressed = [row[1:] for row in described_suppressions(connection)]
    assert sorted(suppressed) == [("+34600000002", "opted_out"), ("+34600000003", "invalid_number")]
    # and the SDK really spoke Twilio's API: account path, sender, callback, body
    _, path, form = server.requests[0]
    assert path == f"/2010-04-01/Accounts/AC{'0' * 32}/Messages.json"
    assert form["From"] == "+34900000000"
    assert form["StatusCallback"] == "https://leal.example/twilio/status"
    assert "STOP" in form["Body"]


def test_the_rate_per_sender_is_held_exactly() -> None:
    # given a sender limited to 20 messages a second, asked for 41 at once
    service = "MG" + "1" * 32
    with fake_twilio() as (server, url):
        account = TwilioAccount("AC" + "1" * 32, messaging_service_sid=service,
                                rate_per_second=20, api_url=url)  # fmt: skip
        channel = TwilioChannel(account)
        outcomes = [channel.send_sms(OutgoingSms(n, "+34600000001", "hola")) for n in range(41)]
    # then they go out at 20 a second: 40 intervals of 50 ms, and no second holds more
    assert {o.verdict for o in outcomes} == {"sent"}
    times = [when for when, _, _ in server.requests]
    assert 2.0 - 0.1 <= times[-1] - times[0] < 2.3  # arrivals: slots plus HTTP jitter
    assert max(sum(start <= t < start + 1.0 for t in times) for start in times) <= 21
    assert server.requests[0][2]["MessagingServiceSid"] == service


def test_two_workers_sharing_redis_hold_one_senders_rate_together() -> None:
    # given two workers (separate channels, separate threads) on one sender, 10 a second
    _redis_or_skip()
    with fake_twilio() as (server, url):
        accounts = [
            TwilioAccount(
                "AC" + "2" * 32,
                from_number="+34900000009",
                rate_per_second=10,
                api_url=url,
                pace_redis_url=REDIS,
            )
            for _ in range(2)
        ]
        channels = [TwilioChannel(account) for account in accounts]

        def send(channel: TwilioChannel) -> None:
            for n in range(8):
                channel.send_sms(OutgoingSms(n, "+34600000001", "hola"))

        threads = [threading.Thread(target=send, args=(channel,)) for channel in channels]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # then their 16 messages together go out 100 ms apart: 1.5 s, not the 0.75 s of two
    # workers pacing alone
    times = sorted(when for when, _, _ in server.requests)
    assert len(times) == 16
    assert 1.5 - 0.1 <= times[-1] - times[0] < 1.8  # arrivals: slots plus HTTP jitter
    assert max(sum(start <= t < start + 1.0 for t in times) for start in times) <= 11


def test_the_sdk_logs_nothing_below_warning_around_a_real_sms(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given the real SDK against the fake API, and every logger at INFO
    caplog.set_level(logging.INFO)
    with fake_twilio() as (_, url):
        sms = TwilioChannel(TwilioAccount("AC" + "0" * 32, from_number="+34900000000",
                                          rate_per_second=100, api_url=url))  # fmt: skip
        # when one SMS is sent
        outcome = sms.send_sms(OutgoingSms(1, "+34600000001", "Hola"))
    # then it went, and the SDK said nothing of its request or response (numbers, bodies)
    assert outcome.verdict == "sent"
    assert [r for r in caplog.records if r.name.startswith("twilio")] == []
