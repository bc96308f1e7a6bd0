"""Memory of a command's whole process tree, read from /proc (Linux): the benches that time
real commands sample it while the command runs (an import parses in forked helpers)."""

from __future__ import annotations

import os
import re
from pathlib import Path


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it, as they are now."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                children = Path(f"/proc/{current}/task/{task}/children").read_text()
                pending += [int(child) for child in children.split()]
        except OSError:
            continue  # it ended between two reads
    return found


def proc_mb(pid: int, file: str, key: str) -> float:
    """A `key: N kB` line of /proc/PID/FILE (status: VmRSS; smaps_rollup: Pss), in MB; 0
    when the process is gone."""
    try:
        content = Path(f"/proc/{pid}/{file}").read_text()
    except OSError:
        return 0.0
    match = re.search(rf"^{key}:\s+(\d+) kB", content, re.MULTILINE)
    return int(match[1]) * 1024 / 1e6 if match else 0.0
