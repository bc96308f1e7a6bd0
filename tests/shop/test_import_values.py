"""What the import's shortcuts compute is what the long way computes: stored instants, local
dates by the hour, earn entries in SQL."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import DateTime, Engine
from sqlalchemy.dialects import sqlite

from campaigns.config import LoyaltySettings, Settings
from shop.csv_rows import LocalDates, instant, max_order_total, utc_text
from shop.loyalty import earn_entry
from shop.models import LedgerEntry, Order
from tests.shop.import_files import by_key, run, write

# Whole-hour, half-hour and 45-minute offsets, a 30-minute DST (Lord Howe), a DST that
# starts at midnight (São Paulo, until 2019), a negative DST (Casablanca), a date-line jump.
ZONES = [
    "Europe/Madrid", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe",
    "Pacific/Chatham", "America/Sao_Paulo", "Africa/Casablanca", "Pacific/Apia", "UTC",
]  # fmt: skip
_BIND = DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())


def stored(at: datetime) -> str:
    """What SQLAlchemy writes to SQLite for an instant (UTCDateTime binds naive UTC)."""
    assert _BIND is not None
    return str(_BIND(at.astimezone(UTC).replace(tzinfo=None)))


def offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The UTC instants (to the second) where the zone's offset changes."""
    changes, day = [], start
    while day < end:
        later = day + timedelta(days=1)
        if day.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            low, high = day, later
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                same = middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            changes.append(high)
        day = later
    return changes


@pytest.mark.parametrize("name", ZONES)
def test_local_dates_by_the_hour_are_the_zones_own_at_and_around_every_offset_change(
    name: str,
) -> None:
    zone = ZoneInfo(name)
    pick = random.Random(name)
    # given every offset change from 1960 to 2040, instants near each, and random ones
    changes = offset_changes(
        zone, datetime(1960, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)
    )
    near = [timedelta(0), timedelta(microseconds=1), timedelta(minutes=15), timedelta(hours=1)]
    instants = [change + sign * step for change in changes for step in near for sign in (1, -1)]
    first, last = datetime(1899, 12, 31, tzinfo=UTC), datetime(2200, 1, 2, tzinfo=UTC)
    span = int((last - first).total_seconds())
    instants += [first + timedelta(seconds=pick.randrange(span)) for _ in range(20_000)]
    dates = LocalDates(zone)
    for at in sorted(instants, key=lambda _: pick.random()):  # the cache filled in any order
        # then the cached date is the zone's date of that instant
        assert dates.of(stored(at)) == at.astimezone(zone).date().isoformat(), (name, at)
    assert changes or name == "UTC"


def test_stored_instants_are_the_text_sqlalchemy_writes() -> None:
    pick = random.Random(7)
    madrid = ZoneInfo("Europe/Madrid")
    for _ in range(20_000):
        at = datetime(1900, 1, 2, tzinfo=UTC) + timedelta(
            seconds=pick.randrange(9_400_000_000), microseconds=pick.choice([0, 500_000, 7])
        )
        # given an instant written in any of the forms an export uses
        shown = at.astimezone(ZoneInfo(pick.choice(ZONES)))
        forms = [
            at.strftime("%Y-%m-%dT%H:%M:%SZ") if not at.microsecond else at.isoformat(),
            at.isoformat(),
            at.isoformat(" "),
            shown.isoformat(),
            shown.isoformat(timespec="seconds") if not at.microsecond else shown.isoformat(),
        ]
        for value in forms:
            # then the stored text is SQLAlchemy's text for that instant in UTC
            assert utc_text(instant("at", value), value) == stored(at)
        # and naive text is read in the shop's zone
        local = at.astimezone(madrid).replace(tzinfo=None).isoformat()
        utc = datetime.fromisoformat(local).replace(tzinfo=madrid).astimezone(UTC)
        assert utc_text(instant("at", local, madrid), local) == stored(utc)


# Plain rates, rates with a long decimal tail (a numerator SQLite's 64 bits cannot multiply
# by the largest total: Python computes those), no points at all.
RATES = ["1", "0.37", "2.5", "0.001", "7", "1.0000000000000000000000001", "0"]


@pytest.mark.parametrize("rate", RATES)
def test_earn_entries_written_by_the_database_are_earn_entry_for_any_rate(
    engine: Engine, settings: Settings, tmp_path: Path, rate: str
) -> None:
    # given a program with this rate, expiring after 1000 days, and orders of all sizes up
    # to the largest total an order may have, around midnight in the shop's zone
    loyalty = LoyaltySettings(points_per_currency_unit=Decimal(rate), points_expire_days=1000)
    settings = settings.model_copy(update={"loyalty": loyalty})
    pick = random.Random(rate)
    largest = max_order_total(loyalty)
    totals = [0, 1, 99, 100, 101, largest - 1, largest] + [
        pick.randrange(largest + 1) for _ in range(40)
    ]
    # (one customer each: a summary's points are an Integer too)
    write(tmp_path, "customers", *(f"c{n},,,Ana,B,,,,true,true," for n in range(len(totals))))
    orders = [
        f"o{n},c{n},2026-03-{1 + n % 28:02d}T2{n % 4}:59:59+00:00,{total // 100}.{total % 100:02d}"
        for n, total in enumerate(totals)
    ]
    write(tmp_path, "orders", *orders)
    # when imported
    report = run(engine, tmp_path, settings)
    assert report.problems == []
    # then each order's entry is what shop.loyalty says, to the point and the day
    ledger = by_key(engine, LedgerEntry, "order_id")
    for order_id, order in by_key(engine, Order, "id").items():
        expected = earn_entry(
            order_id, order["customer_id"], order["ordered_at"], order["local_date"],
            order["total_cents"], loyalty,
        )  # fmt: skip
        entry = {name: ledger[order_id][name] for name in expected}
        assert entry == expected, (order_id, order["total_cents"])
    assert ledger["o6"]["expires_on"] == ledger["o6"]["on_date"] + timedelta(days=1000)
    assert isinstance(ledger["o6"]["on_date"], date)
