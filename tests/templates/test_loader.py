"""Finding a template part for a locale, and resolving MJML includes with a line map."""

from __future__ import annotations

from pathlib import Path

import pytest

from templates.loader import IncludeError, TemplateNotFoundError, TemplateSet

FIXTURES = Path(__file__).parent / "fixtures" / "templates"
SPANISH_SHOP = TemplateSet(FIXTURES, "es")


@pytest.mark.parametrize(
    ("part", "locale", "found"),
    [
        ("email.mjml", "es", "es"),
        ("email.mjml", "es-MX", "es"),  # the language when the region has no variant
        ("email.mjml", "pt_BR", "es"),  # the shop's default locale
        ("text.txt", "es", "en"),  # then English
    ],
)
def test_a_part_falls_back_from_the_customers_locale_to_the_shops_then_english(
    part: str, locale: str, found: str
) -> None:
    assert SPANISH_SHOP.find("promo", part, locale) == FIXTURES / "promo" / found / part


def test_a_part_missing_everywhere_names_the_template_the_part_and_the_locales_tried() -> None:
    with pytest.raises(TemplateNotFoundError) as raised:
        SPANISH_SHOP.find("promo", "sms.txt", "pt-BR")
    assert str(raised.value) == "template 'promo' has no sms.txt (tried pt-BR, pt, es, en)"


def test_includes_nest_and_fall_back_like_parts() -> None:
    source = SPANISH_SHOP.source("promo", "email.mjml", "es")
    assert source.locale == "es"
    assert "<mj-include" not in source.text
    assert "Darse de baja" in source.text  # _shared/es/footer.mjml
    assert "{{ shop.postal_address }}" in source.text  # its include, from _shared/en
    assert "<mj-all font-family" in source.text  # _shared/en/head.mjml


def test_each_resolved_line_maps_back_to_its_file_and_line() -> None:
    source = SPANISH_SHOP.source("promo", "email.mjml", "es")
    lines = source.text.split("\n")
    assert len(source.origins) == len(lines)

    def origin_of(snippet: str) -> tuple[str, int]:
        number = next(i for i, line in enumerate(lines, 1) if snippet in line)
        path, line = source.origin(number)
        return str(path.relative_to(FIXTURES)), line

    assert origin_of("<mj-title>") == ("promo/es/email.mjml", 3)
    assert origin_of("<mj-all ") == ("_shared/en/head.mjml", 2)
    assert origin_of("</mj-head>") == ("promo/es/email.mjml", 5)
    assert origin_of("Darse de baja") == ("_shared/es/footer.mjml", 4)
    assert origin_of("{{ shop.postal_address }}") == ("_shared/en/address.mjml", 3)
    assert origin_of("</mj-body>") == ("promo/es/email.mjml", 22)


def _write(root: Path, files: dict[str, str]) -> TemplateSet:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return TemplateSet(root, "en")


def test_includes_follow_the_language_the_email_was_found_in(tmp_path: Path) -> None:
    templates = _write(
        tmp_path,
        {
            "t/en/email.mjml": '<mj-include path="_shared/footer.mjml" />',
            "_shared/en/footer.mjml": "Unsubscribe",
            "_shared/it/footer.mjml": "Disiscriviti",
        },
    )
    source = templates.source("t", "email.mjml", "it")
    assert (source.locale, source.text) == ("en", "Unsubscribe")


def test_an_include_cycle_is_refused_at_the_tag_that_closes_it(tmp_path: Path) -> None:
    templates = _write(
        tmp_path,
        {
            "t/en/email.mjml": '<mjml>\n<mj-include path="_shared/a.mjml" />\n</mjml>',
            "_shared/en/a.mjml": '<mj-include path="_shared/b.mjml" />',
            "_shared/en/b.mjml": '\n\n<mj-include path="_shared/a.mjml" />',
        },
    )
    with pytest.raises(IncludeError) as raised:
        templates.source("t", "email.mjml", "en")
    b = tmp_path / "_shared" / "en" / "b.mjml"
    assert str(raised.value) == (
        f"{b}:3: mj-include cycle: _shared/en/a.mjml -> _shared/en/b.mjml -> _shared/en/a.mjml"
    )


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (
            '<mj-include path="_shared/nope.mjml" />',
            "mj-include '_shared/nope.mjml': template '_shared' has no nope.mjml (tried en)",
        ),
        (
            '<mj-include path="../secrets/x.mjml" />',
            "mj-include path '../secrets/x.mjml': use _shared/NAME",
        ),
        ('<mj-include path="footer.mjml" />', "mj-include path 'footer.mjml': use _shared/NAME"),
        (
            '<mj-include path="_shared/footer.mjml"></mj-include>',
            'write includes as <mj-include path="_shared/NAME" />',
        ),
    ],
)
def test_a_bad_include_is_an_error_at_its_file_and_line(
    tmp_path: Path, tag: str, message: str
) -> None:
    templates = _write(tmp_path, {"t/en/email.mjml": f"<mjml>\n  {tag}\n</mjml>"})
    with pytest.raises(IncludeError) as raised:
        templates.source("t", "email.mjml", "en")
    assert str(raised.value) == f"{tmp_path / 't' / 'en' / 'email.mjml'}:2: {message}"


def test_the_digest_changes_with_any_included_file(tmp_path: Path) -> None:
    templates = _write(
        tmp_path,
        {"t/en/email.mjml": '<mj-include path="_shared/f.mjml" />', "_shared/en/f.mjml": "a"},
    )
    before = templates.source("t", "email.mjml", "en").digest
    assert templates.source("t", "email.mjml", "en").digest == before
    (tmp_path / "_shared" / "en" / "f.mjml").write_text("b", encoding="utf-8")
    assert templates.source("t", "email.mjml", "en").digest != before


def test_text_parts_are_read_as_written() -> None:
    source = SPANISH_SHOP.source("promo", "subject.txt", "es")
    assert source.text == "{{ offer.percent_off }}% de descuento, {{ customer.first_name }}\n"
