"""Who may be contacted on which channel. Used when planning and again at send time.

Reasons are stable strings, reported per message and counted in summaries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shop.models import Customer
from shop.suppressions import customer_suppressed

NO_CONSENT = "no_consent"
NO_ADDRESS = "no_address"
INVALID_ADDRESS = "invalid_address"
SUPPRESSED = "suppressed"

# Import validates addresses fully; this guards rows that reached the database another way.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def recipient_columns() -> list[Any]:  # columns and labelled EXISTS
    """What `Recipient.from_row` reads, for a query joined with `customers`."""
    return [
        Customer.email, Customer.phone, Customer.email_opt_in, Customer.sms_opt_in,
        customer_suppressed("email").label("email_suppressed"),
        customer_suppressed("sms").label("sms_suppressed"),
    ]  # fmt: skip


@dataclass(frozen=True)
class Recipient:
    email: str | None
    phone: str | None
    email_opt_in: bool
    sms_opt_in: bool
    email_suppressed: bool
    sms_suppressed: bool

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Recipient:
        return cls(
            email=row["email"],
            phone=row["phone"],
            email_opt_in=bool(row["email_opt_in"]),
            sms_opt_in=bool(row["sms_opt_in"]),
            email_suppressed=bool(row["email_suppressed"]),
            sms_suppressed=bool(row["sms_suppressed"]),
        )


def channel_block(recipient: Recipient, channel: str) -> str | None:
    """Why `recipient` cannot get a message on `channel`, or None when they can."""
    if channel == "email":
        consent, address, pattern = recipient.email_opt_in, recipient.email, _EMAIL
        suppressed = recipient.email_suppressed
    elif channel == "sms":
        consent, address, pattern = recipient.sms_opt_in, recipient.phone, _E164
        suppressed = recipient.sms_suppressed
    else:
        raise ValueError(f"unknown channel {channel!r}")
    if not consent:
        return NO_CONSENT
    if not address:
        return NO_ADDRESS
    if not pattern.match(address):
        return INVALID_ADDRESS
    if suppressed:
        return SUPPRESSED
    return None
