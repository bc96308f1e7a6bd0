"""Suppressions: addresses Leal must never contact again on a channel (hard bounce, STOP,
unsubscribe, erasure). Every writer and reader goes through this module, so how an address
is stored is decided in one place: as the keyed hash of its canonical form
(shop.address_keys), matched against the hashes kept on each customer row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, or_, select

from shop.address_keys import keyer
from shop.models import Customer, Suppression
from shop.sql import upsert_insert

# Reasons that record the person's own "no" through Leal (an unsubscribe link, STOP, the
# provider's opted-out answer, an erasure): a shop's file saying opt-in does not undo them.
OPT_OUTS = ("unsubscribed", "stop", "opted_out", "erased")

_ADDRESS = {"email": Customer.email, "sms": Customer.phone}
_KEY = {"email": Customer.email_key, "sms": Customer.phone_key}


def suppress(
    connection: Connection, channel: str, address: str, reason: str, now: datetime
) -> None:
    """Never contact `address` on `channel` again (idempotent; the first reason stays)."""
    key = keyer(connection).key(channel, address)
    if key is not None:
        suppress_key(connection, channel, key, reason, now)


def suppress_key(
    connection: Connection, channel: str, key: str, reason: str, now: datetime
) -> None:
    insert = upsert_insert(connection, Suppression).on_conflict_do_nothing(
        index_elements=["channel", "address_key"]
    )
    connection.execute(insert, {"channel": channel, "address_key": key, "reason": reason,
                                "created_at": now})  # fmt: skip


def lift(connection: Connection, channel: str, address: str) -> None:
    """The owner asked to be contacted again (an SMS START): the suppression goes."""
    key = keyer(connection).key(channel, address)
    gone = (Suppression.channel == channel, Suppression.address_key == key)
    connection.execute(delete(Suppression).where(*gone))


def is_suppressed(channel: str, key: Any) -> ColumnElement[bool]:
    """An EXISTS for a query: is the hash in `key` (a column) suppressed on `channel`?"""
    return exists().where(Suppression.channel == channel, Suppression.address_key == key)


def customer_suppressed(channel: str) -> ColumnElement[bool]:
    """For a query joined with `customers`: their address on `channel` is suppressed, or
    has no hash to check (a row written around the importer and its defaults: fail closed)."""
    unhashed = and_(_ADDRESS[channel].is_not(None), _KEY[channel].is_(None))
    return or_(unhashed, is_suppressed(channel, _KEY[channel]))


def suppression_reason(connection: Connection, channel: str, address: str) -> str | None:
    """Why `address` (any spelling) is suppressed on `channel`, or None when it is not."""
    key = keyer(connection).key(channel, address)
    found = select(Suppression.reason).where(
        Suppression.channel == channel, Suppression.address_key == key
    )
    return connection.scalar(found)


def is_address_suppressed(connection: Connection, channel: str, address: str) -> bool:
    return suppression_reason(connection, channel, address) is not None


def opted_out_keys(connection: Connection, channel: str, keys: set[str]) -> set[str]:
    """Those of `keys` whose owner said no through Leal on `channel` (see OPT_OUTS)."""
    if not keys:
        return set()
    found = select(Suppression.address_key).where(
        Suppression.channel == channel,
        Suppression.address_key.in_(keys),
        Suppression.reason.in_(OPT_OUTS),
    )
    return set(connection.scalars(found))


def described_suppressions(connection: Connection) -> list[tuple[str, str, str]]:
    """Every suppression as (channel, address, reason), the address read back from the
    customer whose hash it matches, else `key:<hash>`: the table itself holds no address."""
    rows = []
    for channel, key, reason in connection.execute(
        select(Suppression.channel, Suppression.address_key, Suppression.reason)
    ):
        owner = select(_ADDRESS[channel]).where(_KEY[channel] == key).limit(1)
        rows.append((channel, connection.scalar(owner) or f"key:{key}", reason))
    return sorted(rows)
