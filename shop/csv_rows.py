"""One CSV row of each import file, parsed and validated: text in, database values out.

Each parser returns a tuple in its table's column order and raises `RowError` with a
reason that names the column. E-mail addresses, phone numbers and birth dates are
personal data and never appear in a reason; ids and other values do.

Instants and dates come out as the text the database stores: UTC instants as
"YYYY-MM-DD HH:MM:SS.ffffff" (what SQLAlchemy writes to SQLite for a naive UTC datetime;
PostgreSQL's COPY reads it) and dates as "YYYY-MM-DD", shop-local; money as cents. Text, as
formatting a datetime costs more than parsing it, and text passes between processes ten times
cheaper than datetimes (the parsers run in a helper process, shop.import_parse).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import email_validator
import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from campaigns.config import LoyaltySettings, Settings

# The files, in the order they load (each may refer to those before it), and their columns.
COLUMNS = {
    "customers": (
        "customer_id", "email", "phone", "first_name", "last_name", "birth_date", "locale",
        "timezone", "email_opt_in", "sms_opt_in", "created_at",
    ),
    "interactions": ("id", "customer_id", "action", "at"),  # parsed in shop.csv_loyalty
    "products": ("sku", "name", "category", "price", "image_url", "url", "in_stock"),
    "orders": ("order_id", "customer_id", "ordered_at", "total"),
    "order_items": ("order_id", "sku", "quantity", "unit_price"),
    "cart_events": ("cart_id", "customer_id", "sku", "quantity", "at"),
}  # fmt: skip
# Columns a file may also have, read when its header names them: an absent column, or an
# empty value, is the default (no coupon, no discount, no points redeemed, placed, not
# delivered). The loyalty ones are parsed in shop.csv_loyalty.
COUPON_COLUMNS = ("coupon_code", "discount")
OPTIONAL = {"orders": (*COUPON_COLUMNS, "points_redeemed", "status", "delivered_at")}

BATCH = 10_000  # rows per batch: big enough to amortise a query, small enough to stay flat
Lines = list[tuple[int, Any]]  # (line number, values or reason)
ID_SIZE = 64  # shop.models.ID
CODE_SIZE = 32  # shop.models.Order.coupon_code, Coupon.code
MAX_CENTS = 10**15  # 10 trillion in currency units: far below BigInteger's limit
MAX_INTEGER = 2**31 - 1  # Integer columns (quantities, points) on PostgreSQL
# A million of one product is beyond any shop's order, and keeps a line's total (at most
# MAX_CENTS each) within what Babel's 28-digit decimals can format as money.
MAX_QUANTITY = 1_000_000
FIRST_YEAR, LAST_YEAR = 1900, 2199  # instants and birth dates outside are typos, and the
# edges of Python's calendar (0001-01-01 at +14:00) overflow when converted to UTC
# [0-9], not \d: no other scripts' digits; at most 15 of them, as int() refuses 4,300
_AMOUNT = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,2}))?")
_COUNT = re.compile(r"[0-9]{1,10}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The everyday address, ASCII dot-atom @ letter-digit-hyphen labels: what email-validator
# would accept and how it would write it is certain, so it is not asked (~24 µs a row).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_EMAIL = re.compile(
    rf"({_ATEXT}(?:\.{_ATEXT})*)@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63})"
)
# An instant in UTC written the usual way: what it stores as is visible in its text.
_PLAIN_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|\+00:00)")
_LAST_OF_HOUR = timedelta(hours=1, microseconds=-1)
CACHED = 20_000  # values per parser cache (an order total, a UTC hour): bounded memory
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
_FLAGS = {"true": True, "false": False}
# C0/C1 controls (CR and LF break headers and SMS, NUL breaks PostgreSQL), Unicode line and
# paragraph separators, and lone surrogates (they cannot be encoded to send)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_WEB_SCHEMES = frozenset({"http", "https"})
# Keys ZoneInfo loads that are not a place: the machine's own zone, and the placeholder
_NOT_ZONES = frozenset({"localtime", "Factory"})


class RowError(ValueError):
    """A row that cannot be imported; the message is the reason."""


def show(value: str) -> str:
    """A value quoted for a reason, cut short so one bad field cannot flood the report."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


