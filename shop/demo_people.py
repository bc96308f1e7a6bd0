"""Demo customers: names from seeded Faker pools, unique emails and phones, birthdays.

Faker is called only to fill a pool of names per locale (its draws keep its name
frequencies); each customer then costs a few `random()` draws.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from faker import Faker

from shop.demo_catalog import slugify

NAME_POOL = 600
EMAIL_DOMAINS = ("example.com",) * 3 + ("example.org", "example.net")  # reserved (RFC 2606)
PHONE_SHARE, BIRTH_DATE_SHARE, EXPLICIT_TZ_SHARE = 0.85, 0.90, 0.12
EMAIL_OPT_IN, SMS_OPT_IN_WITH_PHONE = 0.80, 0.59  # 0.59 of the 85 % with a phone: ~50 %
# Phone numbers: customer index * _SPREAD (coprime with 10) + offset, modulo 10^digits, is a
# bijection, so two customers on the same prefix never share a number.
_SPREAD = 7_654_321


class Locale(NamedTuple):
    code: str
    faker: str  # Faker has no ca_ES; es_CA is its Catalan-names locale
    share: float
    timezone: str
    phones: tuple[tuple[str, int], ...]  # mobile prefixes (E.164) and digits after them
    two_surnames: bool


LOCALES = (
    Locale("ca", "es_CA", 0.30, "Europe/Madrid", (("+346", 8),) * 6 + (("+3471", 7),), True),
    Locale("es", "es_ES", 0.33, "Europe/Madrid", (("+346", 8),) * 6 + (("+3474", 7),), True),
    Locale("it", "it_IT", 0.12, "Europe/Rome", tuple((f"+393{d}", 8) for d in range(2, 10)), False),
    Locale(
        "ro", "ro_RO", 0.10, "Europe/Bucharest", tuple((f"+407{d}", 7) for d in range(2, 8)), False
    ),
    Locale(
        "en",
        "en_GB",
        0.15,
        "Europe/London",
        tuple((f"+447{d}", 8) for d in (1, 2, 3, 4, 5, 8)),
        False,
    ),
)


@dataclass(frozen=True)
class NamePool:
    locale: Locale
    first: list[tuple[str, str]]  # (name, its ASCII slug for emails)
    last: list[tuple[str, str]]

    @classmethod
    def build(cls, locale: Locale, seed: int) -> NamePool:
        fake = Faker(locale.faker)
        fake.seed_instance(seed)
        first = [fake.first_name() for _ in range(NAME_POOL)]
        last = [fake.last_name() for _ in range(NAME_POOL)]
        return cls(locale, _with_slugs(first), _with_slugs(last))


def _with_slugs(names: list[str]) -> list[tuple[str, str]]:
    return [(name, slugify(name, "") or "customer") for name in names]


class People:
    """Makes customer rows (all columns but created_at, which depends on their activity)."""

    def __init__(self, rng: random.Random, seed: int, run_date: date) -> None:
        self.rng = rng
        self.pools = [NamePool.build(locale, seed) for locale in LOCALES]
        self.slots = [pool for pool in self.pools for _ in range(round(pool.locale.share * 100))]
        self.phone_offset = rng.randrange(10**9)
        self.run_date = run_date

    def row(self, index: int, customer_id: str, birthday: bool, reachable: bool) -> list[str]:
        """`birthday`: born on the run date's month and day; `reachable`: opted in to email."""
        random = self.rng.random
        pool = self.slots[int(random() * len(self.slots))]
        locale = pool.locale
        first, first_slug = pool.first[int(random() * NAME_POOL)]
        last, last_slug = pool.last[int(random() * NAME_POOL)]
        if locale.two_surnames and random() < 0.8:
            last = f"{last} {pool.last[int(random() * NAME_POOL)][0]}"
        phone = self._phone(index, locale) if random() < PHONE_SHARE else ""
        return [
            customer_id,
            self._email(index + 1, first_slug, last_slug),
            phone,
            first,
            last,
            self._birth_date(birthday),
            locale.code,
            locale.timezone if random() < EXPLICIT_TZ_SHARE else "",
            "true" if reachable or random() < EMAIL_OPT_IN else "false",
            "true" if phone and random() < SMS_OPT_IN_WITH_PHONE else "false",
        ]

    def _email(self, number: int, first: str, last: str) -> str:
        """Unique: every pattern ends with the customer's number after a letter."""
        random = self.rng.random
        style = random()
        if style < 0.4:
            local = f"{first}.{last}{number}"
        elif style < 0.6:
            local = f"{first}{last}{number}"
        elif style < 0.8:
            local = f"{first[0]}{last}{number}"
        else:
            local = f"{first}_{last[0]}{number}"
        return f"{local}@{EMAIL_DOMAINS[int(random() * len(EMAIL_DOMAINS))]}"

    def _phone(self, index: int, locale: Locale) -> str:
        prefix, digits = locale.phones[int(self.rng.random() * len(locale.phones))]
        number = (index * _SPREAD + self.phone_offset) % 10**digits
        return f"{prefix}{number:0{digits}d}"

    def _birth_date(self, birthday: bool) -> str:
        random = self.rng.random
        if birthday:
            return self._born_on_run_day(18 + int(random() * 52)).isoformat()
        if random() >= BIRTH_DATE_SHARE:
            return ""
        age_days = int((18 + 52 * (random() + random()) / 2) * 365.25)  # adults, most 30-55
        # Uniform over days, so 29 February turns up about once in 1,461 birthdays.
        return date.fromordinal(self.run_date.toordinal() - age_days).isoformat()

    def _born_on_run_day(self, age: int) -> date:
        day = self.run_date
        year = day.year - age
        if (day.month, day.day) == (2, 29):
            year -= year % 4  # a leap year (no 1900 in range: ages are at most 70)
        return date(year, day.month, day.day)
