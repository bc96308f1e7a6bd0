"""Sample template contexts, one per trigger, as templates.context builds them: money
formatted in the sample's language (with the no-break space Babel puts before the euro
sign), an offer of each kind, a realistic coupon code. `leal check` fits each SMS to its
budget on them; the tests render every shipped part on them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from campaigns.config import LoyaltySettings, Survey
from templates import moments
from templates.context import survey_context
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
# Other moments a template must handle, merged over the sample moment, for the tests (and
# `leal check`) to render too: the days left before points expire (a warning, then the
# last days), each step of the welcome series, an order not delivered or gone, a rhythm of
# one day, a balance of many rewards.
MOMENT_VARIANTS: dict[str, list[dict[str, Any]]] = {
    "points_expiring": [
        moments.points_expiring({"points": 1, "expires_on": day}, SAMPLE_ON, _LOYALTY)
        for day in ("2027-01-23", "2026-12-26", "2026-12-25", "2026-12-24")
    ],
    "welcome": [
        moments.welcome({"step": step, "joined_at": joined}, _TZ, [0, 2, 5])
        for step, joined in ((2, "2026-12-21T18:42:00Z"), (5, "2026-12-18T18:42:00Z"))
    ],
    "post_purchase_survey": [
        {"delivered_at": None, "delivered_on": None, "lines": [], "order_total": None}
    ],
    "review_request": [{"order_id": None, "lines": [], "order_total": None, "review_points": None}],
    "at_risk": [{"usual_gap_days": 1, "days_since_last_order": 14}],
    "reward_available": [{"points_balance": 1250, "rewards": 12}],
}
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
) -> dict[str, Any]:
    """`offer`: a kind, True for a percentage, False or None for none."""
    money = _money(locale)
    products = [
        {"sku": f"p{n}", "name": f"Cafè d'Etiòpia {n}", "price": money(1290),
         "image_url": f"https://shop.example/p{n}.jpg", "url": f"https://shop.example/p{n}"}
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
                    **_program()},
        "offer": _offer(kind, money, expires_on),
        "recommendations": products,
        "unsubscribe_url": SAMPLE_UNSUBSCRIBE,
        "card_url": SAMPLE_CARD,
        "survey": _survey(template, locale),
        "campaign": {"name": template},
        "moment": _moment(template, money),
    }  # fmt: skip


def _program() -> dict[str, Any]:
    """The loyalty program's rules as templates.context adds them to `loyalty`."""
    return {
        "reward_points": _LOYALTY.reward_points,
        "reward_percent_off": _LOYALTY.reward_percent_off,
        "points_per_currency_unit": int(_LOYALTY.points_per_currency_unit),
        "points_expire_days": _LOYALTY.points_expire_days,
        "tiers": [{"name": name, "points": points} for name, points in _LOYALTY.tiers.items()],
    }


def _survey(template: str, locale: str) -> dict[str, Any] | None:
    """An NPS survey for the survey template (the example shop's); none for the others."""
    if template != "post_purchase_survey":
        return None
    moment = SurveyMoment("C1", template, "survey:o1042")
    return survey_context(
        SAMPLE_SURVEY, survey_token(_SIGNER, moment), SAMPLE_PUBLIC_URL, locale, "Cafè Leal",
        _LOYALTY.actions.get("survey_answered"),
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


def _moment(template: str, money: Money) -> dict[str, Any]:
    moment = dict(MOMENTS[template][1])
    if template == "abandoned_cart":
        moment["lines"] = [
            {"sku": sku, "name": name, "price": money(cents), "quantity": quantity,
             "image_url": f"https://shop.example/{sku}.jpg", "url": f"https://shop.example/{sku}"}
            for sku, name, cents, quantity in _CART
        ]  # fmt: skip
        moment["cart_total"] = money(sum(cents * quantity for _, _, cents, quantity in _CART))
    if template in _ORDER_MOMENTS:  # the order's lines, priced as paid
        moment["lines"] = [
            {"sku": sku, "name": name, "price": money(cents), "quantity": quantity,
             "image_url": f"https://shop.example/{sku}.jpg", "url": f"https://shop.example/{sku}"}
            for sku, name, cents, quantity in _CART
        ]  # fmt: skip
        moment["order_total"] = money(sum(cents * quantity for _, _, cents, quantity in _CART))
    return moment
