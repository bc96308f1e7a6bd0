"""Leal's MJML compiler (mjml-python) against node mjml, the reference, on every shipped
email: the same visible text, links and images, Jinja tags included.

Regenerate the references with scripts/reference-html.py when a template changes.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from templates.loader import TemplateSet
from templates.render import compile_mjml

REFERENCE = Path(__file__).parent / "reference"
TEMPLATES = TemplateSet(None, "en")
SHIPPED = sorted(
    p.parent.parent.name + "-" + p.parent.name for p in TEMPLATES.root.glob("*/*/email.mjml")
)


class Visible(HTMLParser):
    """What a reader sees and follows: text outside head/style, links, images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self.images: list[tuple[str, str]] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("style", "title", "head"):
            self._hidden += 1
        elif tag == "a":
            self.links.append(values.get("href") or "")
        elif tag == "img":
            self.images.append((values.get("src") or "", values.get("alt") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title", "head"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.text.append(" ".join(data.split()))


def visible(html: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    parser = Visible()
    parser.feed(html)
    return parser.text, parser.links, parser.images


def test_every_shipped_email_has_a_reference() -> None:
    assert sorted(p.stem for p in REFERENCE.glob("*.html")) == SHIPPED
    assert len(SHIPPED) == 20


@pytest.mark.parametrize("email", SHIPPED)
def test_compiled_email_matches_node_mjml(email: str) -> None:
    name, locale = email.rsplit("-", 1)
    ours = compile_mjml(TEMPLATES.source(name, "email.mjml", locale).text)
    reference = (REFERENCE / f"{email}.html").read_text(encoding="utf-8")
    text, links, images = visible(ours)
    assert (text, links, images) == visible(reference)
    assert any("{% for product in recommendations %}" in t for t in text)
