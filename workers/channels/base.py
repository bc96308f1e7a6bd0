"""What every channel takes and returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Verdict = Literal["sent", "retry", "failed"]


@dataclass(frozen=True)
class OutgoingEmail:
    outbox_id: int
    to: str
    data: bytes  # the whole RFC 5322 message, CRLF


@dataclass(frozen=True)
class OutgoingSms:
    outbox_id: int
    to: str  # E.164
    body: str


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str | None = None  # short and stable, e.g. "hard_bounce"; no personal data
    detail: str | None = None  # the provider's own words
    provider_id: str | None = None


class Channel(Protocol):
    def send_email(self, message: OutgoingEmail) -> Outcome: ...

    def send_sms(self, message: OutgoingSms) -> Outcome: ...


@runtime_checkable
class Probeable(Protocol):
    def probe(self) -> str | None:
        """A cheap check that the provider answers (no message sent): None when it does,
        else what went wrong, in words without personal data."""
        ...
