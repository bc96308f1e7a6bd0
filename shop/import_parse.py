"""Parsing an import file, inline or in a second process while the first one writes.

Parsing and validating a row (dates, amounts, email addresses, phone numbers) costs about
as much as writing it, so a big file is parsed by a helper process that streams batches
through a small bounded queue: memory stays flat and both cores work. Small files are
parsed inline, where starting a process would cost more than it saves.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.queues import Queue
from operator import itemgetter
from pathlib import Path
from typing import Any

from campaigns.config import Settings
from shop.csv_rows import CsvSource, Lines, RowError, RowParser

BACKGROUND_BYTES = 8 << 20  # files from this size are parsed by a helper process
_QUEUE_BATCHES = 4  # batches in flight: bounds memory, keeps the writer fed

Batch = tuple[Lines, Lines]  # (line, parsed row), (line, reason)


class ParseWorkerError(RuntimeError):
    """The helper process failed; its traceback is the message."""


def parsers(settings: Settings) -> dict[str, Callable[[Sequence[str]], tuple[object, ...]]]:
    parser = RowParser(settings)
    return {
        "customers": parser.customer,
        "products": parser.product,
        "orders": parser.order,
        "order_items": parser.item,
        "cart_events": parser.cart_event,
    }


def parsed_batches(
    path: Path, name: str, settings: Settings, columns: Sequence[int], width: int
) -> Iterator[Batch]:
    """The file's rows after its header, parsed: `columns` picks the expected columns."""
    if path.stat().st_size >= BACKGROUND_BYTES:
        return _in_background(path, name, settings, tuple(columns), width)
    return _inline(path, name, settings, tuple(columns), width)


def _inline(
    path: Path, name: str, settings: Settings, columns: tuple[int, ...], width: int
) -> Iterator[Batch]:
    parse = parsers(settings)[name]
    pick = itemgetter(*columns)
    with path.open("rb") as handle:
        source = CsvSource(handle)
        next(source.reader, None)  # the header, checked by the caller
        for rows, bad in source.batches(pick, width):
            good: Lines = []
            for line, values in rows:
                try:
                    good.append((line, parse(values)))
                except RowError as error:
                    bad.append((line, str(error)))
                except (ValueError, ArithmeticError, UnicodeError) as error:
                    # a value no check foresaw: one bad row, never the end of the import;
                    # the type only, as the message may quote an address
                    bad.append((line, f"a value could not be read ({type(error).__name__})"))
            yield good, bad


def _in_background(
    path: Path, name: str, settings: Settings, columns: tuple[int, ...], width: int
) -> Iterator[Batch]:
    # fork, not spawn: a spawned child re-runs an unguarded __main__ (a user's script).
    context = multiprocessing.get_context("fork")
    queue: Queue[Any] = context.Queue(maxsize=_QUEUE_BATCHES)
    child = _fork_child(queue, path, name, settings, columns, width)
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, str):
                raise ParseWorkerError(item)
            yield item
    finally:  # also when the writer stops early: never leave the helper behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def _fork_child(queue: Queue[Any], *args: Any) -> int:
    """A bare os.fork rather than multiprocessing.Process: Process runs every library's
    after-fork hook in the child, and kombu's closes the parent's inherited broker
    connections, blocking forever on a socket the parent owns (a process that used Celery,
    then imported a big file, hung). The child only parses, puts its batches on the queue
    and leaves with os._exit, never touching anything it inherited."""
    pid = os.fork()
    if pid:
        return pid
    try:  # pragma: no cover (the child: coverage does not follow it)
        _work(queue, *args)
        queue.close()
        queue.join_thread()  # the batches are in the pipe before the child is gone
    finally:
        os._exit(0)


def _work(
    queue: Queue[Any],
    path: Path,
    name: str,
    settings: Settings,
    columns: tuple[int, ...],
    width: int,
) -> None:
    try:
        for batch in _inline(path, name, settings, columns, width):
            queue.put(batch)
        queue.put(None)
    except Exception:  # reported to the writer, which raises it
        queue.put(traceback.format_exc())
