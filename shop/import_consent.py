"""What an import may not change about a customer: Leal's own record of their "no".

A shop's file or event carries its idea of consent; an unsubscribe link, a STOP or an
erasure that Leal recorded is the person's own later word and wins until they opt in again
through Leal (an SMS START lifts the suppression). Rows of erased customers are not written
at all, so an import never brings their personal data back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, select

from shop.address_keys import keyer
from shop.models import Customer, Suppression
from shop.suppressions import OPT_OUTS, opted_out_keys

Lines = list[tuple[int, tuple[Any, ...]]]

# Customer columns the import adds to each parsed row, in the table's order.
KEY_COLUMNS = ("email_key", "phone_key")
KEY_AT = {"email": -2, "sms": -1}  # where each channel's hash sits in a hashed row
CONSENT = {"email": "email_opt_in", "sms": "sms_opt_in"}


class CustomerGuard:
    """Adds each customer row's address hashes and keeps Leal's opt-outs and erasures.

    Hashing needs no database, so the parse helper does it (`with_keys`); what Leal recorded
    is read by the writer, per batch (`rows`), and per row only when there is any: a shop
    with no erasure and no opt-out yet (a first import) pays one EXISTS a batch."""

    def __init__(self, connection: Connection, columns: Sequence[str], region: str) -> None:
        assert tuple(columns[-len(KEY_COLUMNS) :]) == KEY_COLUMNS, "keys end the sink's row"
        self.connection, self.region = connection, region
        self.keyer = keyer(connection)
        position = {name: index for index, name in enumerate(columns)}
        self.id, self.email, self.phone = position["id"], position["email"], position["phone"]
        self.flags = {channel: position[name] for channel, name in CONSENT.items()}

    def with_keys(self, lines: Lines) -> Lines:
        """Each parsed row with its address hashes appended, as the sink's row ends."""
        key, region, email, phone = self.keyer.key, self.region, self.email, self.phone
        return [
            (line, (*row, key("email", row[email]), key("sms", row[phone], region)))
            for line, row in lines
        ]

    def rows(self, lines: Lines, path: Path, warnings: list[str]) -> Lines:
        """The rows to write: erased customers left out, Leal's opt-outs kept. (The upsert
        itself never updates an erased customer either: shop.importer.)"""
        if self._exists(Customer.erased_at.is_not(None)):
            lines = self._without_erased(lines, path, warnings)
        if self._exists(Suppression.reason.in_(OPT_OUTS)):
            lines = self._keep_opt_outs(lines, path, warnings)
        return lines

    def _without_erased(self, lines: Lines, path: Path, warnings: list[str]) -> Lines:
        erased = self._erased({row[self.id] for _, row in lines})
        kept: Lines = []
        for line, row in lines:
            if row[self.id] in erased:
                warnings.append(
                    f"{path}:{line}: customer {row[self.id]!r} was erased in Leal: row ignored"
                    " (erase them in the shop too)"
                )
            else:
                kept.append((line, row))
        return kept

    def _keep_opt_outs(self, lines: Lines, path: Path, warnings: list[str]) -> Lines:
        """An opt-in in the file for an address Leal recorded a "no" for is written as an
        opt-out, with a warning (customer id and line only: no address in the report)."""
        said_no = {
            channel: opted_out_keys(
                self.connection, channel, {row[at] for _, row in lines if row[at]}
            )
            for channel, at in KEY_AT.items()
        }
        kept: Lines = []
        for line, row in lines:
            values = list(row)
            for channel, at in KEY_AT.items():
                flag = self.flags[channel]
                if values[flag] and row[at] in said_no[channel]:
                    values[flag] = False
                    warnings.append(
                        f"{path}:{line}: customer {row[self.id]!r}: {CONSENT[channel]}=true"
                        " ignored, they opted out through Leal (that wins until they opt in"
                        " through Leal again)"
                    )
            kept.append((line, tuple(values)))
        return kept

    def _erased(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        found = select(Customer.id).where(Customer.id.in_(ids), Customer.erased_at.is_not(None))
        return set(self.connection.scalars(found))

    def _exists(self, condition: ColumnElement[bool]) -> bool:
        return bool(self.connection.scalar(select(exists().where(condition))))
