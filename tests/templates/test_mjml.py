"""Leal's MJML compiler: node `mjml` parity on every email, Jinja kept byte-exact, one
compile per template version, and compiler errors at their file and line.

Regenerate the references with scripts/reference-html.py when a template changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import mjml
import pytest

from templates.loader import SHIPPED, TemplateSet
from templates.mjml import MjmlError, compile_email, compile_mjml, email_problems
from templates.sandbox import make_environment

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "templates"
SETS = {SHIPPED: HERE / "reference", FIXTURES: HERE / "fixtures" / "reference"}
# What Leal ships (a shop's own campaign copied into templates/ is not held to node mjml)
SHIPPED_CAMPAIGNS = (
    "abandoned_cart", "birthday", "tier_up", "win_back",
    "points_expiring", "reward_available", "milestone", "welcome",
    "post_purchase_survey", "at_risk", "review_request",
)  # fmt: skip
EMAILS = [
    (root, path.parent.parent.name, path.parent.name)
    for root in SETS
    for path in sorted(root.glob("*/*/email.mjml"))
    if root != SHIPPED or path.parent.parent.name in SHIPPED_CAMPAIGNS
]
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)

Visible = tuple[list[str], list[str], list[tuple[str, str]]]


class _Visible(HTMLParser):
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


def visible(html: str) -> Visible:
    parser = _Visible()
    parser.feed(html)
    return parser.text, parser.links, parser.images


def test_every_email_has_a_node_mjml_reference_and_every_reference_an_email() -> None:
    for root, reference in SETS.items():
        emails = sorted(f"{name}-{locale}" for r, name, locale in EMAILS if r == root)
        assert sorted(p.stem for p in reference.glob("*.html")) == emails
    assert len(EMAILS) >= 2 + 55  # the fixtures and the shipped emails


@pytest.mark.parametrize(
    ("root", "name", "locale"), EMAILS, ids=[f"{r.name}/{n}-{lo}" for r, n, lo in EMAILS]
)
def test_compiled_email_shows_what_node_mjml_shows(root: Path, name: str, locale: str) -> None:
    source = TemplateSet(root, "en").source(name, "email.mjml", locale)
    reference = (SETS[root] / f"{name}-{locale}.html").read_text(encoding="utf-8")
    ours = visible(compile_mjml(source))
    assert ours == visible(reference)
    assert ours[0] and ours[1]  # something was compared: text and links at least


def test_jinja_tags_survive_compilation_byte_exact() -> None:
    source = TemplateSet(FIXTURES, "en").source("promo", "email.mjml", "en")
    html = compile_mjml(source)
    tags = JINJA.findall(source.text)
    assert len(tags) > 10
    assert [tag for tag in tags if tag not in html] == []


PRODUCTS = [
    {"name": f"Café {i}", "price": f"{i},00 €", "url": f"https://shop.example/p/{i}",
     "image_url": f"https://cdn.example/{i}.jpg"}
    for i in (1, 2)
]  # fmt: skip
CONTEXT = {
    "customer": {"id": "C1", "first_name": "Ana <b>"},
    "shop": {"name": "Cafè", "url": "https://shop.example", "postal_address": "Pau 1"},
    "offer": {"code": "ABC-123", "percent_off": 20},
    "recommendations": PRODUCTS,
    "unsubscribe_url": "https://shop.example/u/xyz",
}


def test_the_compiled_email_renders_its_context_once_per_recipient() -> None:
    template = compile_email(TemplateSet(FIXTURES, "en"), "promo", "en")
    text, links, images = visible(template.render(CONTEXT))
    assert "Hello Ana <b>, 20% off with" in text and "ABC-123" in text
    assert [t for t in text if t.startswith("Café")] == [
        "Café 1 · 1,00 €",
        "Café 2 · 2,00 € (last)",
    ]
    assert "Cafè · Pau 1" in text
    assert links == [
        "https://shop.example/promo?c=C1",
        "https://shop.example/p/1",
        "https://shop.example/p/2",
        "https://shop.example/u/xyz",
    ]
    assert images == [
        ("https://cdn.example/1.jpg", "Café 1"),
        ("https://cdn.example/2.jpg", "Café 2"),
    ]


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    compiled: list[str] = []
    real: Callable[..., str] = mjml.mjml2html

    def counting(text: str, **options: Any) -> str:
        compiled.append(text)
        return real(text, **options)

    monkeypatch.setattr("templates.mjml.mjml2html", counting)
    return compiled


def _write(root: Path, files: dict[str, str]) -> TemplateSet:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return TemplateSet(root, "en")


def _email(body: str, footer: str) -> dict[str, str]:
    return {
        "t/en/email.mjml": "<mjml>\n<mj-head>\n"
        '<mj-include path="_shared/head.mjml" />\n</mj-head>\n<mj-body>\n'
        f"<mj-section><mj-column><mj-text>{body}</mj-text></mj-column></mj-section>\n"
        '<mj-include path="_shared/footer.mjml" />\n</mj-body>\n</mjml>\n',
        "_shared/en/head.mjml": "<mj-attributes>\n</mj-attributes>\n",
        "_shared/en/footer.mjml": f"<mj-section><mj-column><mj-text>{footer}</mj-text>"
        "</mj-column></mj-section>\n",
    }


def test_one_compile_per_template_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _count_compiles(monkeypatch)
    templates = _write(tmp_path, _email("Hi {{ customer.first_name }}", "Bye 1"))
    first = compile_email(templates, "t", "en")
    assert compile_email(templates, "t", "en") is first  # the same version: cached
    assert len(compiled) == 1
    (tmp_path / "_shared" / "en" / "footer.mjml").write_text(
        _email("", "Bye 2")["_shared/en/footer.mjml"]
    )
    second = compile_email(templates, "t", "en")  # an included file changed: a new version
    assert second is not first and len(compiled) == 2
    assert "Bye 2" in second.render(CONTEXT) and "Bye 1" in first.render(CONTEXT)


def test_the_template_belongs_to_the_environment_asked_for(tmp_path: Path) -> None:
    templates = _write(tmp_path, _email("{{ 'x' | shout }}", "f"))
    environment = make_environment(html=True)
    environment.filters["shout"] = lambda value: f"{value}!"
    assert "x!" in compile_email(templates, "t", "en", environment).render({})


def test_a_compiler_error_with_a_position_names_the_included_file_and_line(tmp_path: Path) -> None:
    files = _email("Hi", "f")
    files["_shared/en/head.mjml"] = "<mj-attributes>\n</mj-attributes>\n{% if offer %}\n"
    templates = _write(tmp_path, files)
    head = tmp_path / "_shared" / "en" / "head.mjml"
    assert [str(p) for p in email_problems(templates, "t", "en")] == [
        f"{head}:3: MJML: unexpected token in root template"
    ]


def test_a_compiler_error_without_a_position_names_the_email(tmp_path: Path) -> None:
    templates = _write(tmp_path, _email("{% if loyalty.balance < 9 %}poor{% endif %}", "f"))
    with pytest.raises(MjmlError) as raised:
        compile_email(templates, "t", "en")
    email = tmp_path / "t" / "en" / "email.mjml"
    assert str(raised.value) == f"{email}: MJML: unable to parse next template in root template"


def test_a_bad_include_is_a_problem_at_the_tag(tmp_path: Path) -> None:
    files = _email("Hi", "f")
    del files["_shared/en/head.mjml"]
    templates = _write(tmp_path, files)
    email = tmp_path / "t" / "en" / "email.mjml"
    assert [str(p) for p in email_problems(templates, "t", "en")] == [
        f"{email}:3: mj-include '_shared/head.mjml': template '_shared' has no head.mjml (tried en)"
    ]


def test_every_email_compiles_without_problems() -> None:
    found = [
        problem
        for root, name, locale in EMAILS
        for problem in email_problems(TemplateSet(root, "en"), name, locale)
    ]
    assert found == []
