"""Tier names in the customer's language, for the tier names Leal ships with.

A shop's own tiers (settings `[loyalty.tiers]`) show as written, capitalised.
"""

from __future__ import annotations

NAMES: dict[str, dict[str, str]] = {
    "bronze": {"ca": "Bronze", "es": "Bronce", "it": "Bronzo", "ro": "Bronz", "en": "Bronze"},
    "silver": {"ca": "Plata", "es": "Plata", "it": "Argento", "ro": "Argint", "en": "Silver"},
    "gold": {"ca": "Or", "es": "Oro", "it": "Oro", "ro": "Aur", "en": "Gold"},
}


def tier_name(tier: str | None, locale: str) -> str | None:
    if tier is None:
        return None
    names = NAMES.get(tier, {})
    language = locale.replace("_", "-").split("-")[0]
    return names.get(language) or tier.capitalize()
