"""How the report's numbers read, shared by the terminal, the HTML page and the charts:
in the report's locale and currency (Babel), every missing value as an em dash."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import cached_property
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

DASH = "—"
_LAST_ZERO = re.compile(r"0(?!.*0)")  # where a locale's number pattern takes decimals
VERDICTS = {  # always-valid verdict -> (tone, what a marketer reads)
    "positive": ("positive", "Positive uplift"),
    "negative": ("negative", "Negative uplift"),
}


class Numbers:
    """The report's numbers in its locale and currency; None is always `DASH`."""

    def __init__(self, currency: str, locale: str) -> None:
        self.currency = currency
        self.locale = _locale(locale)

    @cached_property
    def _percent(self) -> str:
        return str(self.locale.percent_formats[None].pattern)

    def money(self, value: float | None, *, whole: bool = False, exact: bool = False) -> str:
        """An amount: "€12,345.67"; `whole` rounds to units for tiles; `exact` keeps the
        digits a price per message needs ("€0.001")."""
        if value is None:
            return DASH
        pattern = None
        if whole:  # the locale's own pattern, less its decimals: "#,##0.00 ¤" -> "#,##0 ¤"
            pattern = re.sub(r"\.0+", "", self.locale.currency_formats["standard"].pattern)
        return str(
            format_currency(
                value,
                self.currency,
                pattern,
                self.locale,
                currency_digits=not whole,
                decimal_quantization=not exact,
            )
        )

    def show(self, kind: str, value: float | None) -> str:
        """A KPI by kind: count, percent, money or ratio (two decimals)."""
        if kind == "ratio":
            return self.decimal(value, 2)
        show: dict[str, Callable[[float | None], str]] = {
            "count": self.count,
            "percent": self.percent,
            "money": self.money,
        }
        return show[kind](value)

    def count(self, value: float | None) -> str:
        return DASH if value is None else str(format_decimal(value, locale=self.locale))

    def decimal(self, value: float | None, digits: int = 1) -> str:
        pattern = "#,##0." + "0" * digits
        return DASH if value is None else str(format_decimal(value, pattern, locale=self.locale))

    def percent(self, value: float | None, digits: int = 1, *, signed: bool = False) -> str:
        if value is None:
            return DASH
        pattern = _LAST_ZERO.sub("0." + "0" * digits, self._percent) if digits else self._percent
        if signed:
            pattern = f"+{pattern};-{pattern}"
        return str(format_percent(value, pattern, locale=self.locale))

    def points(self, value: float | None) -> str:
        """A difference of two rates in percentage points: 0.0833 -> "+8.3 pp"."""
        if value is None:
            return DASH
        return f"{format_decimal(value * 100, '+#,##0.0;-#,##0.0', locale=self.locale)} pp"

    def interval(self, bounds: list[float] | None, *, money: bool = False) -> str:
        if not bounds:
            return DASH
        if money:
            return f"{self.money(bounds[0])} to {self.money(bounds[1])}"
        return f"{self.points(bounds[0])[:-3]} to {self.points(bounds[1])}"  # one "pp"

    def p_value(self, value: float | None) -> str:
        if value is None:
            return DASH
        return "< 0.001" if value < 0.001 else self.decimal(value, 3)

    def day(self, iso: str, style: str = "medium") -> str:
        return str(format_date(date.fromisoformat(iso), style, locale=self.locale))

    def moment(self, iso: str) -> str:
        return str(format_datetime(datetime.fromisoformat(iso), "medium", locale=self.locale))


def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")  # an unknown locale must not cost the marketer the report


def verdict(campaign: dict[str, Any]) -> tuple[str, str]:
    """(tone, label) of a campaign's badge: positive, negative, neutral or waiting."""
    if not campaign.get("enough_data"):
        return "waiting", "Not enough data yet"
    always_valid = campaign.get("always_valid") or {}
    found = always_valid.get("verdict")
    if found is None:
        return "neutral", "No verdict yet"
    return VERDICTS.get(found, ("neutral", str(found).replace("_", " ").capitalize()))


def not_enough_data(campaign: dict[str, Any], numbers: Numbers, *, short: bool = False) -> str:
    """What a young campaign can promise: the smallest uplift its groups could detect."""
    mde = campaign.get("minimum_detectable_effect")
    if mde is None:
        return "Not enough data yet"
    smallest = numbers.points(mde).lstrip("+")
    if short:
        return f"Not enough data yet (MDE ≥ {smallest})"
    return (
        f"Not enough data yet: at today's sizes, only an uplift of ≥ {smallest} could be detected."
    )


def label(key: str) -> str:
    """A config key as a marketer reads it: "about_to_sleep" -> "About to sleep"."""
    return str(key).replace("_", " ").capitalize()
