"""Where a command's time and memory go, phase by phase (`leal run --timings`).

The daily bench (bench/daily.py) reads these lines from the real command, so the figures
it prints are the ones a user's run spends, not a re-enactment of its pieces.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

# ru_maxrss is in KiB on Linux (bytes on macOS, where this reads 1,024 times too big).
_KIB = 1024 if sys.platform != "darwin" else 1


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    peak_rss_mb: float  # the process's peak so far, read when the phase ends


@dataclass
class Timings:
    phases: list[Phase] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases.append(Phase(name, time.perf_counter() - started, peak_rss_mb()))

    def write(self, out: TextIO) -> None:
        """One line per phase, `timing <name> <seconds> s <peak RSS> MB`: stable for scripts."""
        for phase in self.phases:
            out.write(
                f"timing {phase.name:<16} {phase.seconds:9.3f} s {phase.peak_rss_mb:8.1f} MB\n"
            )
        total = sum(phase.seconds for phase in self.phases)
        out.write(f"timing {'total':<16} {total:9.3f} s {peak_rss_mb():8.1f} MB\n")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _KIB / 1e6


@contextmanager
def maybe(timings: Timings | None, name: str) -> Iterator[None]:
    """`timings.phase(name)`, or nothing when the caller did not ask for timings."""
    if timings is None:
        yield
    else:
        with timings.phase(name):
            yield
