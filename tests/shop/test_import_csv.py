"""The block reader reads any file as csv.reader over its lines, one by one, always did:
the same rows at the same lines, the same bad rows with the same reasons."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import random
from collections.abc import Iterator

import pytest

from shop.import_csv import CsvBlocks

WIDTH = 3
HEADER = b"a,b,c\n"
# Pieces of hostile files: quotes (a quoted newline, a stray quote), CR alone and in CRLF,
# NUL, bytes that are not UTF-8, a BOM inside, blank lines, wrong widths, long fields.
PIECES = [
    b"x", b"yz", b",", b",", b",", b"\n", b"\n", b"\r\n", b"\r", b'"', b'""', b'"q,\nr"',
    b"\x00", b"\xff", b"\xc3", "é".encode(), "\u2028".encode(), codecs.BOM_UTF8, b" ", b"\t",
    b"x" * 40,
]  # fmt: skip


def reference(data: bytes) -> tuple[list[tuple[int, tuple[str, ...]]], list[tuple[int, str]]]:
    """What the importer read before blocks: csv.reader over each line decoded alone."""
    undecodable: list[int] = []

    def lines() -> Iterator[str]:
        raw = iter(io.BytesIO(data))
        first = next(raw, b"").removeprefix(codecs.BOM_UTF8)
        if not first:
            return
        for number, line in enumerate(itertools.chain([first], raw), 1):
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                undecodable.append(number)
                yield line.decode("utf-8", "replace")

    reader = csv.reader(lines())
    next(reader)  # the header
    rows: list[tuple[int, tuple[str, ...]]] = []
    bad: list[tuple[int, str]] = []
    end = reader.line_num
    while True:
        try:
            for row in reader:
                line, end = end + 1, reader.line_num
                if not row:
                    continue
                if undecodable and undecodable[-1] >= line:
                    bad.append((line, "not valid UTF-8 text"))
                elif len(row) != WIDTH:
                    bad.append((line, f"{len(row)} fields where the header has {WIDTH}"))
                else:
                    rows.append((line, tuple(row)))
            break
        except csv.Error as error:
            line, end = end + 1, reader.line_num
            bad.append((line, f"not valid CSV ({error})"))
    return rows, bad


def blocks(
    data: bytes, size: int, readers: int = 1
) -> tuple[list[tuple[int, tuple[str, ...]]], list[tuple[int, str]]]:
    """Every block's rows and bad rows, in order, read by `readers` readers in turn."""
    shares = []
    for turn in range(readers):
        source = CsvBlocks(io.BytesIO(data))
        assert source.header() == ["a", "b", "c"]
        shares.append(source.blocks(tuple, WIDTH, size, (turn, readers)))
    rows: list[tuple[int, tuple[str, ...]]] = []
    bad: list[tuple[int, str]] = []
    for turn in itertools.count():
        block = next(shares[turn % readers], None)
        if block is None:
            assert all(next(share, None) is None for share in shares), "readers agree on blocks"
            break
        rows += block[0]
        bad += block[1]
    return rows, bad


def hostile_file(pick: random.Random) -> bytes:
    """Mostly good rows, so plain blocks and careful ones meet at every boundary."""
    lines = []
    for _ in range(pick.randint(0, 40)):
        if pick.random() < 0.7:
            lines.append(f"{pick.randint(0, 99)},v{pick.randint(0, 9)},w\n".encode())
        else:
            lines.append(b"".join(pick.choice(PIECES) for _ in range(pick.randint(0, 8))))
    bom = codecs.BOM_UTF8 if pick.random() < 0.2 else b""
    return bom + HEADER + b"".join(lines)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
@pytest.mark.parametrize("readers", [1, 2, 3])
def test_hostile_files_read_as_csv_reader_reads_them_line_by_line(size: int, readers: int) -> None:
    # given files of good rows with every kind of trouble between them
    pick = random.Random(size * 10 + readers)
    for _ in range(300):
        data = hostile_file(pick)
        # when read in blocks, by one reader or by several sharing the blocks in turn
        # then rows and bad rows are those csv.reader finds line by line
        assert blocks(data, size, readers) == reference(data), data


def test_a_line_longer_than_a_field_may_be_is_read_by_csv_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a field size limit of 10 characters and a 12-character field in a plain block
    limit = csv.field_size_limit()
    csv.field_size_limit(10)
    try:
        data = HEADER + b"1,2,3\nabcdefghijkl,2,3\n4,5,6\n"
        # then it is the same error csv.reader gives, at its line, and the others are read
        rows, bad = blocks(data, 100)
        assert (rows, bad) == reference(data)
        assert bad == [(3, "not valid CSV (field larger than field limit (10))")]
    finally:
        csv.field_size_limit(limit)


def test_plain_crlf_blocks_are_split_like_lf_ones() -> None:
    data = HEADER + b"1,2,3\r\n\r\n4,5\r\n6,7,8"
    assert (
        blocks(data, 100)
        == reference(data)
        == (
            [(2, ("1", "2", "3")), (5, ("6", "7", "8"))],
            [(4, "2 fields where the header has 3")],
        )
    )


def test_a_quoted_field_that_runs_past_a_block_pulls_the_lines_it_needs() -> None:
    # given blocks of 2 lines and a record whose quoted field spans lines 3 to 5
    data = HEADER + b'1,2,3\n4,"five\nsix\nseven",8\n9,10,11\n'
    # then the record is whole at its first line and the next block starts after it
    assert (
        blocks(data, 2)
        == reference(data)
        == (
            [(2, ("1", "2", "3")), (3, ("4", "five\nsix\nseven", "8")), (6, ("9", "10", "11"))],
            [],
        )
    )
