"""MJML constructs that compilers drop, mangle or refuse, found with their line.

Measured (node `mjml` 4 and 5, pure-Python `mjml`, MRML): Jinja between MJML elements
outside a text element such as `<mj-raw>` is dropped by node and pure-Python `mjml` (MRML
keeps it, so the output would depend on the compiler); `<` or `>` inside a Jinja tag makes
MRML refuse the template; Jinja inside a width, padding or other sized attribute is
replaced by the default size without a word. MRML also accepts mismatched closing tags,
so those are checked here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Finding = tuple[int, str]  # line, message

# Elements whose content is text or HTML, where Jinja may do anything.
TEXT_ELEMENTS = frozenset(
    {"mj-raw", "mj-text", "mj-button", "mj-title", "mj-preview", "mj-table", "mj-style"}
    | {"mj-navbar-link", "mj-social-element", "mj-accordion-title", "mj-accordion-text"}
)
# Every element of the MJML 4 spec (documentation.mjml.io). MRML passes an unknown
# `<mj-…>` into the HTML untouched, where mail clients show nothing: `<mj-buton>` loses the
# button without a word, so an element outside this list is an error.
KNOWN_ELEMENTS = frozenset(
    {"mjml", "mj-head", "mj-body", "mj-include", "mj-attributes", "mj-all", "mj-class"}
    | {"mj-breakpoint", "mj-font", "mj-html-attributes", "mj-html-attribute", "mj-selector"}
    | {"mj-preview", "mj-style", "mj-title", "mj-accordion", "mj-accordion-element"}
    | {"mj-accordion-title", "mj-accordion-text", "mj-button", "mj-carousel"}
    | {"mj-carousel-image", "mj-column", "mj-divider", "mj-group", "mj-hero", "mj-image"}
    | {"mj-navbar", "mj-navbar-link", "mj-raw", "mj-section", "mj-social"}
    | {"mj-social-element", "mj-spacer", "mj-table", "mj-text", "mj-wrapper"}
)
_ATTRIBUTES = r"""(?:[^>"']|"[^"]*"|'[^']*')*?"""
_TOKENS = re.compile(
    rf"<!--.*?-->|<(/?)(mjml|mj-[a-z-]+)\b({_ATTRIBUTES})(/?)>|\{{%-?\s*(\w+)|\{{\{{", re.S
)
_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
_SIZE_NAME = r"(?:[a-z]+-)*(?:width|height|padding|radius|size|spacing)(?:-[a-z]+)*"
_SIZED = re.compile(rf"""\s({_SIZE_NAME})\s*=\s*["'][^"']*\{{[{{%]""")  # name="…{{ or name="…{%


def mjml_pitfalls(text: str) -> list[Finding]:
    return [*_angle_brackets(text), *_structure(text)]


def _angle_brackets(text: str) -> Iterator[Finding]:
    for match in _JINJA_TAG.finditer(text):
        if "<" in match.group(0) or ">" in match.group(0):
            yield _line(text, match.start()), "MJML: no < or > inside a Jinja tag (use lt/gt)"


def _structure(text: str) -> Iterator[Finding]:
    """Jinja outside text elements, Jinja in sizes, and tags that do not pair up."""
    open_elements: list[tuple[str, int]] = []  # (element, line), innermost last
    for match in _TOKENS.finditer(text):
        closing, element, attributes, self_closing, block = match.groups()
        line = _line(text, match.start())
        if element:
            if element not in KNOWN_ELEMENTS and not closing:
                yield line, f"MJML: unknown element <{element}> (the email would lose it)"
            yield from _sized(attributes, element, line)
            if closing:
                yield from _close(open_elements, element, line)
            elif not self_closing:
                open_elements.append((element, line))
        elif match.group(0).startswith("{") and not _in_text(open_elements):
            what, home = (f"{{% {block} %}}", "mj-raw") if block else ("{{ … }}", "mj-text")
            yield (
                line,
                (
                    f"MJML: {what} between MJML elements is dropped by compilers: "
                    f"put it inside <{home}>"
                ),
            )
    for element, line in open_elements:
        yield line, f"MJML: <{element}> is never closed"


def _sized(attributes: str, element: str, line: int) -> Iterator[Finding]:
    for found in _SIZED.finditer(attributes):
        where = line + attributes.count("\n", 0, found.start())
        yield where, f'MJML: no Jinja inside {found.group(1)}="…" of <{element}>'


def _close(open_elements: list[tuple[str, int]], element: str, line: int) -> Iterator[Finding]:
    """Close `element`; what it leaves open inside it was never closed."""
    if not any(name == element for name, _ in open_elements):
        inner = open_elements[-1] if open_elements else None
        what = f"does not close <{inner[0]}> (line {inner[1]})" if inner else "closes nothing"
        yield line, f"MJML: </{element}> {what}"
        return
    while (opened := open_elements.pop())[0] != element:
        yield opened[1], f"MJML: <{opened[0]}> is never closed"


def _in_text(open_elements: list[tuple[str, int]]) -> bool:
    return bool(open_elements) and open_elements[-1][0] in TEXT_ELEMENTS


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
