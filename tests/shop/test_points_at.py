"""`Ledgers.available` is balance_on's balance over the entries that exist at an instant."""

import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, insert, select

from shop.loyalty import Entry, balance_on, booked_day
from shop.models import LedgerEntry
from shop.points_at import Ledgers
from tests.factories import MADRID, ShopFactory, local

START = date(2024, 1, 1)


def _random_ledger(engine: Engine, customer: str, rng: random.Random) -> None:
    """Lots (some never expiring), spends of every kind (some on the day a lot expires),
    reversals learned days after their order's date, entries at random instants."""
    rows: list[tuple[str, int, date, datetime, date | None]] = []
    for _ in range(rng.randint(0, 14)):
        on = START + timedelta(days=rng.randint(0, 500))
        expiries = [expires for *_, expires in rows if expires]
        if expiries and rng.random() < 0.3:
            on = rng.choice(expiries)
        at = local(f"{on} {rng.randint(0, 23):02d}:{rng.choice([0, 30]):02d}")
        kind = rng.choice(["earn", "earn", "bonus", "adjust", "redeem", "reward", "reverse"])
        if kind in ("earn", "bonus") or (kind == "adjust" and rng.random() < 0.5):
            expires = on + timedelta(days=rng.choice([365, 365, 200])) if kind != "adjust" else None
            rows.append((kind, rng.randint(0, 400), on, at, expires))
        else:
            if kind == "reverse":  # learned later: spent the day it was booked
                at = local(f"{on + timedelta(days=rng.randint(0, 40))} 09:00")
            rows.append((kind, -rng.randint(1, 300), on, at, None))
    for kind, points, on, at, expires in rows:
        _insert(engine, customer, kind, points, on, at, expires)


def _insert(
    engine: Engine, customer: str, kind: str, points: int, on: date, at: datetime,
    expires: date | None,
) -> None:  # fmt: skip
    entry = {"customer_id": customer, "kind": kind, "points": points, "on_date": on, "at": at,
             "expires_on": expires}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(LedgerEntry), entry)


def _reference(engine: Engine, customer: str, on: date, at: datetime) -> int:
    """balance_on over the entries that count at (on, at), as the module says."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(LedgerEntry).where(LedgerEntry.customer_id == customer)
        ).all()
    counted = [
        Entry(r.id, r.kind, r.points, r.on_date, r.expires_on, r.lot_id,
              booked_day(r.points, r.on_date, r.at, MADRID))
        for r in rows
        if r.on_date <= on and (r.on_date < on or r.points < 0 or r.at <= at)
    ]  # fmt: skip
    return max(balance_on(counted, on).points, 0)


def test_available_equals_balance_on_at_random_instants_and_after_what_a_check_adds(
    engine: Engine, shop: ShopFactory
) -> None:
    # given 40 customers with random ledgers
    rng = random.Random(11)
    customers = [shop.customer() for _ in range(40)]
    for customer in customers:
        _random_ledger(engine, customer, rng)
    until = START + timedelta(days=600)
    with engine.connect() as connection:
        ledgers = Ledgers(connection, customers, until, MADRID)
    # then at random instants the balance is balance_on's over what counts then
    instants = []
    for customer in customers:
        for _ in range(6):
            on = START + timedelta(days=rng.randint(0, 600))
            at = datetime.combine(on, time(rng.randint(0, 23)), MADRID).astimezone(UTC)
            instants.append((customer, on, at))
            assert ledgers.available(customer, on, at) == _reference(engine, customer, on, at)
    assert any(ledgers.available(c, on, at) > 0 for c, on, at in instants)
    # and what a check adds counts for the next check as if it had been booked
    for customer, on, at in instants[::5]:
        points = rng.choice([-50, 120])
        expires = on + timedelta(days=365) if points > 0 else None
        kind = "redeem" if points < 0 else "earn"
        ledgers.add(customer, kind, points, on, at, expires)
        _insert(engine, customer, kind, points, on, at, expires)
    for customer, on, at in instants:
        assert ledgers.available(customer, on, at) == _reference(engine, customer, on, at)
