"""`leal check`'s template problems, each at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from templates.lint import lint_template

MJML = Path("t/en/email.mjml")
TEXT = Path("t/en/sms.txt")
CONTEXT_NAMES = (
    "campaign, card_url, customer, loyalty, moment, offer, recommendations, shop, survey, "
    "unsubscribe_url"
)


def problems(path: Path, text: str) -> list[str]:
    return [str(problem) for problem in lint_template(path, text)]


def email(*lines: str) -> str:
    """An email whose body lines start at line 3."""
    return "\n".join(
        [
            "<mjml><mj-body>",
            "<mj-section><mj-column>",
            *lines,
            "</mj-column></mj-section></mj-body></mjml>",
        ]
    )


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("{{ customer.first_name.__class__ }}", "__class__"),
        ("{{ customer['__class__'] }}", "__class__"),
        ("{{ customer.first_name.mro }}", "mro"),
        ("{{ 'a{}'.format(customer.first_name) }}", "format"),
        ("{{ '{x}'.format_map(customer) }}", "format_map"),
        ("{{ __builtins__ }}", "__builtins__"),
        ("{{ recommendations | map(attribute='name.__class__') | list }}", "__class__"),
        ("{{ recommendations | selectattr('__dict__') | list }}", "__dict__"),
        ("{{ recommendations | sort(attribute='mro') }}", "mro"),
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


def test_the_format_filter_and_attribute_names_that_are_data_are_fine() -> None:
    source = (
        "{{ '%d pts'|format(loyalty.balance) }} {{ recommendations|map(attribute='name')|join }}"
    )
    assert problems(TEXT, source) == []


def test_a_syntax_error_names_its_line() -> None:
    assert problems(TEXT, "Hi\n{{ customer.first_name }\n") == [
        f"{TEXT}:2: template syntax: unexpected '}}'"
    ]


def test_an_unknown_filter_names_its_line() -> None:
    assert problems(TEXT, "Hi\n\n{{ customer.first_name | shout }}\n") == [
        f"{TEXT}:3: template syntax: No filter named 'shout'."
    ]


def test_a_name_outside_the_context_is_a_problem() -> None:
    assert problems(TEXT, "Hi\n{{ cusotmer.first_name }}\n") == [
        f"{TEXT}:2: unknown name 'cusotmer': the context has {CONTEXT_NAMES}"
    ]


def test_loop_variables_exist_inside_their_loop_only() -> None:
    source = (
        "{% set greeting = 'Hi' %}{{ greeting }} {{ range(3) | list }}\n"
        "{% for product in recommendations if product.url %}{{ loop.index }} {{ product.name }}\n"
        "{% else %}{{ product }}{% endfor %}\n"
        "{{ product.name }} {{ loop.index }}\n"
    )
    assert problems(TEXT, source) == [
        f"{TEXT}:3: unknown name 'product': the context has {CONTEXT_NAMES}",
        f"{TEXT}:4: unknown name 'loop': the context has {CONTEXT_NAMES}",
        f"{TEXT}:4: unknown name 'product': the context has {CONTEXT_NAMES}",
    ]


def test_a_jinja_block_between_mjml_elements_must_sit_in_mj_raw() -> None:
    source = email(
        "{% for p in recommendations %}",  # line 3: between column children
        "<mj-text>{{ p.name }}{% if p.url %}!{% endif %}</mj-text>",  # fine: inside text
        "{% endfor %}",  # line 5
        "<mj-raw>{% if offer %}</mj-raw>",  # fine: inside mj-raw
        "<mj-raw>{% endif %}</mj-raw>",
    )
    assert problems(MJML, source) == [
        f"{MJML}:3: MJML: {{% for %}} between MJML elements is dropped by compilers: "
        "put it inside <mj-raw>",
        f"{MJML}:5: MJML: {{% endfor %}} between MJML elements is dropped by compilers: "
        "put it inside <mj-raw>",
    ]


def test_jinja_output_between_mjml_elements_must_sit_in_a_text_element() -> None:
    source = email("{{ customer.first_name }}", "<mj-text>{{ customer.first_name }}</mj-text>")
    assert problems(MJML, source) == [
        f"{MJML}:3: MJML: {{{{ … }}}} between MJML elements is dropped by compilers: "
        "put it inside <mj-text>"
    ]


def test_angle_brackets_in_a_jinja_tag() -> None:
    source = email("<mj-text>{% if loyalty.balance > 100 %}rich{% endif %}</mj-text>")
    assert problems(MJML, source) == [f"{MJML}:3: MJML: no < or > inside a Jinja tag (use lt/gt)"]


def test_jinja_in_a_size_attribute() -> None:
    source = email(
        '<mj-image width="{{ loyalty.balance }}px" src="{{ shop.url }}" />',
        '<mj-text font-size="16px"',
        '  padding-top="{% if offer %}4px{% endif %}">x</mj-text>',
        '<mj-button href="{{ shop.url }}" border-radius="{{ shop.name }}">Go</mj-button>',
    )
    assert problems(MJML, source) == [
        f'{MJML}:3: MJML: no Jinja inside width="…" of <mj-image>',
        f'{MJML}:5: MJML: no Jinja inside padding-top="…" of <mj-text>',
        f'{MJML}:6: MJML: no Jinja inside border-radius="…" of <mj-button>',
    ]


def test_mjml_tags_that_do_not_pair_up() -> None:
    source = email("<mj-text>a</mj-text>", "<mj-text>b</mj-image>", "<mj-section>")
    assert problems(MJML, source) == [
        f"{MJML}:4: MJML: </mj-image> does not close <mj-text> (line 4)",
        f"{MJML}:4: MJML: <mj-text> is never closed",
        f"{MJML}:5: MJML: <mj-section> is never closed",
    ]


@pytest.mark.parametrize(
    "root",
    [Path(__file__).parents[2] / "templates", Path(__file__).parent / "fixtures" / "templates"],
)
def test_the_shipped_and_fixture_templates_are_clean(root: Path) -> None:
    paths = sorted(p for p in root.glob("*/*/*") if p.suffix in (".mjml", ".txt"))
    assert len(paths) > 5
    found = [
        problem for path in paths for problem in problems(path, path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_a_closing_tag_with_nothing_open() -> None:
    assert problems(MJML, "<mjml></mjml>\n</mj-body>") == [
        f"{MJML}:2: MJML: </mj-body> closes nothing"
    ]
