"""The loyalty campaigns' templates: every part in every locale, rendered on every sample
moment of its trigger (the days left before points expire, each welcome step, an order gone),
the card link in every email, the survey's scale and honeypot, and SMS that carry the card
link only when it fits their budget."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
from jinja2 import UndefinedError
from markupsafe import escape

from templates.lint import lint_template
from templates.loader import SHIPPED, TemplateSet
from templates.render import Renderer, RenderSkipError
from templates.samples import (
    MOMENT_VARIANTS,
    MOMENTS,
    SAMPLE,
    SAMPLE_CARD,
    SAMPLE_CODE,
    sample_context,
)
from templates.sandbox import make_environment
from templates.sms import GSM7, sms_parts

CAMPAIGNS = [
    "points_expiring", "reward_available", "milestone", "welcome",
    "post_purchase_survey", "at_risk", "review_request",
]  # fmt: skip
LOCALES = ["ca", "es", "it", "ro", "en"]
PARTS = ["email.mjml", "subject.txt", "text.txt", "sms.txt"]
FILES = [(c, lo, p) for c in CAMPAIGNS for lo in LOCALES for p in PARTS]
OFFERS: list[Any] = ["percent", "amount", "shipping", None]
NAME = "Maximiliana Josefina"  # all GSM-7
ACCENTED = "Maria Núria"  # "ú" turns an SMS into UCS-2
LEFTOVER = re.compile(r"\{\{|\{%|\}\}|%\}")
RENDERER = Renderer(TemplateSet(SHIPPED, "es"))
PLAIN = make_environment(html=False)
# A condition of a shipped template: `{% if … %}`, `{% elif … %}`, or `x if … else y`.
CONDITION = re.compile(r"\{%-?\s*(?:el)?if\s+(.+?)\s*-?%\}|\bif\s+([^%{}]+?)\s+else\b")
ON_THE_MOMENT = re.compile(r"\b(moment|survey)\b")


def variants(campaign: str) -> list[str | None]:
    """The sample moment (None) and the name of each variant of it."""
    return [None, *MOMENT_VARIANTS.get(campaign, {})]


def sample(
    campaign: str, locale: str, moment: dict[str, Any] | None = None, **options: Any
) -> dict[str, Any]:
    """The sample context (of a variant: `variant=`), with `moment`'s fields over its own."""
    context = sample_context(campaign, locale, **options)
    context["moment"] = context["moment"] | (moment or {})
    return context


def _conditions_on_the_moment(template: str) -> set[str]:
    """Every condition of the template's files, in every locale, on the moment or survey."""
    found = set()
    for path in (SHIPPED / template).glob("*/*.*"):
        for match in CONDITION.finditer(path.read_text(encoding="utf-8")):
            condition = match.group(1) or match.group(2)
            if ON_THE_MOMENT.search(condition):
                found.add(condition)
    return found


@pytest.mark.parametrize("template", sorted(MOMENTS))
def test_the_variants_take_every_branch_on_the_moment_both_ways(template: str) -> None:
    # given the sample moment and each of its variants (what `leal check` renders)
    contexts = [sample_context(template, "en", variant=name) for name in variants(template)]
    # then each condition a shipped template puts on the moment or the survey is true on
    # one of them and false on another: each branch is rendered by `leal check`
    conditions = _conditions_on_the_moment(template)
    for condition in sorted(conditions):
        expression = PLAIN.compile_expression(condition, undefined_to_none=False)
        outcomes = set()
        for context in contexts:
            try:
                outcomes.add(bool(expression(**context)))
            except UndefinedError:  # inside a branch this moment does not take
                continue
        assert outcomes == {True, False}, f"{template}: {condition} is only ever {outcomes}"
    assert SAMPLE not in MOMENT_VARIANTS.get(template, {})


def test_every_campaign_has_the_four_parts_in_every_locale() -> None:
    assert [f"{c}/{lo}/{p}" for c, lo, p in FILES if not (SHIPPED / c / lo / p).is_file()] == []


