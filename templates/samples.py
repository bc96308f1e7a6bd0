"""Sample template contexts, one per trigger, as templates.context builds them: money
formatted in the sample's language (with the no-break space Babel puts before the euro
sign), an offer of each kind, a realistic coupon code. `leal check` fits each SMS to its
budget on them; the tests render every shipped part on them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from templates.sandbox import format_money

OfferKind = Literal["percent", "amount", "shipping"]
SAMPLE_CODE = "K7QX2-MZH4P"  # the shape campaigns.offers issues
SAMPLE_UNSUBSCRIBE = "https://leal.shop.example/unsubscribe/ZW1haWw6QzE.c2ln"
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
}


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
                    "points_to_next_tier": 0 if top_tier else 860, "expiring_points": 120},
        "offer": _offer(kind, money, expires_on),
        "recommendations": products,
        "unsubscribe_url": SAMPLE_UNSUBSCRIBE,
        "campaign": {"name": template},
        "moment": _moment(template, money),
    }  # fmt: skip


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
    return moment
