"""Parsing the import files, in helper processes while the writer writes, or inline.

Parsing and validating a row (dates, amounts, email addresses, phone numbers) costs about as
much as writing it, so a big import is parsed by helper processes: each reads the files one
after another and streams every other block's rows (its turn) through a small bounded queue,
and the writer takes the blocks in turn: memory stays flat and every core works. Helpers also
do what needs no database: the customers' address hashes, and encoding what a path needs
encoded, so the writer receives rows as the driver takes them, and only writes.

The helpers are forked once, before the first file, while the importer is still small: their
pages are mostly shared with the writer's, and not copies of a page cache filled by the first
files. Small imports are parsed inline, where starting a process would cost more than it saves.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
import signal
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.queues import Queue
from operator import itemgetter
from pathlib import Path
from queue import Empty
from typing import Any

from campaigns.config import Settings
from shop import csv_rows
from shop.csv_loyalty import InteractionParser, order_parser
from shop.csv_rows import Lines, RowError, RowParser
from shop.import_csv import CsvBlocks

BACKGROUND_BYTES = 8 << 20  # imports from this size are parsed by helper processes
# Helpers share each file's blocks in turn. Two on two cores: a customer's phone number costs
# a helper more than the writer's whole row, and an order costs the writer about as much
# as a helper, so a second helper turns the writer's idle time into parsing.
HELPERS = min(2, os.cpu_count() or 1)
_QUEUE_BATCHES = 4  # batches in flight per helper: bounds memory, keeps the writer fed
_PATIENCE_S = 5  # how often a writer waiting for a block checks that its helper lives

Batch = tuple[Lines, Lines]  # (line, row for the writer), (line, reason)
Prepare = Callable[[Lines], Lines]  # parsed rows -> rows as the writer takes them


@dataclass(frozen=True)
class FilePlan:
    """One file to parse: which columns of its rows to read, and what to do with the rows."""

    name: str
    path: Path
    columns: tuple[int, ...]  # where each expected column is, then each optional one found
    width: int  # fields in the header
    prepare: Prepare
    optional: tuple[str, ...] = ()  # the optional columns found (csv_rows.OPTIONAL's order)


class ParseWorkerError(RuntimeError):
    """The helper process failed; its traceback is the message."""


Files = Iterator[tuple[FilePlan, Iterator[Batch]]]


@contextmanager
def parsed_files(plans: Sequence[FilePlan], settings: Settings) -> Iterator[Files]:
    """Each plan with its batches, in order: read each file's batches to the end before
    the next file's (the helpers send them one file after another)."""
    if sum(plan.path.stat().st_size for plan in plans) < BACKGROUND_BYTES:
        yield ((plan, _batches(plan, settings)) for plan in plans)
        return
    # fork, not spawn: a spawned child re-runs an unguarded __main__ (a user's script).
    context = multiprocessing.get_context("fork")
    queues: list[Queue[Any]] = [context.Queue(maxsize=_QUEUE_BATCHES) for _ in range(HELPERS)]
    children: list[int] = []
    try:
        for turn, queue in enumerate(queues):
            children.append(_fork_child(queue, plans, settings, (turn, HELPERS)))
        helpers = list(zip(queues, children, strict=True))
        yield ((plan, _received(helpers)) for plan in plans)
    finally:  # also when the writer stops early: never leave a helper behind
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # reaped already: it ended early
                os.waitpid(child, 0)


def _batches(
    plan: FilePlan, settings: Settings, share: tuple[int, int] = (0, 1)
) -> Iterator[Batch]:
    """The file's rows after its header, parsed and prepared for the writer: with `share`
    (k, n), those of its k-th block of every n."""
    parse = _parser(plan, settings)
    pick = itemgetter(*plan.columns)
    with plan.path.open("rb") as handle:
        source = CsvBlocks(handle)
        source.header()  # checked by the caller
        for rows, bad in source.blocks(pick, plan.width, csv_rows.BATCH, share):
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
            yield plan.prepare(good), bad


def _parser(plan: FilePlan, settings: Settings) -> Callable[[Sequence[str]], tuple[object, ...]]:
    parser = RowParser(settings)
    parsers: dict[str, Callable[[Sequence[str]], tuple[object, ...]]] = {
        "customers": parser.customer,
        "interactions": InteractionParser(settings),
        "products": parser.product,
        "orders": order_parser(parser, plan.optional),
        "order_items": parser.item,
        "cart_events": parser.cart_event,
    }
    return parsers[plan.name]


def _received(helpers: list[tuple[Queue[Any], int]]) -> Iterator[Batch]:
    """One file's batches from the helpers, each in its turn, up to the None with which
    each ends the file."""
    for turn in itertools.count():
        batch = _get(*helpers[turn % len(helpers)])
        if batch is None:  # the others have no more blocks either
            for later in range(turn + 1, turn + len(helpers)):
                assert _get(*helpers[later % len(helpers)]) is None, "helpers agree on blocks"
            return
        yield batch


def _get(queue: Queue[Any], child: int) -> Batch | None:
    """The helper's next item; an error if it failed, or ended without a word (killed for
    memory, say), instead of waiting for it forever."""
    while True:
        try:
            item = queue.get(timeout=_PATIENCE_S)
            break
        except Empty:
            if os.waitpid(child, os.WNOHANG) != (0, 0):
                raise ParseWorkerError(f"the parse helper {child} ended early") from None
    if isinstance(item, str):
        raise ParseWorkerError(item)
    return item  # type: ignore[no-any-return]


def _fork_child(
    queue: Queue[Any], plans: Sequence[FilePlan], settings: Settings, share: tuple[int, int]
) -> int:
    """A bare os.fork rather than multiprocessing.Process: Process runs every library's
    after-fork hook in the child, and kombu's closes the parent's inherited broker
    connections, blocking forever on a socket the parent owns (a process that used Celery,
    then imported a big file, hung). The child only parses, puts its batches on the queue
    and leaves with os._exit, never touching anything it inherited."""
    pid = os.fork()
    if pid:
        return pid
    try:  # pragma: no cover (the child: coverage does not follow it)
        gc.freeze()  # collections skip what the writer had: its pages stay shared, not copied
        _work(queue, plans, settings, share)
        queue.close()
        queue.join_thread()  # the batches are in the pipe before the child is gone
    finally:
        os._exit(0)


def _work(
    queue: Queue[Any], plans: Sequence[FilePlan], settings: Settings, share: tuple[int, int]
) -> None:
    try:
        for plan in plans:
            for batch in _batches(plan, settings, share):
                queue.put(batch)
            queue.put(None)
    except Exception:  # reported to the writer, which raises it
        queue.put(traceback.format_exc())
