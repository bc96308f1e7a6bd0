"""The shipped template files: every part in every locale, parsing, rendering on sample
data of each trigger (strictly: an unknown name fails), one-line subjects, SMS within two
segments, and MJML whose Jinja tags no compiler chokes on.

Compiling the emails is `test_mjml.py`'s business; this file holds the text of the parts.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from templates.lint import lint_template
from templates.loader import SHIPPED, TemplateSet
from templates.samples import SAMPLE_CODE, SAMPLE_UNSUBSCRIBE, sample_context
from templates.sandbox import make_environment
from templates.sms import GSM7, sms_parts

CAMPAIGNS = ["birthday", "abandoned_cart", "tier_up", "win_back"]
LOCALES = ["ca", "es", "it", "ro", "en"]
PARTS = ["email.mjml", "subject.txt", "text.txt", "sms.txt"]
SHARED = ["footer.mjml"]
FILES = [(c, lo, p) for c in CAMPAIGNS for lo in LOCALES for p in PARTS]
TEXT_PARTS = ["subject.txt", "text.txt", "sms.txt"]

NAME = "Maximiliana Josefina"  # 20 characters, all GSM-7
CODE = SAMPLE_CODE
UNSUBSCRIBE = SAMPLE_UNSUBSCRIBE
JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
LEFTOVER = re.compile(r"\{\{|\{%|\}\}|%\}")
HTML = make_environment(html=True)
PLAIN = make_environment(html=False)


def _source(campaign: str, locale: str, part: str) -> str:
    return (SHIPPED / campaign / locale / part).read_text(encoding="utf-8")


def sample(campaign: str, locale: str, **options: Any) -> dict[str, Any]:
    """A realistic context of the campaign's trigger, with four products (two full rows)."""
    return sample_context(campaign, locale, **{"recommendations": 4, **options})


VARIANTS: dict[str, dict[str, Any]] = {
    "percent-offer": {},
    "amount-offer": {"offer": "amount"},
    "free-shipping": {"offer": "shipping"},
    "no-offer": {"offer": None},
    "no-recommendations": {"recommendations": 0},
    "top-tier": {"top_tier": True},
}


def _render(campaign: str, locale: str, part: str, context: dict[str, Any]) -> str:
    environment = HTML if part.endswith(".mjml") else PLAIN
    return environment.from_string(_source(campaign, locale, part)).render(context)


def _sms(campaign: str, locale: str, context: dict[str, Any]) -> str:
    return _render(campaign, locale, "sms.txt", context).strip()  # as the renderer sends it


def test_every_campaign_has_the_four_parts_in_every_locale() -> None:
    missing = [f"{c}/{lo}/{p}" for c, lo, p in FILES if not (SHIPPED / c / lo / p).is_file()]
    missing += [
        f"_shared/{lo}/{name}"
        for lo in LOCALES
        for name in SHARED
        if not (SHIPPED / "_shared" / lo / name).is_file()
    ]
    assert missing == []


@pytest.mark.parametrize(("campaign", "locale", "part"), FILES, ids=["/".join(f) for f in FILES])
def test_each_part_parses_and_lints_clean(campaign: str, locale: str, part: str) -> None:
    path = SHIPPED / campaign / locale / part
    text = path.read_text(encoding="utf-8")
    (HTML if part.endswith(".mjml") else PLAIN).parse(text)  # raises on a syntax error
    assert lint_template(path, text) == []  # security, unknown names, MJML pitfalls


