"""Rendering the shipped templates in every locale, and what a renderer refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape

from templates.loader import TemplateSet
from templates.render import Renderer, RenderSkipError
from templates.samples import MOMENTS, SAMPLE_CODE, sample_context
from templates.sms import GSM7

LOCALES = ["ca", "es", "it", "ro", "en"]
RENDERER = Renderer(TemplateSet(None, "es"))
LEFTOVER = re.compile(r"\{\{|\{%|\}\}|%\}")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", sorted(MOMENTS))
@pytest.mark.parametrize(
    "variant",
    [{}, {"offer": False}, {"recommendations": 0}, {"top_tier": True}],
    ids=["full", "no-offer", "no-recommendations", "top-tier"],
)
def test_every_shipped_template_renders_in_every_locale(
    template: str, locale: str, variant: dict[str, bool]
) -> None:
    context = sample_context(template, locale, **variant)  # type: ignore[arg-type]
    email = RENDERER.email(template, context)
    assert email.locale == locale
    assert "Maximiliana Josefina" in email.subject and "\n" not in email.subject
    product = "Cafè d'Etiòpia 0"
    for part, shown in ((email.html, str(escape(product))), (email.text, product)):
        assert "Maximiliana Josefina" in part
        assert not LEFTOVER.search(part), part
        assert (SAMPLE_CODE in part) is bool(context["offer"])
        assert (shown in part) is bool(context["recommendations"])
        assert "https://leal.shop.example/unsubscribe/ZW1haWw6QzE.c2ln" in part
    assert "Carrer de la Pau 1" in email.html
    sms = RENDERER.sms(template, context, max_segments=2)
    assert sms.parts.segments <= 2 and sms.parts.encoding == GSM7
    assert "STOP" in sms.text


def test_customer_data_is_text_never_template_code_or_markup() -> None:
    context = sample_context("birthday", "en", first_name="{{ 7*7 }}<script>alert(1)</script>")
    email = RENDERER.email("birthday", context)
    assert "{{ 7*7 }}&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "<script>" not in email.html and "49" not in email.subject
    assert "{{ 7*7 }}<script>alert(1)</script>" in email.text  # plain text is not HTML


def test_a_line_break_in_a_name_never_reaches_the_subject() -> None:
    context = sample_context("birthday", "en", first_name="Ana\r\nBcc: x@y.z")
    with pytest.raises(RenderSkipError, match="line break"):
        RENDERER.email("birthday", context)


def test_a_missing_value_skips_the_message_with_a_reason() -> None:
    context = sample_context("win_back", "en")
    del context["moment"]["days_since_last_order"]
    with pytest.raises(
        RenderSkipError,
        match=r"win_back/en/text.txt: 'dict object' has no attribute 'days_since_last_order'",
    ):
        RENDERER.email("win_back", context)


def test_a_locale_without_templates_falls_back_to_the_shops_default() -> None:
    email = RENDERER.email("tier_up", sample_context("tier_up", "pt-BR"))
    assert email.locale == "es"
    assert "Maximiliana Josefina, ya eres Oro" in email.subject  # the tier in Spanish too


def _shop_templates(tmp_path: Path, sms: str) -> Renderer:
    folder = tmp_path / "custom" / "en"
    folder.mkdir(parents=True)
    (folder / "sms.txt").write_text(sms, encoding="utf-8")
    return Renderer(TemplateSet(tmp_path, "en"))


@pytest.mark.parametrize(
    "source",
    [
        "{{ customer.first_name.__class__ }}",
        "{{ customer.first_name.format(1) }}",
        "{{ 'x{}'.format_map(customer) }}",
        "{{ customer.first_name.mro }}",
        "{{ customer|attr('first_name') }}",
    ],
)
def test_a_template_reaching_for_internals_is_refused_at_render(
    tmp_path: Path, source: str
) -> None:
    renderer = _shop_templates(tmp_path, source)
    with pytest.raises(RenderSkipError, match="refused by the sandbox"):
        renderer.sms("custom", sample_context("birthday"), max_segments=2)


@pytest.mark.parametrize("key", ["_private", "__class__", "format", "mro"])
def test_a_context_key_named_like_an_internal_is_refused_too(tmp_path: Path, key: str) -> None:
    context = sample_context("birthday")
    context["customer"][key] = "x"  # the fast path for dict keys must not open a door
    renderer = _shop_templates(tmp_path, f"{{{{ customer.{key} }}}}")
    with pytest.raises(RenderSkipError, match="refused by the sandbox"):
        renderer.sms("custom", context, max_segments=2)


def test_a_dict_method_name_stays_the_method_as_in_plain_jinja(tmp_path: Path) -> None:
    context = sample_context("birthday")
    context["customer"]["items"] = "not this"
    renderer = _shop_templates(tmp_path, "{{ customer.items()|length > 3 }} {{ customer.locale }}")
    assert renderer.sms("custom", context, max_segments=2).text == "True en"


def test_an_sms_over_its_segment_budget_is_skipped_naming_the_cause(tmp_path: Path) -> None:
    renderer = _shop_templates(tmp_path, "Hola {{ customer.first_name }}, " + "x" * 150 + " ’")
    with pytest.raises(RenderSkipError, match=r"3 segments \(UCS-2.*budget of 1; '’'"):
        renderer.sms("custom", sample_context("birthday"), max_segments=1)
