"""Templates run under limits: loops, values, output and time are bounded at compile time
and at render, and a template over a limit is a clear error naming its file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from jinja2 import TemplateSyntaxError

from campaigns.check import check_config
from campaigns.config import Settings
from campaigns.loader import Config
from templates.loader import SHIPPED, TemplateSet
from templates.render import Renderer, RenderSkipError
from templates.resources import external_resources
from templates.samples import sample_context
from templates.sandbox import TemplateLimitError, make_environment

# Each hung a render, ate memory, or (folded at compile time) hung `leal check`.
DOS = [
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% for i in range(9000) %}{% for j in range(9000) %}{% endfor %}{% endfor %}",
    "{{ lipsum(1000000) }}",
    "{{ 'x' * 10**9 }}",
    "{{ [1] * 10**9 }}",
    "{{ 9**(9**9) }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ '%s'|format(1) ~ '%999999999s'|format(1) }}",
    "{{ 'x'|center(999999999) }}",
    "{{ 'x'.ljust(999999999) }}{{ 'x'.zfill(999999999) }}",
    "{{ '\t'.expandtabs(999999999) }}",
    "{{ ('a\n' * 1000)|indent(999999) }}",
    "{{ ('a ' * 100000)|wordwrap(1, wrapstring='y' * 100000) }}",
    "{{ ('x' * 1000)|replace('x', 'y' * 1000)|replace('y', 'z' * 1000) }}",
    "{{ ('x' * 1000).replace('x', 'y' * 1000) }}",
    "{{ range(10000)|join('-' * 100) }}",
    "{{ ','.join(['x' * 100000] * 10) }}",
    "{{ [1]|batch(999999999, 0)|list }}",
    "{{ [1]|slice(999999999)|list }}",
    "{{ ([[1] * 1000] * 1000)|sum(start=[]) }}",
    "{{ {'a': 1}|tojson(indent=999999999) }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}",
    "{% set a = ['x' * 1000] * 100 %}{% set b = [a] * 100 %}{% set c = [b] * 100 %}{{ c }}",
    "{% set a = ['x' * 1000] * 100 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
    "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{{ c|string }}",
    "{% set s = 'x' * 200000 %}{% set ns = namespace(l=[]) %}{% for i in range(9999) %}"
    "{% set ns.l = ns.l + [s[1:]] %}{% endfor %}",
    "{% for i in range(10000) %}{% set t %}{{ 'x' * 200000 }}{% endset %}{% endfor %}",
    "{% for i in range(10000) %}{{ 'x' * 200000 }}{% endfor %}",
    "{{ dict.fromkeys(range(10000), 'x' * 200000)|string }}",
    "{% for i in range(10000) %}{{ loop.cycle('a' * 200000, 'b') }}{% endfor %}",
    "{{ ('x' * 200000).translate({120: 'y' * 200000}) }}",
]


@pytest.mark.parametrize("source", DOS)
def test_a_template_over_a_limit_stops_fast_with_a_clear_error(source: str) -> None:
    # given a hostile template; when it is compiled (Jinja folds constants) and rendered
    started = time.monotonic()
    with pytest.raises(TemplateLimitError):
        make_environment(html=True).from_string(source).render()
    # then it stopped on a limit, well within the time per message
    assert time.monotonic() - started < 3


def test_a_tight_loop_that_prints_nothing_stops_at_the_deadline() -> None:
    template = make_environment(html=False).from_string(
        "{% for i in range(5000) %}{% if i == -1 %}x{% endif %}{% endfor %}"
    )
    with pytest.raises(TemplateLimitError, match="took more than"):
        template.render_part({}, deadline=time.monotonic() - 1)  # type: ignore[attr-defined]


def test_the_output_of_a_part_is_capped() -> None:
    template = make_environment(html=False).from_string(
        "{% for i in range(5000) %}{{ 'x' * 1000 }}{% endfor %}"
    )
    with pytest.raises(TemplateLimitError, match="output passed 100,000"):
        template.render_part({}, max_output=100_000)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "recursion"),
        ('{% extends "layout.html" %}', "{% extends %} is not available"),
        ('{% include "footer.txt" %}', "{% include %} is not available"),
        ('{% import "m.txt" as m %}', "{% import %} is not available"),
        ("{% for x in [1] recursive %}{{ loop([]) }}{% endfor %}", "recursive loops"),
        ("{{ 1 // 0 }}", "ZeroDivisionError"),
        ("{{ 'x' * 10**9 }}", "over a template limit"),
    ],
)
def test_template_errors_skip_the_message_naming_the_file(
    tmp_path: Path, source: str, said: str
) -> None:
    folder = tmp_path / "custom" / "en"
    folder.mkdir(parents=True)
    (folder / "sms.txt").write_text(source, encoding="utf-8")
    renderer = Renderer(TemplateSet(tmp_path, "en"))
    with pytest.raises(RenderSkipError, match=r"custom/en/sms\.txt") as raised:
        renderer.sms("custom", sample_context("birthday"), 2)
    assert said in str(raised.value)


def test_leal_check_names_the_file_and_line_of_a_template_over_a_limit(tmp_path: Path) -> None:
    # given a copy of the birthday templates whose English text part hangs on render
    config = _shop_copy(tmp_path)
    sms = tmp_path / "t" / "birthday" / "en" / "text.txt"
    sms.write_text("Hi\n{{ 9**(9**9) }}\n", encoding="utf-8")
    # when checked; then it ends fast with the file and line
    started = time.monotonic()
    problems = check_config(config)
    assert time.monotonic() - started < 10
    assert [(p.source, p.line) for p in problems] == [(str(sms), 2)]
    assert "over a template limit" in problems[0].message


def test_leal_check_renders_every_part_an_unknown_attribute_is_file_line(tmp_path: Path) -> None:
    config = _shop_copy(tmp_path)
    text = tmp_path / "t" / "birthday" / "it" / "text.txt"
    text.write_text("Ciao {{ customer.firstname }}\n", encoding="utf-8")
    footer = tmp_path / "t" / "_shared" / "ro" / "footer.mjml"
    footer.write_text(
        footer.read_text(encoding="utf-8").replace("shop.postal_address", "shop.adress", 1),
        encoding="utf-8",
    )
    problems = {(p.source, p.line): p.message for p in check_config(config)}
    assert "firstname" in problems[(str(text), 1)]
    [(where, message)] = [(k, m) for k, m in problems.items() if k[0] == str(footer)]
    assert where[1] is not None and "adress" in message


def test_leal_check_refuses_an_unknown_mjml_element(tmp_path: Path) -> None:
    # MRML passes <mj-buton> into the HTML untouched: the button vanishes
    config = _shop_copy(tmp_path)
    email = tmp_path / "t" / "birthday" / "es" / "email.mjml"
    text = email.read_text(encoding="utf-8").replace("<mj-button", "<mj-buton", 1)
    email.write_text(text.replace("</mj-button>", "</mj-buton>", 1), encoding="utf-8")
    problems = check_config(config)
    assert any(
        p.source == str(email) and "unknown element <mj-buton>" in p.message for p in problems
    )


def test_leal_check_warns_about_a_resource_from_another_site(tmp_path: Path) -> None:
    config = _shop_copy(tmp_path)
    head = tmp_path / "t" / "_shared" / "en" / "head.mjml"
    head.write_text(
        '<mj-font name="Lato" href="https://fonts.googleapis.com/css?family=Lato" />\n'
        + head.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    [problem] = check_config(config)
    assert (problem.source, problem.line) == (str(head), 1)
    assert problem.message.startswith("warning: https://fonts.googleapis.com")


@pytest.mark.parametrize("template", ["birthday", "abandoned_cart", "tier_up", "win_back"])
@pytest.mark.parametrize("locale", ["ca", "es", "it", "ro", "en"])
def test_no_shipped_email_loads_anything_from_another_site(template: str, locale: str) -> None:
    # MRML adds Google Fonts links when a font-family names Roboto: not any more
    context = sample_context(template, locale, recommendations=4)
    html = Renderer(TemplateSet(SHIPPED, "en")).email(template, context).html
    assert "googleapis" not in html and "@import" not in html
    assert external_resources(html, {"shop.example"}) == []
    assert "https://shop.example/p0.jpg" in html  # product images are the shop's own


def test_a_compile_time_error_has_its_line() -> None:
    with pytest.raises(TemplateSyntaxError) as raised:
        make_environment(html=False).from_string('a\n{% include "x" %}')
    assert raised.value.lineno == 2


def _shop_copy(tmp_path: Path) -> Config:
    """The shipped templates copied into a shop's own folder, as a marketer would."""
    import shutil

    shutil.copytree(SHIPPED, tmp_path / "t", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    campaign = {
        "trigger": "birthday",
        "template": "birthday",
        "holdout_percent": 0,
        "channels": ["email", "sms"],
    }
    settings = Settings(templates={"dir": str(tmp_path / "t")}, campaigns={"birthday": campaign})
    return Config(settings, None)