def ident(column: str, value: str) -> str:
    if 0 < len(value) <= ID_SIZE and _CONTROL.search(value) is None:
        return value  # the usual case, without a second call
    if not value:
        raise RowError(f"{column} is empty")
    return text(column, value, ID_SIZE)


def text(column: str, value: str, size: int) -> str:
    if len(value) > size:
        raise RowError(f"{column} is longer than {size} characters")
    if "\x00" in value:  # PostgreSQL refuses NUL in text and would abort the import
        raise RowError(f"{column} contains a NUL character")
    if _CONTROL.search(value):
        raise RowError(f"{column} contains a control character or a line break")
    return value


def optional(column: str, value: str, size: int) -> str | None:
    return text(column, value, size) if value else None


def cents(column: str, value: str, maximum: int = MAX_CENTS) -> int:
    """An exact decimal amount as integer cents: no float ever touches money."""
    match = _AMOUNT.fullmatch(value)
    if match is None:
        raise RowError(f"{column} {show(value)} {_not_an_amount(value)}")
    whole, fraction = match.groups()
    amount = int(whole) * 100 + int((fraction or "").ljust(2, "0"))
    if amount > maximum:
        raise RowError(f"{column} {show(value)} is too large")
    return amount


def _not_an_amount(value: str) -> str:
    if value.startswith("-") and _AMOUNT.fullmatch(value[1:]):
        return "is negative"
    if re.fullmatch(r"[0-9]+\.[0-9]{3,}", value):
        return "has more than 2 decimals"
    if re.fullmatch(r"[0-9]{16,}(\.[0-9]*)?", value):
        return "is too large"
    return "is not a decimal amount"


def count(column: str, value: str, minimum: int) -> int:
    if _COUNT.fullmatch(value.removeprefix("-")) is None:
        raise RowError(f"{column} {show(value)} is not a whole number")
    number = int(value)
    if number < 0:
        raise RowError(f"{column} {show(value)} is negative")
    if number < minimum:
        raise RowError(f"{column} {show(value)} must be at least {minimum}")
    if number > MAX_QUANTITY:
        raise RowError(f"{column} {show(value)} is too large (at most {MAX_QUANTITY:,})")
    return number


def flag(column: str, value: str) -> bool:
    found = _FLAGS.get(value.lower())
    if found is None:
        raise RowError(f"{column} {show(value)} is not true or false")
    return found


def instant(column: str, value: str, zone: ZoneInfo | None = None) -> datetime:
    """An aware instant; naive text is read in `zone`, or refused when there is none."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{column} {show(value)} is not an ISO 8601 date-time") from None
    if at.tzinfo is None:
        if zone is None:
            raise RowError(f"{column} {show(value)} has no UTC offset (add one, or Z)")
        at = at.replace(tzinfo=zone)
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise RowError(f"{column} {show(value)} is not between {FIRST_YEAR} and {LAST_YEAR}")
    return at


def utc_text(at: datetime, value: str) -> str:
    """The aware instant `at`, read from `value`, as stored: UTC, naive, to the microsecond.
    Text that already says so in the usual layout is cut to it (a fifth of the cost)."""
    if _PLAIN_UTC.fullmatch(value):
        return f"{value[:10]} {value[11:19]}.000000"
    return at.astimezone(UTC).isoformat(" ", "microseconds")[:26]


class LocalDates:
    """Shop-local dates of stored UTC instants, known per UTC hour: an hour whose two ends
    have the same offset (an hour holds at most one change of a zone's offset, and an hour
    with one has different ends) and the same local date maps whole to that date; any other
    hour is converted instant by instant. Exact, and five times cheaper than a conversion."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.by_hour: dict[str, str] = {}  # "YYYY-MM-DD HH" (UTC) -> local date, or ""

    def of(self, stored: str) -> str:
        hour = stored[:13]
        day = self.by_hour.get(hour)
        if day is None:
            if len(self.by_hour) >= CACHED:
                self.by_hour.clear()
            day = self.by_hour[hour] = self._whole(hour)
        return day or self._local(datetime.fromisoformat(stored))

    def _whole(self, hour: str) -> str:
        start = datetime.fromisoformat(f"{hour}:00")
        first, last = self._aware(start), self._aware(start + _LAST_OF_HOUR)
        if first.utcoffset() != last.utcoffset() or first.date() != last.date():
            return ""
        return first.date().isoformat()

    def _local(self, naive_utc: datetime) -> str:
        return self._aware(naive_utc).date().isoformat()

    def _aware(self, naive_utc: datetime) -> datetime:
        return naive_utc.replace(tzinfo=UTC).astimezone(self.zone)


