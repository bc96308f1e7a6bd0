"""Tier names in the customer's language."""

from __future__ import annotations

import pytest

from templates.tiers import tier_name


@pytest.mark.parametrize(
    ("tier", "locale", "name"),
    [("gold", "ca", "Or"), ("gold", "ro", "Aur"), ("silver", "it", "Argento"),
     ("bronze", "es", "Bronce"), ("silver", "pt-BR", "Silver"), ("platinum", "ca", "Platinum"),
     ("gold", "es-MX", "Oro"), (None, "ca", None)],
)  # fmt: skip
def test_shipped_tiers_are_translated_and_a_shops_own_are_shown_as_written(
    tier: str | None, locale: str, name: str | None
) -> None:
    assert tier_name(tier, locale) == name
