"""Sending hours: the next instant a channel may reach a customer, in their own zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns.config import Window


def next_allowed(now: datetime, tz: ZoneInfo, window: Window | None) -> datetime | None:
    """None when `now` is inside the window; else the window's next start, as an instant.

    Wall-clock arithmetic happens on local dates and is converted once, so a DST change
    between now and the next start cannot shift it by an hour.
    """
    if window is None:
        return None
    local = now.astimezone(tz)
    if window.start <= local.time() < window.end:
        return None
    day = local.date() if local.time() < window.start else local.date() + timedelta(days=1)
    return datetime.combine(day, window.start, tzinfo=tz).astimezone(now.tzinfo)
