"""The Jinja environment every template renders in: sandboxed, strict, escaped, bounded.

Customer data only ever arrives as context values, never as template source, so a first
name of `{{ 7*7 }}` prints as typed. The sandbox refuses attribute tricks (`__class__`,
`mro`, `str.format`, `format_map`) at render; `templates.lint` refuses them earlier, in
`leal check`, with file:line. The work a render may do is bounded (`templates.limits`:
loops, calls, value and output sizes, time), at compile time as well as at render.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, format_decimal
from jinja2 import StrictUndefined, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from templates import limited, limits
from templates.limits import TemplateLimitError
from templates.sms import sms_parts
from templates.tiers import tier_name

__all__ = ["SecurityError", "TemplateLimitError", "format_date", "format_money", "make_environment"]

_UNSAFE_NAMES = frozenset({"mro", "format", "format_map"})
_DICT_ATTRIBUTES = frozenset(dir(dict))  # `x.items` stays the method, as in plain Jinja
_NOT_KEYS = _DICT_ATTRIBUTES | _UNSAFE_NAMES  # names that never take the dict fast path


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, also closed to `mro` and string formatting methods (Jinja's
    own sandbox hands out a wrapped `str.format` rather than refusing it), and bounded:
    the operators that grow values are intercepted (which also keeps Jinja from folding
    `9**(9**9)` at compile time), every call is a step, and its result is charged."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = limited.LimitedGenerator
    template_class = limited.LimitedTemplate
    guard_iter = staticmethod(limits.guard_iter)
    checked_join = staticmethod(limited.checked_join)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limits.check_binop(operator, left, right)
        return limits.charged(self.binop_table[operator](left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's signature)
        limits.current().step()
        args = limited.check_method(__obj, args, kwargs)
        return limits.charged(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        if (
            type(obj) is dict
            and attribute in obj
            and attribute not in _NOT_KEYS
            and attribute[0] != "_"
        ):
            return obj[attribute]  # a context value: skip Jinja's getattr-then-item fallback
        _refuse(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, str):
            _refuse(obj, argument)
        elif isinstance(argument, slice):  # a slice is a copy
            return limits.charged(super().getitem(obj, argument))
        return super().getitem(obj, argument)


def _refuse(obj: Any, attribute: str) -> None:
    if attribute in _UNSAFE_NAMES or attribute.startswith("_"):
        raise SecurityError(f"access to {attribute!r} of a {type(obj).__name__} is not allowed")


def make_environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    """An environment for one kind of part: `html=True` escapes every value."""
    environment = _Sandbox(
        undefined=StrictUndefined,
        autoescape=html,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=limited.finalize,
    )
    environment.concat = limited.checked_concat  # type: ignore[method-assign]
    environment.globals["range"] = limits.bounded_range
    environment.globals["lipsum"] = limits.bounded_lipsum
    environment.filters["money"] = _money
    environment.filters["date"] = _date
    environment.filters["tier"] = _tier
    environment.filters["plural"] = _plural
    environment.filters["sms_fit"] = _sms_fit
    environment.filters["attr"] = _refuse_attr  # `|attr` reaches attributes by computed name
    limited.limit_filters(environment.filters)
    return environment


def _refuse_attr(obj: Any, name: str) -> Any:
    raise SecurityError(f"the attr filter is not allowed (asked for {name!r})")


@lru_cache(maxsize=65536)  # Babel costs ~30 µs a call; a shop has few distinct prices
def format_money(cents: int, currency: str, locale: str) -> str:
    """Integer cents as a localized amount: (1234, "EUR", "ca") -> "12,34 €"."""
    amount = Decimal(cents).scaleb(-2)
    return str(format_currency(amount, currency, locale=locale.replace("-", "_")))


@pass_context
def _money(context: Context, cents: int) -> str:
    return format_money(cents, context["shop"]["currency"], _language(context))


@pass_context
def _date(context: Context, day: date, style: str = "long") -> str:
    """A date in the customer's language: 2026-12-24 -> "24 de desembre de 2026" (ca)."""
    return format_date(day, style, _language(context))


@lru_cache(maxsize=4096)
def format_date(day: date, style: str, locale: str) -> str:
    """A date in `locale`, in Babel's `style` (short, medium, long, full)."""
    return str(babel_format_date(day, format=style, locale=locale))


@pass_context
def _tier(context: Context, tier: str | None) -> str | None:
    """A tier in the customer's language: "gold" -> "Or" (ca), "Aur" (ro)."""
    return tier_name(tier, _language(context))


@pass_context
def _plural(context: Context, count: int, *, other: str, **forms: str) -> str:
    """A count with the noun form its language's plural rules ask for (CLDR categories
    one, two, few, many, other): `860 | plural(one="punct", few="puncte", other="de puncte")`
    -> "860 de puncte" in Romanian, where 19 takes "puncte"."""
    return format_count(count, _language(context), other=other, **forms)


@lru_cache(maxsize=65536)  # a batch repeats the same few counts in the same forms
def format_count(count: int, locale: str, *, other: str, **forms: str) -> str:
    category = _locale(locale).plural_form(count)
    return f"{format_decimal(count, locale=locale)} {forms.get(category, other)}"


@lru_cache(maxsize=64)
def _locale(locale: str) -> Locale:
    return Locale.parse(locale)


# The SMS budget `sms_fit` holds a text to when the render says none (`leal check` renders
# each part on its own, then the SMS against the campaign's budget): the campaigns' default.
DEFAULT_SMS_SEGMENTS = 2


@pass_context
def _sms_fit(context: Context, text: str, *shorter: str) -> str:
    """The first of `text` and the `shorter` versions that fits the SMS's budget of
    segments (the campaign's `sms_max_segments`, which templates.render passes as
    `render_sms_segments`), else the last: `{{ (body ~ " " ~ card_url) | sms_fit(body) }}`
    carries the card link only when it fits, whatever the name does to the encoding."""
    budget = context.get("render_sms_segments") or DEFAULT_SMS_SEGMENTS
    candidates = (text, *shorter)
    for candidate in candidates:
        if sms_parts(str(candidate).strip()).segments <= budget:
            return candidate
    return candidates[-1]


def _language(context: Context) -> str:
    """The locale of the template being rendered, else the customer's."""
    return str(context.get("render_locale") or context["customer"]["locale"]).replace("-", "_")
