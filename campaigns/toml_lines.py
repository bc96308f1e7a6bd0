"""Where each key of a TOML document is written, so errors can name `file:line`.

`tomllib` gives values without positions; this scanner records the line of every
table header and key (dotted keys, quoted keys and inline tables included) and finds
the nearest written ancestor of any path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?")
_KEY = re.compile(rf"\s*({_DOTTED})\s*=")
_PART_RE = re.compile(_PART)


def _split(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in _PART_RE.findall(dotted))


class TomlLines:
    """Maps key paths such as ("campaigns", "birthday", "params") to 1-based lines."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        in_multiline = False
        for number, line in enumerate(text.splitlines(), start=1):
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = not in_multiline
                if not in_multiline:
                    continue
            elif in_multiline:
                continue
            header = _HEADER.match(line)
            if header:
                table = _split(header.group(1))
                self.lines.setdefault(table, number)
                continue
            self._record_keys(line, table, number)

    def _record_keys(self, line: str, table: tuple[str, ...], number: int) -> None:
        key = _KEY.match(line)
        if not key:
            return
        path = table + _split(key.group(1))
        self.lines.setdefault(path, number)
        rest = line[key.end() :]
        if rest.lstrip().startswith("{"):  # inline table: its keys sit on this line too
            for inner in re.finditer(rf"[{{,]\s*({_DOTTED})\s*=", rest):
                self.lines.setdefault(path + _split(inner.group(1)), number)

    def line_of(self, path: Sequence[object]) -> int | None:
        """The line of `path`, or of its nearest ancestor that is written in the file."""
        keys = tuple(str(p) for p in path if not isinstance(p, int))
        while keys:
            if keys in self.lines:
                return self.lines[keys]
            keys = keys[:-1]
        return None
