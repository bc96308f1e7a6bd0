"""Suppressions: addresses Leal must never contact again on a channel (hard bounce, STOP,
unsubscribe, erasure). Every writer and reader goes through this module, so how an address
is stored (see `suppress`) is decided in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists

from shop.models import Suppression
from shop.sql import upsert_insert


def suppress(
    connection: Connection, channel: str, address: str, reason: str, now: datetime
) -> None:
    """Never contact `address` on `channel` again (idempotent)."""
    insert = upsert_insert(connection, Suppression).on_conflict_do_nothing(
        index_elements=["channel", "address"]
    )
    connection.execute(insert, {"channel": channel, "address": address, "reason": reason,
                                "created_at": now})  # fmt: skip


def lift(connection: Connection, channel: str, address: str) -> None:
    """The owner asked to be contacted again (an SMS START): the suppression goes."""
    gone = (Suppression.channel == channel, Suppression.address == address)
    connection.execute(delete(Suppression).where(*gone))


def is_suppressed(channel: str, address: Any) -> ColumnElement[bool]:
    """An EXISTS for a query: is the address in `address` (a column) suppressed on `channel`?"""
    return exists().where(Suppression.channel == channel, Suppression.address == address)
