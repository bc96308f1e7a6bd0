"""Holdout groups: which campaign moments stay home so that `leal report` can measure them.

A customer's group is a hash of (salt, campaign, customer id) into 10,000 buckets: the same
customer stays in the same group for a campaign across runs, each campaign draws
independently of the others, and a new salt draws everyone again. The global holdout hashes
the customer alone: those customers get no marketing at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal

from campaigns.config import MeasurementSettings

BUCKETS = 10_000
HOLDOUT = "holdout"
GLOBAL_HOLDOUT = "global_holdout"
# A campaign name is any TOML key; a NUL cannot be typed into one, so this never collides.
_GLOBAL = "\x00global"


def bucket(salt: str, campaign: str, customer_id: str) -> int:
    """The customer's bucket for `campaign`, 0 ≤ bucket < 10,000, stable across runs."""
    key = "\x00".join((salt, campaign, customer_id)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % BUCKETS


def _threshold(percent: Decimal) -> int:
    """Buckets below this are held out: percent has at most two decimals, so it is exact."""
    return int(percent * BUCKETS / 100)


class HoldoutDraw:
    """Decides, per campaign moment, whether it is held out and why."""

    def __init__(self, measurement: MeasurementSettings, percents: dict[str, Decimal]) -> None:
        self._salt = measurement.holdout_salt
        self._global = _threshold(measurement.global_holdout_percent)
        self._campaign = {name: _threshold(p) for name, p in percents.items()}

    def reason(self, campaign: str, customer_id: str) -> str | None:
        """`global_holdout`, `holdout`, or None when the moment is sent."""
        if self._global and bucket(self._salt, _GLOBAL, customer_id) < self._global:
            return GLOBAL_HOLDOUT
        threshold = self._campaign.get(campaign, 0)
        if threshold and bucket(self._salt, campaign, customer_id) < threshold:
            return HOLDOUT
        return None

    def held_out(self, campaign: str, customer_ids: Iterable[str]) -> dict[str, str]:
        """customer id → reason, for the held-out ones among `customer_ids`."""
        found = {}
        for customer_id in customer_ids:
            why = self.reason(campaign, customer_id)
            if why is not None:
                found[customer_id] = why
        return found