@lru_cache(maxsize=1024)
def is_zone(name: str) -> bool:
    """An IANA zone ZoneInfo loads, by its plain key: not a path, not `right/…`/`posix/…`,
    not the machine's `localtime` (what a key means must not depend on the host)."""
    if name not in _zone_keys():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@lru_cache(maxsize=1)
def _zone_keys() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES  # ~600 keys, read once


@lru_cache(maxsize=1024)
def is_locale(name: str) -> bool:
    """A locale the renderer can format in: `templates.sandbox` hands Babel the customer's
    locale with `_` for `-`, so that is what is asked here."""
    try:
        Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


def is_web_url(value: str) -> bool:
    """An absolute http(s) URL with a host, safe as written in `href`/`src` and in text.

    By hand on top of urlsplit, as the check is on the exact text that is stored and
    rendered: a WHATWG parser would repair a URL with a tab, a line break or a backslash
    into something else than what a mail client may read. No userinfo (`https://shop@evil`),
    which shows the shop's name to a reader while it links elsewhere."""
    if not value.isprintable() or any(c.isspace() or c == "\\" for c in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return False
    return parts.scheme.lower() in _WEB_SCHEMES and bool(host) and "@" not in parts.netloc


def max_order_total(loyalty: LoyaltySettings) -> int:
    """The largest total an order may have: its points go to an Integer column."""
    rate = loyalty.points_rate
    return min(MAX_CENTS, math.floor(MAX_INTEGER / rate)) if rate else MAX_CENTS


class RowParser:
    """The parsers of the five files, for one shop's settings."""

    def __init__(self, settings: Settings) -> None:
        self.tz = settings.shop.tz
        self.region = settings.shop.default_phone_region
        self.max_total = max_order_total(settings.loyalty)
        self.local_dates = LocalDates(self.tz)
        self.totals: dict[str, int] = {}  # a shop's totals repeat: each parsed once

    def customer(self, values: Sequence[str]) -> tuple[object, ...]:
        customer_id, email, phone, first, last, birth, locale, zone, mail_ok, sms_ok, created = (
            values
        )
        # checked in column order, so the reason names the first bad column
        head = (
            ident("customer_id", customer_id), _email(email), self._phone(phone),
            text("first_name", first, 100), text("last_name", last, 100),
        )  # fmt: skip
        born = _birth_date(birth)
        return (
            *head, born and born.isoformat(), born.month * 100 + born.day if born else None,
            _locale(locale), _zone(zone), flag("email_opt_in", mail_ok),
            flag("sms_opt_in", sms_ok),
            utc_text(instant("created_at", created, self.tz), created) if created else None,
        )  # fmt: skip

    def product(self, values: Sequence[str]) -> tuple[object, ...]:
        sku, name, category, price, image_url, url, in_stock = values
        row_sku = ident("sku", sku)
        if not name:
            raise RowError("name is empty")
        return (
            row_sku, text("name", name, 200), text("category", category, 100),
            cents("price", price), _web_url("image_url", image_url),
            _web_url("url", url), flag("in_stock", in_stock),
        )  # fmt: skip

    def order(self, values: Sequence[str]) -> tuple[object, ...]:
        """An order without the optional columns, whose defaults the database writes."""
        order_id, customer_id, ordered_at, total = values
        row = (ident("order_id", order_id), ident("customer_id", customer_id))
        at = utc_text(instant("ordered_at", ordered_at), ordered_at)
        return (*row, at, self.local_dates.of(at), self._total(total))

    def order_with_coupon(self, values: Sequence[str]) -> tuple[object, ...]:
        """An order with both optional columns, coupon_code and discount, last."""
        *required, code, discount = values
        return (*self.order(required), coupon_code_of(code), discount_of(discount))

    def orders(self, optional: Sequence[str]) -> Callable[[Sequence[str]], tuple[object, ...]]:
        """The order parser of a file whose header has these coupon columns (in
        COUPON_COLUMNS' order, after the required ones): the plain file keeps its fast parser.
        A file with any loyalty column is parsed by shop.csv_loyalty.order_parser."""
        if not optional:
            return self.order
        if tuple(optional) == COUPON_COLUMNS:
            return self.order_with_coupon
        where = [optional.index(c) if c in optional else None for c in COUPON_COLUMNS]
        width = len(COLUMNS["orders"])

        def filled(values: Sequence[str]) -> tuple[object, ...]:  # a column absent: empty
            extra = [values[width + i] if i is not None else "" for i in where]
            return self.order_with_coupon((*values[:width], *extra))

        return filled

    def item(self, values: Sequence[str]) -> tuple[object, ...]:
        order_id, sku, quantity, unit_price = values
        return (
            ident("order_id", order_id), ident("sku", sku), count("quantity", quantity, 1),
            cents("unit_price", unit_price),
        )  # fmt: skip

    def cart_event(self, values: Sequence[str]) -> tuple[object, ...]:
        cart_id, customer_id, sku, quantity, at = values
        return (
            ident("cart_id", cart_id), ident("customer_id", customer_id), ident("sku", sku),
            count("quantity", quantity, 0), utc_text(instant("at", at), at),
        )  # fmt: skip

    def _total(self, value: str) -> int:
        total = self.totals.get(value)
        if total is None:
            if len(self.totals) >= CACHED:
                self.totals.clear()
            total = self.totals[value] = cents("total", value, self.max_total)
        return total

    def _phone(self, value: str) -> str | None:
        if not value:
            return None
        try:
            number = phonenumbers.parse(value, self.region)
        except phonenumbers.NumberParseException:
            raise RowError("phone is not a phone number") from None
        if not phonenumbers.is_valid_number(number):
            raise RowError(f"phone is not a valid number (default region {self.region})")
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _email(value: str) -> str | None:
    if not value:
        return None
    plain = _plain_email(value)
    if plain is not None:
        return plain
    try:
        address = validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise RowError("email is not a valid address") from None
    return text("email", address, 254)


def _plain_email(value: str) -> str | None:
    """The normalized address when it is an everyday one, else None (ask email-validator):
    the domain lowercased, nothing else changed. Punycode and `--` labels, special-use
    names, role mailboxes the validator lowercases (Info@, POSTMASTER@) and anything near a
    length limit go the long way."""
    match = _PLAIN_EMAIL.fullmatch(value)
    if match is None or len(value) > 254 or len(match[1]) > 64:
        return None
    if match[1].lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        return None
    domain = match[2].lower()
    if "--" in domain or len(domain) > 253:
        return None
    special = email_validator.SPECIAL_USE_DOMAIN_NAMES  # the validator's own list, as it is
    if any(domain == name or domain.endswith("." + name) for name in special):
        return None
    return f"{match[1]}@{domain}"


def coupon_code_of(value: str) -> str | None:
    """Trimmed and upper-cased, as Leal writes its codes (campaigns.offers); any code is kept,
    the shop's own too."""
    code = value.strip().upper()
    return text("coupon_code", code, CODE_SIZE) if code else None


def discount_of(value: str) -> int:
    """Cents off the order, outside its total (what was paid): a free product's discount
    exceeds its total of 0, so the two are not compared."""
    return cents("discount", value) if value else 0


def _birth_date(value: str) -> date | None:
    if not value:
        return None
    try:
        if _DAY.fullmatch(value) is None:
            raise ValueError
        born = date.fromisoformat(value)
    except ValueError:
        raise RowError("birth_date is not a valid YYYY-MM-DD date") from None
    if not FIRST_YEAR <= born.year <= LAST_YEAR:  # the date itself is personal: not quoted
        raise RowError(f"birth_date is not between {FIRST_YEAR} and {LAST_YEAR}")
    return born


def _locale(value: str) -> str | None:
    if not value:
        return None
    if len(value) > 16 or _LOCALE.fullmatch(value) is None:
        raise RowError(f"locale {show(value)} is not a language code such as es or pt-BR")
    if not is_locale(value):
        raise RowError(f"locale {show(value)} is not a locale Leal can format in (CLDR)")
    return value


def _zone(value: str) -> str | None:
    if value and not is_zone(value):
        raise RowError(f"timezone {show(value)} is not an IANA time zone such as Europe/Madrid")
    return value or None


def _web_url(column: str, value: str) -> str | None:
    url = optional(column, value, 500)
    if url is not None and not is_web_url(url):
        raise RowError(f"{column} {show(url)} is not an absolute http(s) URL")
    return url