@pytest.mark.parametrize(("campaign", "locale", "part"), FILES, ids=["/".join(f) for f in FILES])
def test_each_part_lints_clean(campaign: str, locale: str, part: str) -> None:
    path = SHIPPED / campaign / locale / part
    text = path.read_text(encoding="utf-8")
    assert lint_template(path, text) == []
    if part == "subject.txt":
        assert len(text.rstrip("\n").splitlines()) == 1


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_every_moment_renders_with_the_card_link_and_the_offer_it_has(
    campaign: str, locale: str
) -> None:
    for variant in variants(campaign):
        for offer in OFFERS:
            # given each sample moment, with each kind of offer or none
            context = sample(campaign, locale, variant=variant, offer=offer, recommendations=2)
            # when the email is rendered
            email = RENDERER.email(campaign, context)
            # then it is in the locale, names the customer, and is fully rendered
            assert email.locale == locale
            assert NAME in email.subject and NAME in email.text
            for part in (email.subject, email.text, email.html):
                assert not LEFTOVER.search(part), part
            # and both parts carry the card link, the unsubscribe link and the offer's code
            # exactly when there is an offer
            assert SAMPLE_CARD in email.text and f'href="{SAMPLE_CARD}"' in email.html
            assert (SAMPLE_CODE in email.text) is (offer is not None)
            assert (SAMPLE_CODE in email.html) is (offer is not None)
            assert str(escape("Cafè d'Etiòpia 0")) in email.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_the_sms_carries_the_card_link_only_when_it_fits(campaign: str, locale: str) -> None:
    for variant in variants(campaign):
        for offer in OFFERS:
            # given a name in GSM-7: the card link fits the two segments
            sms = RENDERER.sms(campaign, sample(campaign, locale, variant=variant, offer=offer), 2)
            assert sms.parts.encoding == GSM7 and sms.parts.segments <= 2, sms.text
            assert SAMPLE_CARD in sms.text and "STOP" in sms.text and NAME in sms.text
            assert (SAMPLE_CODE in sms.text) is (offer is not None)
            # given an accented name, the SMS is UCS-2: the link is left out, the rest fits
            context = sample(campaign, locale, variant=variant, offer=offer, first_name=ACCENTED)
            sms = RENDERER.sms(campaign, context, 2)
            assert sms.parts.encoding != GSM7 and sms.parts.segments <= 2, sms.text
            assert SAMPLE_CARD not in sms.text and ACCENTED in sms.text
            assert (SAMPLE_CODE in sms.text) is (offer is not None)


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_a_budget_of_one_segment_drops_the_card_link_first(campaign: str) -> None:
    # given an SMS whose version with the card link takes two segments
    context = sample_context(campaign, "en", offer=None)
    assert RENDERER.sms(campaign, context, 2).parts.segments == 2
    # when the campaign allows one segment
    try:
        sms = RENDERER.sms(campaign, context, 1)
    except RenderSkipError:  # even its shortest version needs two: skipped, never cut
        return
    # then what goes out fits it, without the card link
    assert sms.parts.segments == 1 and SAMPLE_CARD not in sms.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_dates_in_the_sms_stay_gsm7_in_every_month(campaign: str, locale: str) -> None:
    for month in range(1, 13):
        context = sample_context(campaign, locale, expires_on=date(2027, month, 28))
        if campaign == "points_expiring":
            context["moment"]["expires_on"] = date(2027, month, 28)
        sms = RENDERER.sms(campaign, context, 2)
        assert sms_parts(sms.text).encoding == GSM7, sms.text


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_rendering_is_strict_a_missing_card_link_fails(campaign: str) -> None:
    context = sample_context(campaign, "en")
    del context["card_url"]
    source = (SHIPPED / campaign / "en" / "text.txt").read_text(encoding="utf-8")
    with pytest.raises(UndefinedError):
        PLAIN.from_string(source).render(context)


@pytest.mark.parametrize(
    ("locale", "days_left", "subject"),
    [
        ("en", 30, "Maximiliana Josefina, your points expire on January 23, 2027"),
        ("en", 7, "Last chance, Maximiliana Josefina: your points expire in 7 days"),
        ("en", 1, "Last chance, Maximiliana Josefina: your points expire tomorrow"),
        ("en", 0, "Last chance, Maximiliana Josefina: your points expire today"),
        ("es", 1, "Última oportunidad, Maximiliana Josefina: tus puntos caducan mañana"),
        ("ca", 5, "Última oportunitat, Maximiliana Josefina: els teus punts caduquen d'aquí a "
                  "5 dies"),
        ("ro", 2, "Ultima șansă, Maximiliana Josefina: punctele tale expiră în 2 zile"),
        ("it", 0, "Ultima occasione, Maximiliana Josefina: i tuoi punti scadono oggi"),
    ],
)  # fmt: skip
def test_the_expiry_copy_follows_the_days_left(locale: str, days_left: int, subject: str) -> None:
    # given 250 points expiring on 23 January, with this many days left
    moment = {"expires_on": date(2027, 1, 23), "days_left": days_left}
    email = RENDERER.email("points_expiring", sample("points_expiring", locale, moment))
    # then the subject is the warning's, or the last chance's with the days left
    assert email.subject == subject