@pytest.mark.parametrize("path", sorted((SHIPPED / "_shared").glob("*/*.mjml")), ids=str)
def test_each_shared_piece_parses_and_lints_clean(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    HTML.parse(text)
    assert lint_template(path, text) == []


@pytest.mark.parametrize("campaign", CAMPAIGNS)
@pytest.mark.parametrize("locale", LOCALES)
def test_no_jinja_tag_in_an_email_holds_an_angle_bracket(campaign: str, locale: str) -> None:
    # the email as compiled: its shared pieces included
    text = TemplateSet(SHIPPED, "es").source(campaign, "email.mjml", locale).text
    tags = JINJA_TAG.findall(text)
    assert len(tags) > 20  # the check looked at the loops and conditions
    assert [tag for tag in tags if "<" in tag or ">" in tag] == []


@pytest.mark.parametrize("campaign", CAMPAIGNS)
@pytest.mark.parametrize("locale", LOCALES)
def test_the_subject_file_is_one_line(campaign: str, locale: str) -> None:
    assert len(_source(campaign, locale, "subject.txt").rstrip("\n").splitlines()) == 1


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_subject_text_and_sms_render_on_every_trigger(
    campaign: str, locale: str, variant: str
) -> None:
    context = sample(campaign, locale, **VARIANTS[variant])
    offer, products = context["offer"], context["recommendations"]
    subject = _render(campaign, locale, "subject.txt", context)
    assert NAME in subject and "\n" not in subject and subject == subject.strip()

    text = _render(campaign, locale, "text.txt", context)
    assert text.startswith(tuple(f"{hi} {NAME}" for hi in ("Hi", "Hola,", "Ciao", "Bună,")))
    assert not LEFTOVER.search(text)
    assert (CODE in text) is bool(offer)
    assert all((p["name"] in text and p["url"] in text) for p in products)
    assert ("Cafè d'Etiòpia" in text) is bool(products)
    assert UNSUBSCRIBE in text and "Carrer de la Pau 1, 08001 Barcelona" in text
    if campaign == "abandoned_cart":
        moment = context["moment"]
        assert moment["cart_url"] in text and moment["cart_total"] in text
        assert all(line["name"] in text for line in moment["lines"])
    if campaign == "win_back":
        assert "120" in text  # days since the last order

    sms = _sms(campaign, locale, context)
    parts = sms_parts(sms)
    assert parts.encoding == GSM7, sms  # nothing in the template forces UCS-2
    assert parts.segments <= 2, (parts, sms)
    assert sms.startswith("Cafè Leal: ") and NAME in sms and "STOP" in sms
    assert (CODE in sms) is bool(offer)
    assert not LEFTOVER.search(sms)


@pytest.mark.parametrize("variant", ["percent", "amount", "shipping", None])
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_the_sms_fits_two_segments_when_the_name_forces_ucs2(
    campaign: str, locale: str, variant: str | None
) -> None:
    # "ú" is not GSM-7: the whole SMS goes UCS-2, 134 units for two segments
    sms = _sms(campaign, locale, sample(campaign, locale, first_name="Maria Núria", offer=variant))
    parts = sms_parts(sms)
    assert parts.encoding != GSM7 and parts.segments <= 2, (parts, sms)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_birthday_sms_fits_two_segments_for_a_long_accented_name(locale: str) -> None:
    # the birthday SMS is the one sent by default: a 20-character UCS-2 name still fits
    context = sample("birthday", locale, first_name="María de los Ángeles")
    parts = sms_parts(_sms("birthday", locale, context))
    assert parts.segments <= 2, parts


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_expiry_dates_in_the_sms_stay_gsm7_in_every_month(campaign: str, locale: str) -> None:
    # month names such as "març" or "d’abril" would switch the SMS to UCS-2
    for month in range(1, 13):
        context = sample(campaign, locale, expires_on=date(2027, month, 28))
        sms = _sms(campaign, locale, context)
        assert sms_parts(sms).encoding == GSM7, sms


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_an_sms_with_an_amount_off_has_no_no_break_space(campaign: str, locale: str) -> None:
    context = sample(campaign, locale, offer="amount")
    assert "\u00a0" in context["offer"]["amount_off"] or locale == "en"
    sms = _sms(campaign, locale, context)
    assert "12,50" in sms or "12.50" in sms
    assert sms_parts(sms).encoding == GSM7, sms


@pytest.mark.parametrize("part", TEXT_PARTS)
@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_rendering_is_strict_a_missing_value_fails(campaign: str, part: str) -> None:
    # the sample contexts above prove every name the parts use exists: here, that a
    # missing one would have failed rather than printed nothing
    context = sample(campaign, "en")
    del context["customer"]["first_name"]
    with pytest.raises(UndefinedError):
        _render(campaign, "en", part, context)


def test_romanian_day_counts_take_de_from_twenty() -> None:
    context = sample("win_back", "ro")
    shown = {}
    for days in (19, 20, 101, 120):
        context["moment"]["days_since_last_order"] = days
        shown[days] = _render("win_back", "ro", "text.txt", context)
    assert "acum 19 zile" in shown[19] and "acum 20 de zile" in shown[20]
    assert "acum 101 zile" in shown[101] and "acum 120 de zile" in shown[120]


@pytest.mark.parametrize(
    ("locale", "points", "shown"),
    [
        ("en", 1, "1 point ·"),
        ("en", 1250, "1,250 points ·"),
        ("ca", 1, "1 punt ·"),
        ("ro", 1, "1 punct ·"),
        ("ro", 19, "19 puncte ·"),
        ("ro", 860, "860 de puncte ·"),
        ("it", 0, "0 punti ·"),
    ],
)
def test_the_points_balance_takes_the_form_its_count_asks_for(
    locale: str, points: int, shown: str
) -> None:
    context = sample("birthday", locale)
    context["loyalty"]["balance"] = points
    source = (SHIPPED / "_shared" / locale / "loyalty.mjml").read_text(encoding="utf-8")
    context["render_locale"] = locale
    assert shown in HTML.from_string(source).render(context)
