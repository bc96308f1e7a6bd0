"""Sample template contexts, one per trigger, as templates.context builds them."""

from __future__ import annotations

from datetime import date
from typing import Any

MOMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "birthday": ("birthday", {"birthday_on": date(2026, 12, 24)}),
    "abandoned_cart": (
        "abandoned_cart",
        {
            "cart_id": "k1",
            "last_change_at": "2026-12-23T09:02:00Z",
            "item_count": 3,
            "lines": [
                {
                    "sku": "mug",
                    "name": "Tassa de ceràmica",
                    "price": "12,50 €",
                    "quantity": 2,
                    "image_url": "https://shop.example/mug.jpg",
                    "url": "https://shop.example/mug",
                },
                {
                    "sku": "tea",
                    "name": "Té verd",
                    "price": "4,50 €",
                    "quantity": 1,
                    "image_url": "https://shop.example/tea.jpg",
                    "url": "https://shop.example/tea",
                },
            ],
            "cart_total": "29,50 €",
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
    offer: bool = True,
    recommendations: int = 3,
    top_tier: bool = False,
) -> dict[str, Any]:
    _, moment = MOMENTS[template]
    products = [
        {"sku": f"p{n}", "name": f"Cafè d'Etiòpia {n}", "price": "12,50 €",
         "image_url": f"https://shop.example/p{n}.jpg", "url": f"https://shop.example/p{n}"}
        for n in range(recommendations)
    ]  # fmt: skip
    return {
        "customer": {"id": "C1", "first_name": first_name, "last_name": "Pérez",
                     "email": "c1@example.com", "phone": "+34600000000", "locale": locale},
        "shop": {"name": "Cafè Leal", "url": "https://shop.example", "currency": "EUR",
                 "postal_address": "Carrer de la Pau 1, 08001 Barcelona"},
        "loyalty": {"balance": 640, "tier": "gold" if top_tier else "silver",
                    "next_tier": None if top_tier else "gold",
                    "points_to_next_tier": 0 if top_tier else 860, "expiring_points": 120},
        "offer": {"code": "ABCDE-FGHJK", "percent_off": 15, "amount_off": None,
                  "free_shipping": False, "expires_on": date(2027, 1, 22)} if offer else None,
        "recommendations": products,
        "unsubscribe_url": "https://leal.shop.example/unsubscribe/ZW1haWw6QzE.c2ln",
        "campaign": {"name": template},
        "moment": dict(moment),
    }  # fmt: skip
