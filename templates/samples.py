"""Sample template contexts, one per trigger, as templates.context builds them: money
formatted in the sample's language (with the no-break space Babel puts before the euro
sign), an offer of each kind, a realistic coupon code. `leal check` fits each SMS to its
budget on them; the tests render every shipped part on them. MOMENT_VARIANTS: the other
moments of each trigger a template must handle, by name (`leal check` renders them all)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from campaigns.config import LoyaltySettings, Survey
from templates import moments
from templates.context import program_context, survey_context
from templates.links import SurveyMoment, card_url, survey_token
from templates.sandbox import format_money
from templates.unsubscribe import Signer

OfferKind = Literal["percent", "amount", "shipping"]
SAMPLE_CODE = "K7QX2-MZH4P"  # the shape campaigns.offers issues
SAMPLE_UNSUBSCRIBE = "https://leal.shop.example/unsubscribe/ZW1haWw6QzE.c2ln"
SAMPLE_PUBLIC_URL = "https://leal.shop.example"
# Real signed links (of a key that signs nothing else), so they are as long as real ones.
_SIGNER = Signer(b"leal-sample-links-sign-nothing-else")
SAMPLE_CARD = card_url(SAMPLE_PUBLIC_URL, _SIGNER, "C1")
SAMPLE_ON = date(2026, 12, 24)  # the day the samples are sent
SAMPLE_SURVEY = Survey(kind="nps", comment=True)
_LOYALTY = LoyaltySettings(actions={"review": 50, "referral": 200, "survey_answered": 20})
_TZ = ZoneInfo("Europe/Madrid")
_CART = [("mug", "Tassa de ceràmica", 1250, 2), ("tea", "Té verd del Japó", 450, 1)]

# Each sample template: the trigger it answers, and the moment without its money.
MOMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "birthday": ("birthday", {"birthday_on": date(2026, 12, 24)}),
    "abandoned_cart": (
        "abandoned_cart",
        {
            "cart_id": "k1",
            "last_change_at": "2026-12-23T09:02:00Z",
            "item_count": 3,
            "cart_url": "https://shop.example/cart",
        },
    ),
    "tier_up": ("tier_change", {"old_tier": "silver", "new_tier": "gold"}),
    "win_back": ("win_back", {"last_order_on": date(2026, 8, 26), "days_since_last_order": 120}),
    # The loyalty triggers' moments, parsed as templates.context parses them.
    "points_expiring": (
        "points_expiring",
        moments.points_expiring({"points": 250, "expires_on": "2026-12-31"}, SAMPLE_ON, _LOYALTY),
    ),
    "reward_available": (
        "reward_available",
        moments.reward_available({"points_balance": 130, "rewards": 1}, _LOYALTY),
    ),
    "milestone": ("milestone", moments.milestone({"threshold": 1000, "points_earned": 1040})),
    "welcome": (
        "welcome",
        moments.welcome({"step": 0, "joined_at": "2026-12-23T18:42:00Z"}, _TZ, [0, 2, 5]),
    ),
    "post_purchase_survey": (
        "post_purchase_survey",
        moments.post_purchase_survey(
            {"order_id": "o1042", "ordered_at": "2026-12-18T10:15:00Z",
             "delivered_at": "2026-12-21T12:30:00Z"},
            _TZ,
        ),
    ),
    "at_risk": (
        "at_risk",
        moments.at_risk(
            {"last_order_on": "2026-11-02", "mean_gap_days": 24.5, "days_since_last_order": 52},
            SAMPLE_ON,
        ),
    ),
    "review_request": (
        "review_request",
        moments.review_request(
            {"survey_campaign": "post_purchase_survey", "survey_occasion": "survey:o1042",
             "score": 10},
            _LOYALTY,
        ),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """Another shape of a sample: `moment`, fields merged over the sample moment; for the
    survey sample, `survey`, the survey its campaign asks (None: none) and `survey_points`,
    what answering earns (None: nothing)."""

    moment: dict[str, Any] = field(default_factory=dict)
    survey: Survey | None = SAMPLE_SURVEY
    survey_points: int | None = _LOYALTY.actions.get("survey_answered")


SAMPLE = "sample"  # the name `leal check` gives the sample moment itself
# Other moments a template must handle, by name, merged over the sample moment: `leal
# check` renders every part on each of them (and the tests do too), so that a branch only
# some moments take is rendered before anyone gets it. Each `{% if %}` of a shipped
# template on a moment's field (or the survey's) has a variant for each way it goes: the
# days left before points expire (the warning, then the last days), each step of the
# welcome series, the second milestone, one reward or many and what a reward leaves, an
# order not delivered or gone, a rhythm of one day, every survey kind, with and without a
# comment box, points for answering or a survey at all. What is not the moment's (an offer
# of each kind or none, recommendations or none, images or none, the top tier) is
# `sample_context`'s options, which `leal check` crosses with these.
MOMENT_VARIANTS: dict[str, dict[str, Variant]] = {
    "points_expiring": {
        name: Variant(moments.points_expiring({"points": 1, "expires_on": day}, SAMPLE_ON,
                                              _LOYALTY))
        for name, day in (
            ("warning: 30 days left, 1 point", "2027-01-23"),
            ("last chance: 2 days left, 1 point", "2026-12-26"),
            ("last chance: tomorrow, 1 point", "2026-12-25"),
            ("last chance: today, 1 point", "2026-12-24"),
        )
    },
    "welcome": {
        name: Variant(moments.welcome({"step": step, "joined_at": joined}, _TZ, [0, 2, 5]))
        for name, step, joined in (
            ("step 2 of 3: the first order", 2, "2026-12-21T18:42:00Z"),
            ("step 3 of 3: the tiers", 5, "2026-12-18T18:42:00Z"),
        )
    },
    "milestone": {
        "the second threshold": Variant(
            moments.milestone({"threshold": 5000, "points_earned": 5030})
        ),
    },
    "post_purchase_survey": {
        "not delivered, order gone": Variant(
            {"delivered_at": None, "delivered_on": None, "lines": [], "order_total": None}
        ),
        "csat survey without a comment box": Variant(survey=Survey(kind="csat", comment=False)),
        "ces survey, no points for answering": Variant(
            survey=Survey(kind="ces"), survey_points=None
        ),
        "cli survey": Variant(survey=Survey(kind="cli")),
        "no survey": Variant(survey=None),
    },
    "review_request": {
        "no order, no review points": Variant(
            {"order_id": None, "lines": [], "order_total": None, "review_points": None}
        ),
    },
    "at_risk": {
        "a rhythm of 1 day": Variant({"usual_gap_days": 1, "days_since_last_order": 14}),
    },
    "reward_available": {
        "12 rewards": Variant(moments.reward_available({"points_balance": 1250, "rewards": 12},
                                                       _LOYALTY)),
        "exactly one reward, nothing left after it": Variant(
            moments.reward_available({"points_balance": 100, "rewards": 1}, _LOYALTY)
        ),
    },
}  # fmt: skip
_ORDER_MOMENTS = {"post_purchase_survey", "review_request"}


def sample_context(
    template: str,
    locale: str = "en",
    *,
    first_name: str = "Maximiliana Josefina",
    offer: OfferKind | bool | None = True,
    recommendations: int = 3,
    top_tier: bool = False,
    expires_on: date = date(2027, 1, 22),
    variant: str | None = None,
    images: bool = True,
) -> dict[str, Any]:
    """`offer`: a kind, True for a percentage, False or None for none; `variant`: the name
    of one of the template's MOMENT_VARIANTS (None: the sample moment); `images`: whether
    products (recommended, or the moment's lines) have an image (a catalog may have none)."""
    money = _money(locale)
    shape = MOMENT_VARIANTS[template][variant] if variant is not None else Variant()
    products = [
        {"sku": f"p{n}", "name": f"Cafè d'Etiòpia {n}", "price": money(1290),
         "image_url": f"https://shop.example/p{n}.jpg" if images else "",
         "url": f"https://shop.example/p{n}"}
        for n in range(recommendations)
    ]  # fmt: skip
    kind: OfferKind | None = "percent" if offer is True else (offer or None)
    return {
        "customer": {"id": "C1", "first_name": first_name, "last_name": "Pérez",
                     "email": "c1@example.com", "phone": "+34600000000", "locale": locale},
        "shop": {"name": "Cafè Leal", "url": "https://shop.example", "currency": "EUR",
                 "postal_address": "Carrer de la Pau 1, 08001 Barcelona, Spain"},
        "loyalty": {"balance": 640, "tier": "gold" if top_tier else "silver",
                    "next_tier": None if top_tier else "gold",
                    "points_to_next_tier": 0 if top_tier else 860, "expiring_points": 120,
                    **program_context(_LOYALTY)},
        "offer": _offer(kind, money, expires_on),
        "recommendations": products,
        "unsubscribe_url": SAMPLE_UNSUBSCRIBE,
        "card_url": SAMPLE_CARD,
        "survey": _survey(template, locale, shape),
        "campaign": {"name": template},
        "moment": _moment(template, money, images) | shape.moment,
    }  # fmt: skip


def _survey(template: str, locale: str, shape: Variant) -> dict[str, Any] | None:
    """The survey template's (an NPS survey, the example shop's, unless the variant asks
    another or none); none for the others."""
    if template != "post_purchase_survey" or shape.survey is None:
        return None
    moment = SurveyMoment("C1", template, "survey:o1042")
    return survey_context(
        shape.survey, survey_token(_SIGNER, moment), SAMPLE_PUBLIC_URL, locale, "Cafè Leal",
        shape.survey_points,
    )  # fmt: skip


Money = Callable[[int], str]


def _money(locale: str) -> Money:
    language = locale.replace("-", "_")
    return lambda cents: format_money(cents, "EUR", language)


def _offer(kind: OfferKind | None, money: Money, expires_on: date) -> dict[str, Any] | None:
    if kind is None:
        return None
    return {
        "code": SAMPLE_CODE,
        "percent_off": 15 if kind == "percent" else None,
        "amount_off": money(1250) if kind == "amount" else None,
        "free_shipping": kind == "shipping",
        "expires_on": expires_on,
    }


def _moment(template: str, money: Money, images: bool) -> dict[str, Any]:
    moment = dict(MOMENTS[template][1])
    if template == "abandoned_cart" or template in _ORDER_MOMENTS:  # a cart, or an order as paid
        moment["lines"] = [
            {"sku": sku, "name": name, "price": money(cents), "quantity": quantity,
             "image_url": f"https://shop.example/{sku}.jpg" if images else "",
             "url": f"https://shop.example/{sku}"}
            for sku, name, cents, quantity in _CART
        ]  # fmt: skip
        total = money(sum(cents * quantity for _, _, cents, quantity in _CART))
        moment["cart_total" if template == "abandoned_cart" else "order_total"] = total
    return moment
