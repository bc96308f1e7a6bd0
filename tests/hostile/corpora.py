"""The public attack corpora in tests/hostile/corpora/ (sources and licences in its README)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent / "corpora"


@cache
def naughty_strings() -> list[str]:
    """The big list of naughty strings (MIT)."""
    return [str(s) for s in json.loads((HERE / "blns.json").read_text(encoding="utf-8"))]


@cache
def ssti_payloads() -> list[str]:
    """Jinja2 server-side template injection payloads from PayloadsAllTheThings (MIT)."""
    entries = json.loads((HERE / "ssti_jinja2.json").read_text(encoding="utf-8"))
    return [str(entry["payload"]) for entry in entries]


def _lines(name: str) -> list[str]:
    text = (HERE / name).read_text(encoding="utf-8", errors="surrogateescape")
    return [line for line in text.splitlines() if line.strip()]


@cache
def xss_payloads() -> list[str]:
    return _lines("xss.txt")


@cache
def crlf_payloads() -> list[str]:
    return _lines("crlf.txt")
