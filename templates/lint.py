"""Template problems `leal check` reports as file:line, before any customer meets them.

- security: reaching for internals (`__class__`, `mro`, `.format`, `format_map`, `|attr`),
  found on the parsed Jinja tree, not by matching text;
- MJML pitfalls: a Jinja block between MJML elements outside `<mj-raw>` (compilers drop
  or mangle it), `<` or `>` inside a Jinja tag (MRML-based compilers fail), Jinja inside
  a width or height (every compiler parses those as numbers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from jinja2 import TemplateSyntaxError, nodes

from campaigns.loader import Problem
from templates.sandbox import make_environment

UNSAFE_ATTRIBUTES = frozenset({"mro", "format", "format_map"})
# Elements whose content is HTML text, where Jinja may do anything.
_TEXT_ELEMENTS = frozenset(
    {"mj-raw", "mj-text", "mj-button", "mj-title", "mj-preview", "mj-table", "mj-style"}
)
_TOKENS = re.compile(r"<(/?)(mj-[a-z-]+)([^>]*?)(/?)>|\{%-?\s*(\w+)")
_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_SIZED = re.compile(r'\b(width|height)="[^"]*\{[{%]')


def lint_template(path: Path, text: str) -> list[Problem]:
    try:
        tree = make_environment(html=path.suffix == ".mjml").parse(text)
    except TemplateSyntaxError as error:
        return [Problem(str(path), error.lineno, f"template syntax: {error.message}")]
    problems = [Problem(str(path), line, message) for line, message in _unsafe(tree)]
    if path.suffix == ".mjml":
        problems += [Problem(str(path), line, message) for line, message in _mjml_pitfalls(text)]
    return sorted(problems, key=lambda problem: problem.line or 0)


def _unsafe(tree: nodes.Template) -> Iterator[tuple[int, str]]:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name = _reached_name(node)
        if name is not None and (name.startswith("_") or name in UNSAFE_ATTRIBUTES):
            yield node.lineno, f"security: templates may not use {name!r}"
        if isinstance(node, nodes.Filter) and node.name == "attr":
            yield node.lineno, "security: templates may not use the attr filter"


def _reached_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return str(node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return node.arg.value if isinstance(node.arg.value, str) else None
    return None


def _mjml_pitfalls(text: str) -> Iterator[tuple[int, str]]:
    for match in _JINJA_TAG.finditer(text):
        inner = match.group(0)[2:-2]
        if "<" in inner or ">" in inner:
            yield _line(text, match.start()), "MJML: no < or > inside a Jinja tag (use lt/gt)"
    for match in _SIZED.finditer(text):
        yield _line(text, match.start()), f'MJML: no Jinja inside {match.group(1)}="…"'
    open_elements: list[str] = []
    for match in _TOKENS.finditer(text):
        closing, element, _, self_closing, block = match.groups()
        if element and not self_closing:
            _track(open_elements, element, closing=bool(closing))
        elif block and not (open_elements and open_elements[-1] in _TEXT_ELEMENTS):
            yield (
                _line(text, match.start()),
                f"MJML: {{% {block} %}} between MJML elements is dropped by compilers: "
                "put it inside <mj-raw>",
            )


def _track(open_elements: list[str], element: str, *, closing: bool) -> None:
    """Keep the stack of open MJML elements (a stray closing tag closes up to its match)."""
    if not closing:
        open_elements.append(element)
    elif element in open_elements:
        while open_elements.pop() != element:
            pass


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
