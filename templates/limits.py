"""The work one template render may do: a shop's templates are code Leal runs.

Jinja's sandbox stops attribute escapes, not work: `range(100000)` twice nested,
`'x' * 10**9`, `9**(9**9)` (folded at compile time), `"%999999999d" % 1`, `|center(10**9)` or
a doubling `{% set ns.s = ns.s ~ ns.s %}` would hang a worker or eat its memory. So every
place where a template makes a value grows by an argument, or loops, is checked here:

- a budget per render (`Budget`, held in a context variable while the render runs): loop
  iterations and calls (`MAX_STEPS`), characters/items of all values the template computes
  (`MAX_ALLOCATED`), and a deadline checked as the render advances, so a tight loop that
  prints nothing stops too;
- one computed value may hold `MAX_VALUE` characters or items, counted deeply where it
  would be turned into text (a list of lists of one long string prints as all of them);
- the output of a part is capped and rendered piecewise (`render_limited`).

Operators are checked before they run (`check_binop`), so nothing is allocated first;
Jinja's sandbox also refuses to fold intercepted operators into constants at compile time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from itertools import islice
from typing import Any

MAX_RANGE = 10_000  # items one range() may hold
MAX_STEPS = 100_000  # loop iterations and calls per render
MAX_VALUE = 250_000  # characters (or items) of one value a template computes
MAX_ALLOCATED = 10_000_000  # characters (or items) of all the values one render computes
MAX_INT_BITS = 4_096  # ~1,200 digits: more than any count or price needs
SECONDS = 2.0  # per message (all of its parts); the shipped emails take ~0.2 ms
MAX_OUTPUT = 1_000_000  # characters of a rendered part (Gmail clips an email at 102 KB)
MAX_LIPSUM_PARAGRAPHS, MAX_LIPSUM_WORDS = 20, 200
_CHUNKS = 256  # output pieces joined between two checks of the size and the deadline
_SEQUENCES = (str, bytes, list, tuple, dict, set, frozenset)
# printf-style conversions; a `*` takes its width from an argument
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")


class TemplateLimitError(Exception):
    """A template did more work than one message may; the message says which limit."""


class Budget:
    __slots__ = ("allocated", "deadline", "steps")

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = time.monotonic() + SECONDS if deadline is None else deadline
        self.steps = 0
        self.allocated = 0

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateLimitError(
                f"more than {MAX_STEPS:,} loop iterations and calls in one message"
            )
        if not self.steps & 63:
            self.check_time()

    def charge(self, size: int) -> None:
        if size > MAX_VALUE:
            raise TemplateLimitError(f"a value of more than {MAX_VALUE:,} characters or items")
        self.allocated += size
        if self.allocated > MAX_ALLOCATED:
            raise TemplateLimitError(
                f"more than {MAX_ALLOCATED:,} characters of computed values in one message"
            )
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"rendering took more than {SECONDS:g} s")


_BUDGET: ContextVar[Budget | None] = ContextVar("leal_template_budget", default=None)


def current() -> Budget:
    """The running render's budget; outside a render (Jinja folding constants at compile
    time) a fresh one: each folded value is still held to MAX_VALUE."""
    return _BUDGET.get() or Budget()


def charged(value: Any) -> Any:
    """`value`, counted against the render's budget (its own size, not deeply)."""
    if isinstance(value, _SEQUENCES):
        current().charge(len(value))
    elif type(value) is int:
        _check_int_bits(value.bit_length())
    return value


def deep_size(value: Any, limit: int = MAX_VALUE) -> int:
    """Characters/items `value` prints as, counting shared pieces each time they appear;
    raises past `limit`. Each distinct container is measured once."""
    sizes: dict[int, int] = {}

    def measure(item: Any) -> int:
        if isinstance(item, str | bytes):
            return len(item)
        if not isinstance(item, list | tuple | dict | set | frozenset):
            return 1
        known = sizes.get(id(item))
        if known is None:
            parts = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            known = len(item)
            for part in parts:
                known += measure(part)
                if known > limit:
                    raise TemplateLimitError(
                        f"a value that prints as more than {limit:,} characters"
                    )
            sizes[id(item)] = known
        return known

    return measure(value)


def check_printable(*values: Any) -> None:
    """Containers about to be turned into text stay within MAX_VALUE, counted deeply."""
    for value in values:
        if isinstance(value, list | tuple | dict | set | frozenset):
            current().charge(deep_size(value))


def guard_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every `{% for %}` iterates: each item is a step."""
    budget = current()
    for item in iterable:
        budget.step()
        yield item


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimitError(f"range() of {len(numbers):,} numbers (at most {MAX_RANGE:,})")
    return numbers


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    from jinja2.utils import generate_lorem_ipsum

    if n > MAX_LIPSUM_PARAGRAPHS or max > MAX_LIPSUM_WORDS or min > MAX_LIPSUM_WORDS:
        raise TemplateLimitError(
            f"lipsum() of at most {MAX_LIPSUM_PARAGRAPHS} paragraphs of {MAX_LIPSUM_WORDS} words"
        )
    return generate_lorem_ipsum(n, html, min, max)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be too big, before it runs."""
    if operator == "*":
        _check_repeat(left, right)
        _check_repeat(right, left)
        if _is_int(left) and _is_int(right):
            _check_int_bits(left.bit_length() + right.bit_length())
    elif operator == "**" and _is_int(left) and _is_int(right) and abs(left) > 1 and right > 0:
        _check_int_bits(left.bit_length() * right if right < MAX_INT_BITS else MAX_INT_BITS + 1)
    elif operator == "%" and isinstance(left, str):
        check_percent(left)
        check_printable(right)
    elif operator == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        current().charge(len(left) + len(right))


def check_percent(template: str) -> None:
    """printf-style widths and precisions allocate that many characters."""
    for width, precision in _PERCENT.findall(template):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_VALUE):
                raise TemplateLimitError(f"a %-format width of {number!r} (at most {MAX_VALUE:,})")


def check_width(text_length: int, width: Any) -> None:
    if isinstance(width, int) and max(width, text_length) > MAX_VALUE:
        raise TemplateLimitError(f"a width of {width:,} (at most {MAX_VALUE:,})")


def check_replace(text: str, old: str, new: str, count: Any = -1) -> None:
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    current().charge(len(text) + found * max(len(new) - len(old), 0))


def check_join(separator: str, items: list[Any]) -> None:
    budget = current()
    total = len(separator) * max(len(items) - 1, 0)
    for item in items:
        total += len(item) if isinstance(item, str) else deep_size(item)
        if total > MAX_VALUE:
            break
    budget.charge(total)


def _check_repeat(sequence: Any, times: Any) -> None:
    if isinstance(sequence, _SEQUENCES) and _is_int(times):
        current().charge(len(sequence) * max(times, 0))


def _check_int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(f"a number of more than {MAX_INT_BITS:,} bits")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def render_limited(
    template: Any, variables: dict[str, Any], *, max_output: int = MAX_OUTPUT,
    deadline: float | None = None,
) -> str:  # fmt: skip
    """Render `template` under a fresh budget, stopping once the output passes
    `max_output` characters or the deadline passes."""
    token = _BUDGET.set(budget := Budget(deadline))
    try:
        chunks = template.root_render_func(template.new_context(variables))
        pieces, total = [], 0
        while batch := list(islice(chunks, _CHUNKS)):
            block = "".join(batch)
            total += len(block)
            if total > max_output:
                raise TemplateLimitError(f"the output passed {max_output:,} characters")
            budget.check_time()
            pieces.append(block)
        return "".join(pieces)
    finally:
        _BUDGET.reset(token)
