"""An import file's records, read in blocks with the csv module's exact answers.

A block is about BATCH lines. Most blocks of a shop's export hold no quote, no carriage return
but in CRLF line ends, and only UTF-8: there a record is a line and its fields are
`line.split(",")`, which is what csv.reader returns for such a line, decoded once per block
instead of once per line (a third of the cost of reading a row). Any other block is read the
careful way, line by line through csv.reader, so a quoted newline, a line that is not UTF-8 or
a malformed row is read and reported as it always was, at its true line number. A block always
ends on a record boundary: a quoted field that runs past its last line pulls the lines it needs.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

from shop.csv_rows import Lines

Pick = Callable[[list[str]], Sequence[str]]


class CsvBlocks:
    """The header, then blocks of (rows, bad rows) of one file: rows are (line, the expected
    columns in order), bad rows (line, reason). Lines are split on LF only, as the file
    iterator splits them (straight from it: a block's lines cost no Python call each)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._lines: Iterator[bytes] = iter(handle)
        self._consumed = 0  # lines read so far

    def header(self) -> list[str] | None:
        """The first record, the UTF-8 byte order mark taken off its line (None when the
        file has none). Read it first; csv.Error is the caller's."""
        first = next(self._lines, b"").removeprefix(codecs.BOM_UTF8)
        if not first:
            return None
        reader = csv.reader(_decoded(itertools.chain([first], self._lines), 1, []))
        try:
            return next(reader, None)
        finally:
            self._consumed = reader.line_num

    def blocks(
        self, pick: Pick, width: int, size: int, share: tuple[int, int] = (0, 1)
    ) -> Iterator[tuple[Lines, Lines]]:
        """Blocks of about `size` lines. With `share` (k, n), only the blocks whose number
        is k modulo n: n readers of one file share its blocks (each still reads every line,
        to know where the blocks end, but splits and decodes only its own)."""
        turn, readers = share
        for number in itertools.count():
            raw = list(itertools.islice(self._lines, size))
            if not raw:
                return
            if number % readers != turn:
                self._skip(raw, pick, width)
                continue
            text = _plain_text(raw)
            if text is None:
                yield self._careful(raw, pick, width)
            else:
                first, self._consumed = self._consumed + 1, self._consumed + len(raw)
                yield _split(text, first, pick, width)

    def _skip(self, raw: list[bytes], pick: Pick, width: int) -> None:
        """Past another reader's block: without a quote its records are its lines."""
        if b'"' in b"".join(raw):
            self._careful(raw, pick, width)
        else:
            self._consumed += len(raw)

    def _careful(self, raw: list[bytes], pick: Pick, width: int) -> tuple[Lines, Lines]:
        """The block through csv.reader, line by line; the record open at its last line runs
        on into the file."""
        base, undecodable = self._consumed, list[int]()
        reader = csv.reader(_decoded(itertools.chain(raw, self._lines), base + 1, undecodable))
        rows: Lines = []
        bad: Lines = []
        end = 0  # lines of this block the reader has read
        while end < len(raw):
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                line, end = base + end + 1, reader.line_num
                bad.append((line, f"not valid CSV ({error})"))
                continue
            line, end = base + end + 1, reader.line_num  # a quoted newline spans lines
            if not row:
                continue  # blank line
            if undecodable and undecodable[-1] >= line:
                bad.append((line, "not valid UTF-8 text"))
            elif len(row) != width:
                bad.append((line, _wrong_width(len(row), width)))
            else:
                rows.append((line, pick(row)))
        self._consumed = base + reader.line_num
        return rows, bad


def _decoded(lines: Iterator[bytes], first: int, undecodable: list[int]) -> Iterator[str]:
    """Each line as text (the first is line `first`); one that is not UTF-8 is noted by
    number and read with U+FFFD."""
    for number, line in enumerate(lines, first):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.append(number)
            yield line.decode("utf-8", "replace")


def _plain_text(raw: list[bytes]) -> str | None:
    """The block as text, LF line ends, when csv.reader would read each line as its fields
    split on commas: no quote, no CR but in CRLF, all UTF-8, no line longer than a field
    may be. Else None."""
    data = b"".join(raw)
    if b'"' in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    if len(text) > csv.field_size_limit() and max(map(len, raw)) > csv.field_size_limit():
        return None  # bytes bound characters: no line is longer than its bytes
    return text


def _split(text: str, first: int, pick: Pick, width: int) -> tuple[Lines, Lines]:
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # what follows the last line end
    rows: Lines = []
    bad: Lines = []
    for number, line in enumerate(lines, first):
        if not line:
            continue  # blank line
        fields = line.split(",")
        if len(fields) == width:
            rows.append((number, pick(fields)))
        else:
            bad.append((number, _wrong_width(len(fields), width)))
    return rows, bad


def _wrong_width(fields: int, width: int) -> str:
    return f"{fields} fields where the header has {width}"
