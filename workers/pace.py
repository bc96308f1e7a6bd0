"""Pacing a sender: one message every 1/rate seconds, never faster.

`LocalPace` holds the rate within one process. `RedisPace` holds it across every worker that
shares the Redis: an atomic script hands out the next free send slot per sender, so two
workers on one number together still send at the configured rate.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis

# KEYS[1]: the sender's key; ARGV: now and interval in microseconds. Returns the slot.
_RESERVE = """
local now = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], slot + tonumber(ARGV[2]), 'PX', 60000)
return slot
"""


class Pace(Protocol):
    def wait(self) -> None: ...


class LocalPace:
    def __init__(self, rate_per_second: float) -> None:
        self.interval = 1.0 / rate_per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class RedisPace:
    def __init__(self, url: str, sender: str, rate_per_second: float) -> None:
        self.client = redis.Redis.from_url(url)
        self.key = f"leal:pace:{sender}"
        self.interval_us = round(1_000_000 / rate_per_second)
        self._reserve = self.client.register_script(_RESERVE)

    def wait(self) -> None:
        seconds, micros = self.client.time()  # the server's clock: the same for every worker
        now_us = seconds * 1_000_000 + micros
        slot_us = int(self._reserve(keys=[self.key], args=[now_us, self.interval_us]))
        if slot_us > now_us:
            time.sleep((slot_us - now_us) / 1_000_000)
