"""The best of N timings of a piece of work: the least disturbed by whatever else ran."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(work: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """(fewest seconds of `repeat` runs, the last run's result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result
