"""Fast instants for the demo shop: integer epoch seconds, formatted from lookup tables.

`datetime` per row would cost more than everything else per order together; here an
instant is an int, a shop-local day is an index (0 = the run date, 1 = the day before)
and formatting is one divmod and two list lookups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = 86_400
HOUR = 3_600


@dataclass(frozen=True)
class Clock:
    at: int  # the run instant, epoch seconds (floored: nothing generated lies after `at`)
    run_date: date  # shop-local
    tz: ZoneInfo
    midnights: list[int]  # midnights[back]: shop-local start of (run_date - back days)
    utc_start: int  # epoch of the UTC midnight that utc_days[0] names
    utc_days: list[str]  # "YYYY-MM-DD"
    seconds: list[str]  # "THH:MM:SSZ" for each second of a day

    @classmethod
    def build(cls, at: datetime, tz: ZoneInfo, days: int) -> Clock:
        """A clock covering `days` shop-local days before the run date, and the run date."""
        if at.tzinfo is None:
            raise ValueError("the run instant must be timezone-aware")
        run_date = at.astimezone(tz).date()
        midnights = [
            int(datetime.combine(run_date - timedelta(days=back), time(0), tz).timestamp())
            for back in range(days + 1)
        ]
        first = datetime.fromtimestamp(midnights[-1] - DAY, UTC).date()
        utc_start = int(datetime.combine(first, time(0), UTC).timestamp())
        now = math.floor(at.timestamp())
        count = (now - utc_start) // DAY + 2
        return cls(
            at=now,
            run_date=run_date,
            tz=tz,
            midnights=midnights,
            utc_start=utc_start,
            utc_days=[(first + timedelta(days=i)).isoformat() for i in range(count)],
            seconds=[
                f"T{h:02d}:{m:02d}:{s:02d}Z"
                for h in range(24)
                for m in range(60)
                for s in range(60)
            ],
        )

    @property
    def days(self) -> int:
        return len(self.midnights) - 1

    def utc(self, instant: int) -> str:
        """ISO 8601 in UTC with 'Z' (hot loops inline this)."""
        day, second = divmod(instant - self.utc_start, DAY)
        return self.utc_days[day] + self.seconds[second]

    def local(self, instant: int) -> str:
        """ISO 8601 with the shop's offset (slower; once per customer)."""
        return datetime.fromtimestamp(instant, self.tz).isoformat()
