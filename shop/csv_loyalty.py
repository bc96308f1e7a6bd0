"""The loyalty program's import columns, parsed as shop.csv_rows parses the rest: orders'
`points_redeemed`, `status` and `delivered_at`, and the rows of interactions.csv.

An orders file with any of the three gets every optional column (an absent one is empty,
so the default), in the table's column order; a file without them keeps csv_rows' parsers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from campaigns.config import Settings
from shop.csv_rows import (
    COLUMNS,
    COUPON_COLUMNS,
    MAX_INTEGER,
    OPTIONAL,
    LocalDates,
    RowError,
    RowParser,
    coupon_code_of,
    discount_of,
    ident,
    instant,
    show,
    utc_text,
)
from shop.models import PLACED

STATUSES = (PLACED, "cancelled", "refunded")
_STATUS = {"": PLACED} | {status: status for status in STATUSES}  # as usually written
_POINTS = re.compile(r"[0-9]{1,15}")  # [0-9], not \d; int() refuses 4,300 digits

OrderParser = Callable[[Sequence[str]], tuple[object, ...]]


def order_parser(parser: RowParser, optional: Sequence[str]) -> OrderParser:
    """The parser of an orders file whose header has these optional columns (in
    csv_rows.OPTIONAL's order, after the required ones)."""
    if set(optional) <= set(COUPON_COLUMNS):
        return parser.orders(optional)  # the plain file keeps its fast parser
    width = len(COLUMNS["orders"])
    # where each optional column is in the row, None when the header lacks it
    at = [width + optional.index(c) if c in optional else None for c in OPTIONAL["orders"]]
    order = parser.order

    def loyal(values: Sequence[str]) -> tuple[object, ...]:
        code, discount, redeemed, status, delivered = ("" if i is None else values[i] for i in at)
        row = order(values[:width])
        ordered_at = row[2]
        assert isinstance(ordered_at, str)
        # in shop.models.Order's column order, from coupon_code on
        return (
            *row, coupon_code_of(code) if code else None, discount_of(discount) if discount else 0,
            _STATUS.get(status) or _status(status), _points(redeemed) if redeemed else 0,
            _delivered(delivered, ordered_at) if delivered else None,
        )  # fmt: skip

    return loyal


def _status(value: str) -> str:
    """placed (also when empty), cancelled or refunded, in any case."""
    status = value.strip().lower() or PLACED
    if status not in STATUSES:
        raise RowError(f"status {show(value)} is not one of {', '.join(STATUSES)}")
    return status


def _points(value: str) -> int:
    """Points spent on the order (not empty): a whole number."""
    if _POINTS.fullmatch(value.removeprefix("-")) is None:
        raise RowError(f"points_redeemed {show(value)} is not a whole number")
    points = int(value)
    if points < 0:
        raise RowError(f"points_redeemed {show(value)} is negative")
    if points > MAX_INTEGER:
        raise RowError(f"points_redeemed {show(value)} is too large (at most {MAX_INTEGER:,})")
    return points


def _delivered(value: str, ordered_at: str) -> str:
    """An instant like ordered_at (with an offset, not empty), not before it: stored text
    compares as the instants do."""
    delivered = utc_text(instant("delivered_at", value), value)
    if delivered < ordered_at:
        raise RowError(f"delivered_at {show(value)} is before ordered_at")
    return delivered


class InteractionParser:
    """interactions.csv: id, customer_id, action (one of [loyalty] actions), at (an instant
    with an offset); the row as shop.models.Interaction stores it, with the points the
    action earns under today's settings."""

    def __init__(self, settings: Settings) -> None:
        self.actions = settings.loyalty.actions
        self.local_dates = LocalDates(settings.shop.tz)

    def __call__(self, values: Sequence[str]) -> tuple[object, ...]:
        interaction_id, customer_id, action, at = values
        head = (ident("id", interaction_id), ident("customer_id", customer_id))
        name = action.strip().lower()
        points = self.actions.get(name)
        if points is None:
            raise RowError(f"action {show(action)} is not one of [loyalty] actions ({self.known})")
        stored = utc_text(instant("at", at), at)
        return (*head, name, stored, self.local_dates.of(stored), points)

    @property
    def known(self) -> str:
        return ", ".join(sorted(self.actions)) or "none are configured"
