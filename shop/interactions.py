"""Points for what a customer does besides ordering ([loyalty.actions]): a review, a
referral, a survey answered. Each interaction is stored once under the shop's id (or Leal's,
`survey:<response id>`) and books one `bonus` ledger entry, a lot that expires like an
order's points; a second booking of the same id changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from campaigns.config import LoyaltySettings
from shop.models import BONUS, Interaction, LedgerEntry
from shop.sql import upsert_insert

SOURCE_PREFIX = "interaction:"  # the import books the same sources set-based


def interaction_source(interaction_id: str) -> str:
    """The ledger `source` of an interaction's bonus entry."""
    return f"{SOURCE_PREFIX}{interaction_id}"


def bonus_entry(
    interaction_id: str,
    customer_id: str,
    at: datetime,
    local_date: date,
    points: int,
    loyalty: LoyaltySettings,
) -> dict[str, object]:
    """The ledger row an interaction books."""
    return {
        "customer_id": customer_id,
        "kind": BONUS,
        "points": points,
        "on_date": local_date,
        "at": at,
        "expires_on": local_date + timedelta(days=loyalty.points_expire_days),
        "order_id": None,
        "lot_id": None,
        "note": None,
        "source": interaction_source(interaction_id),
    }


def book_interaction(
    connection: Connection,
    loyalty: LoyaltySettings,
    tz: ZoneInfo,
    *,
    interaction_id: str,
    customer_id: str,
    action: str,
    at: datetime,
) -> bool:
    """Store one interaction and its points, once; False when the action earns nothing
    ([loyalty.actions] does not name it) or the id was booked before."""
    points = loyalty.actions.get(action)
    if points is None:
        return False
    local_date = at.astimezone(tz).date()
    row = {
        "id": interaction_id,
        "customer_id": customer_id,
        "action": action,
        "at": at,
        "local_date": local_date,
        "points": points,
    }
    stored = connection.execute(
        upsert_insert(connection, Interaction).on_conflict_do_nothing().returning(Interaction.id),
        row,
    ).first()
    if stored is None:
        return False
    entry = bonus_entry(interaction_id, customer_id, at, local_date, points, loyalty)
    insert = upsert_insert(connection, LedgerEntry).on_conflict_do_nothing(
        index_elements=["source"]
    )
    connection.execute(insert, entry)
    return True
