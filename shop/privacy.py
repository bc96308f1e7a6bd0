"""The data subject's rights (GDPR Art. 15, 17, 21): export all Leal holds on one customer,
and erase their personal data while keeping what Leal needs to never contact them again.

What is kept and why is in docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Connection, String, Table, Text, delete, func, or_, select, update

from shop.address_keys import keyer
from shop.models import (
    Base,
    Customer,
    LedgerEntry,
    Order,
    OrderItem,
    OutboxMessage,
    Suppression,
    SurveyClick,
    SurveyResponse,
)
from shop.suppressions import suppress_key

ERASED = "erased"  # the skip reason of cancelled messages and the suppressions' reason
MASK = "[erased]"

# The personal data on a customer row, and what erasing leaves in each column.
_PERSONAL: dict[str, Any] = {
    "email": None, "phone": None, "first_name": "", "last_name": "", "birth_date": None,
    "birth_mmdd": None, "locale": None, "timezone": None, "created_at": None,
    "email_opt_in": False, "sms_opt_in": False, "email_key": None, "phone_key": None,
}  # fmt: skip
_HASHES = ("email_key", "phone_key")
_FREE_TEXT = 200  # String columns at least this long hold words (details, notes, reasons)


class UnknownCustomerError(LookupError):
    """No customer has this id."""


@dataclass(frozen=True)
class Erasure:
    customer_id: str
    already_erased: bool
    messages_cancelled: int
    suppressed_channels: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "already_erased": self.already_erased,
                "messages_cancelled": self.messages_cancelled,
                "suppressed_channels": list(self.suppressed_channels)}  # fmt: skip


def export_customer(connection: Connection, customer_id: str) -> dict[str, Any]:
    """Everything Leal holds on one customer, JSON-ready: their row, every row of every
    table that refers to them (so a table added later is exported too), their orders'
    items and the suppressions that match their address or phone."""
    customer = _customer(connection, customer_id)
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        if "customer_id" in table.c and table.name != "customers":
            rows = connection.execute(select(table).where(table.c.customer_id == customer_id))
            tables[table.name] = [_jsonable(row) for row in rows.mappings()]
    orders = select(Order.id).where(Order.customer_id == customer_id)
    items = connection.execute(select(OrderItem).where(OrderItem.order_id.in_(orders)))
    tables[OrderItem.__tablename__] = [_jsonable(row) for row in items.mappings()]
    return {
        "customer_id": customer_id,
        "profile": _jsonable(customer),
        "consent": {
            "email_opt_in": bool(customer["email_opt_in"]),
            "sms_opt_in": bool(customer["sms_opt_in"]),
        },
        "suppressions": _suppressions_of(connection, customer),
        **tables,
    }


def erase_customer(connection: Connection, customer_id: str, now: datetime) -> Erasure:
    """Erase one customer's personal data (idempotent; one transaction is the caller's)."""
    customer = _customer(connection, customer_id)
    suppressed = _suppress_for_good(connection, customer, now)
    cancelled = _cancel_messages(connection, customer_id, now)
    _scrub_rows(connection, customer_id)
    _mask_everywhere(connection, [customer[name] for name in ("email", "phone") if customer[name]])
    erased_at = func.coalesce(Customer.erased_at, now)
    connection.execute(
        update(Customer).where(Customer.id == customer_id).values(**_PERSONAL, erased_at=erased_at)
    )
    return Erasure(customer_id, customer["erased_at"] is not None, cancelled, suppressed)


def _customer(connection: Connection, customer_id: str) -> Mapping[Any, Any]:
    row = connection.execute(select(Customer).where(Customer.id == customer_id)).mappings()
    found = row.first()
    if found is None:
        raise UnknownCustomerError(f"no customer has the id {customer_id!r}")
    return found


def _suppressions_of(connection: Connection, customer: Mapping[Any, Any]) -> list[Any]:
    matches = [
        (Suppression.channel == channel) & (Suppression.address_key == customer[column])
        for channel, column in (("email", "email_key"), ("sms", "phone_key"))
        if customer[column]
    ]
    if not matches:
        return []
    found = select(Suppression.channel, Suppression.reason, Suppression.created_at)
    return [_jsonable(row) for row in connection.execute(found.where(or_(*matches))).mappings()]


def _suppress_for_good(
    connection: Connection, customer: Mapping[Any, Any], now: datetime
) -> tuple[str, ...]:
    """A suppression (reason `erased`) per address, from the stored hash or, for a row
    that has none, from the address itself: only the hash outlives the erasure."""
    keys = keyer(connection)
    done = []
    for channel, column, key_column in (("email", "email", "email_key"),
                                        ("sms", "phone", "phone_key")):  # fmt: skip
        key = customer[key_column] or keys.key(channel, customer[column])
        if key is not None:
            suppress_key(connection, channel, key, ERASED, now)
            done.append(channel)
    return tuple(done)


def _cancel_messages(connection: Connection, customer_id: str, now: datetime) -> int:
    """Queued and retrying messages are skipped; one a worker holds meets the emptied
    row at its send-time check (no consent, no address) and is skipped there."""
    waiting = update(OutboxMessage).where(
        OutboxMessage.customer_id == customer_id, OutboxMessage.status.in_(("queued", "retry"))
    )
    done = connection.execute(waiting.values(status="skipped", reason=ERASED, updated_at=now))
    return done.rowcount


def _scrub_rows(connection: Connection, customer_id: str) -> None:
    """Their messages keep campaign, channel, state and times (the KPIs), not what they
    said: contexts, provider details (an SMTP reply quotes the address). Ledger notes,
    survey comments and survey clicks go."""
    connection.execute(
        update(OutboxMessage)
        .where(OutboxMessage.customer_id == customer_id)
        .values(context={}, detail=None)
    )
    connection.execute(
        update(LedgerEntry).where(LedgerEntry.customer_id == customer_id).values(note=None)
    )
    # Survey answers keep their scores (anonymous statistics: NPS, CSAT), not the words;
    # the clicks on survey links (when, how fast after the send) go.
    connection.execute(
        update(SurveyResponse)
        .where(SurveyResponse.customer_id == customer_id, SurveyResponse.comment.is_not(None))
        .values(comment=None)
    )
    connection.execute(delete(SurveyClick).where(SurveyClick.customer_id == customer_id))


def _mask_everywhere(connection: Connection, values: list[str]) -> None:
    """The address and phone replaced in every free-text column of every other table (a
    pause reason may quote an SMTP reply): a net under the explicit scrubbing above."""
    for table in Base.metadata.sorted_tables:
        if table.name == Customer.__tablename__:
            continue
        for column in _free_text_columns(table):
            for value in values:
                connection.execute(
                    update(table)
                    .where(column.contains(value, autoescape=True))
                    .values({column.name: func.replace(column, value, MASK)})
                )


def _free_text_columns(table: Table) -> list[Any]:
    return [
        column
        for column in table.c
        if (isinstance(column.type, Text) or (isinstance(column.type, String)
            and (column.type.length or _FREE_TEXT) >= _FREE_TEXT))
        and not isinstance(column.type, JSON) and column.name not in _HASHES
    ]  # fmt: skip


def _jsonable(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {name: _value(value) for name, value in row.items()}


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
