"""`leal check`'s template problems, each at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from templates.lint import lint_template

MJML = Path("t/en/email.mjml")
TEXT = Path("t/en/sms.txt")


def problems(path: Path, text: str) -> list[str]:
    return [str(problem) for problem in lint_template(path, text)]


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("{{ customer.first_name.__class__ }}", "__class__"),
        ("{{ customer['__class__'] }}", "__class__"),
        ("{{ customer.first_name.mro }}", "mro"),
        ("{{ 'a{}'.format(customer.first_name) }}", "format"),
        ("{{ '{x}'.format_map(customer) }}", "format_map"),
    ],
)
def test_reaching_for_internals_is_a_security_problem(source: str, name: str) -> None:
    assert problems(TEXT, f"Hi\n\n{source}\n") == [
        f"{TEXT}:3: security: templates may not use {name!r}"
    ]


def test_the_attr_filter_is_refused() -> None:
    assert problems(TEXT, "{{ customer|attr('x') }}") == [
        f"{TEXT}:1: security: templates may not use the attr filter"
    ]


def test_a_syntax_error_names_its_line() -> None:
    assert problems(TEXT, "Hi\n{{ customer.first_name }\n") == [
        f"{TEXT}:2: template syntax: unexpected '}}'"
    ]


def test_a_jinja_block_between_mjml_elements_must_sit_in_mj_raw() -> None:
    source = (
        "<mjml><mj-body>\n"
        "<mj-section><mj-column>\n"
        "{% for p in recommendations %}\n"  # line 3: between column children
        "<mj-text>{{ p.name }}{% if p.url %}!{% endif %}</mj-text>\n"  # fine: inside text
        "{% endfor %}\n"  # line 5
        "<mj-raw>{% if offer %}</mj-raw>\n"  # fine: inside mj-raw
        "</mj-column></mj-section>\n"
        "<mj-raw>{% endif %}</mj-raw>\n"
        "</mj-body></mjml>\n"
    )
    assert problems(MJML, source) == [
        f"{MJML}:3: MJML: {{% for %}} between MJML elements is dropped by compilers: "
        "put it inside <mj-raw>",
        f"{MJML}:5: MJML: {{% endfor %}} between MJML elements is dropped by compilers: "
        "put it inside <mj-raw>",
    ]


def test_angle_brackets_in_a_jinja_tag_and_jinja_in_a_width() -> None:
    source = (
        "<mjml><mj-body><mj-section><mj-column>\n"
        '<mj-image width="{{ w }}px" src="{{ p.image_url }}" />\n'
        "<mj-text>{% if loyalty.balance > 100 %}rich{% endif %}</mj-text>\n"
        "</mj-column></mj-section></mj-body></mjml>\n"
    )
    assert problems(MJML, source) == [
        f'{MJML}:2: MJML: no Jinja inside width="…"',
        f"{MJML}:3: MJML: no < or > inside a Jinja tag (use lt/gt)",
    ]


def test_the_shipped_templates_are_clean() -> None:
    root = Path(__file__).parents[2] / "templates"
    found = [
        problem
        for path in sorted(root.glob("*/*/*"))
        if path.suffix in (".mjml", ".txt")
        for problem in problems(path, path.read_text(encoding="utf-8"))
    ]
    assert found == []