@pytest.mark.parametrize(
    ("locale", "points", "shown"),
    [
        ("en", 1, "1 point of your balance expires"),
        ("en", 250, "250 points of your balance expire"),
        ("es", 1, "1 punto de tu saldo caduca"),
        ("ca", 250, "250 punts del teu saldo caduquen"),
        ("it", 1, "1 punto del tuo saldo scade"),
        ("ro", 19, "19 puncte din soldul tău expiră"),
        ("ro", 250, "250 de puncte din soldul tău expiră"),
    ],
)
def test_the_points_and_their_verb_agree(locale: str, points: int, shown: str) -> None:
    email = RENDERER.email("points_expiring", sample("points_expiring", locale, {"points": points}))
    assert shown in email.text


def test_each_welcome_step_has_its_own_message() -> None:
    # given the three steps of the example series (0, 2 and 5 days after joining)
    subjects, texts = [], []
    for variant in variants("welcome"):
        email = RENDERER.email("welcome", sample("welcome", "en", variant=variant, offer=None))
        subjects.append(email.subject)
        texts.append(email.text)
    # then the first explains the program, the second the first order, the third the tiers
    assert subjects == [
        "Welcome to Cafè Leal, Maximiliana Josefina!",
        "Maximiliana Josefina, your first order earns points",
        "Maximiliana Josefina, the more you earn, the higher you go",
    ]
    assert "1 point for every €1.00 you spend" in texts[0] and "valid for 365 days" in texts[0]
    assert "100 points take 10% off an order" in texts[1]
    assert "- Silver: from 500 points" in texts[2] and "860 points away from Gold" in texts[2]


class _Links(HTMLParser):
    """Every link of an email with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


@pytest.mark.parametrize("locale", LOCALES)
def test_the_survey_is_one_big_link_per_score_and_a_honeypot_no_one_sees(locale: str) -> None:
    # given the survey email of an NPS campaign
    context = sample_context("post_purchase_survey", locale, offer=None, recommendations=0)
    survey = context["survey"]
    email = RENDERER.email("post_purchase_survey", context)
    parser = _Links()
    parser.feed(email.html)
    by_url = {link["href"]: link for link in parser.links}
    # then each score is a link of its own, a tap target of 44 pixels
    for link in survey["links"]:
        style = by_url[link["url"]]["style"] or ""
        assert "height:44px" in style and "display:inline-block" in style
    # and the ends of the scale say what they mean
    assert str(escape(survey["labels"]["low"])) in email.html
    assert str(escape(survey["labels"]["high"])) in email.html
    # and the honeypot is hidden from sight, from screen readers and from the tab key
    honeypot = by_url[survey["honeypot_url"]]
    assert "display:none" in (honeypot["style"] or "")
    assert (honeypot["aria-hidden"], honeypot["tabindex"]) == ("true", "-1")
    # and the text part lists every score's link, and never the honeypot
    for link in survey["links"]:
        assert f"{link['score']}: {link['url']}\n" in email.text
    assert survey["honeypot_url"] not in email.text
    assert survey["question"] in email.text


def test_the_survey_email_without_a_survey_still_thanks_the_customer() -> None:
    # given the survey template used by a campaign that has no `survey`
    context = sample_context("post_purchase_survey", "en", offer=None)
    context["survey"] = None
    email = RENDERER.email("post_purchase_survey", context)
    # then it renders a thank-you with no survey link
    assert "/survey/" not in email.html and "/survey/" not in email.text
    assert "Thank you for your order of December 18, 2026" in email.text


def test_a_review_request_links_each_product_to_review() -> None:
    context = sample_context("review_request", "es", offer=None)
    email = RENDERER.email("review_request", context)
    for line in context["moment"]["lines"]:
        assert f"Opina sobre {line['name']}: {line['url']}" in email.text
        assert f'href="{line["url"]}"' in email.html
    assert "cada reseña te da 50 puntos" in email.text


def test_sms_fit_takes_the_first_version_within_the_budget() -> None:
    # given a template with three versions of a text, longest first
    template = PLAIN.from_string("{{ (a * 20) | sms_fit(a * 10, a) }}")
    # then the budget decides which one goes out; the last one when none fits
    assert len(template.render(a="0123456789", render_sms_segments=2)) == 200
    assert len(template.render(a="0123456789", render_sms_segments=1)) == 100
    assert len(template.render(a="0123456789" * 20, render_sms_segments=1)) == 200
    # and without a budget (a part rendered on its own), the campaigns' default of two
    assert len(template.render(a="0123456789" * 3)) == 300
