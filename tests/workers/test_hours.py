"""Sending hours in the customer's zone, across DST changes, and deferral in the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from campaigns.config import Settings, Window
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.models import OutboxMessage
from templates.unsubscribe import Signer
from tests.factories import ShopFactory, local
from workers.hours import next_allowed
from workers.run import deliver_due

SMS = Window(start=time(9), end=time(21))
MADRID, NEW_YORK = ZoneInfo("Europe/Madrid"), ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        ("2026-06-15T07:00:00", MADRID, None),  # 09:00 Madrid: the window opens
        ("2026-06-15T06:59:00", MADRID, "2026-06-15T07:00:00"),
        ("2026-06-15T19:00:00", MADRID, "2026-06-16T07:00:00"),  # 21:00: closed till tomorrow
        ("2026-06-15T12:00:00", NEW_YORK, "2026-06-15T13:00:00"),  # 08:00 in New York
        # 01:30 on 29 March in Madrid, before the clocks jump: 09:00 that day is CEST (UTC+2)
        ("2026-03-29T00:30:00", MADRID, "2026-03-29T07:00:00"),
        # 22:30 on 24 October (CEST): 09:00 next day is after the change back (CET, UTC+1)
        ("2026-10-24T20:30:00", MADRID, "2026-10-25T08:00:00"),
    ],
)
def test_the_next_allowed_minute_is_local_wall_time(
    now: str, tz: ZoneInfo, expected: str | None
) -> None:
    assert next_allowed(utc(now), tz, SMS) == (utc(expected) if expected else None)


def test_no_window_means_any_time() -> None:
    assert next_allowed(utc("2026-06-15T02:00:00"), MADRID, None) is None


def test_an_sms_due_at_night_waits_for_the_morning_without_losing_an_attempt(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Path
) -> None:
    # given a birthday SMS planned for Ana in New York, delivered at 07:00 her time
    shop.customer("ana", birth_date=date(1990, 6, 15), timezone="America/New_York")
    birthday = {
        "trigger": "birthday",
        "channels": ["sms"],
        "template": "birthday",
        "holdout_percent": 0,
    }
    data = settings.model_dump() | {
        "campaigns": {"birthday": birthday},
        "delivery": {"folder": tmp_path},
    }
    config = Config(Settings(**data), None)
    daily_run(engine, config, local("2026-06-15 09:00"))
    signer = Signer(b"k" * 32)
    early = deliver_due(engine, config, signer=signer, clock=lambda: utc("2026-06-15T11:00:00"))
    with engine.connect() as connection:
        row = connection.execute(select(OutboxMessage.status, OutboxMessage.due_at,
                                        OutboxMessage.attempts)).one()  # fmt: skip
    # then it is queued again for 09:00 New York time, its attempt given back
    assert early == {"deferred:sending_hours": 1}
    assert tuple(row) == ("queued", utc("2026-06-15T13:00:00"), 0)
    # and nothing goes before then; at 09:00 it goes
    assert not deliver_due(engine, config, signer=signer, clock=lambda: utc("2026-06-15T12:59:00"))
    on_time = deliver_due(engine, config, signer=signer, clock=lambda: utc("2026-06-15T13:00:00"))
    assert on_time == {"sent": 1}
