"""The configuration schema: `settings.toml` as typed, validated models.

Every table forbids unknown keys so a typo is an error with a line number, not a
silently ignored setting, and every value that can never work (a URL without a scheme,
a database driver that is not installed, a locale Babel does not know) is refused here.
The docstring under each field is its documentation: docs/settings.md is generated from
this file (`python -m campaigns.settings_doc`), and a test keeps the two equal.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import is_currency
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Channel = Literal["email", "sms"]
_ACTION = re.compile(r"[a-z0-9_]{1,32}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Madrid)"
        ) from None
    return name


def _check_address(value: str) -> str:
    """A bare address: it goes on SMTP command lines and into headers as it is."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"not a plain email address {value!r}: {error}") from None
    return value


def _check_http_url(value: str) -> str:
    """An absolute http(s) URL with a host: links in emails and Twilio's callbacks need one."""
    parsed = urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"not an absolute http(s) URL {value!r} (e.g. https://shop.example.com)")
    return value


def _check_locale(value: str) -> str:
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown locale {value!r} (use a code such as en, es, ca_ES)") from None
    return value


# Drivers Leal is installed with; another one (psycopg2, asyncpg, mysql) fails at connect.
_DRIVERS = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}


def _check_database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(f"not a database URL: {value!r}") from None
    if (url.get_backend_name(), url.get_driver_name()) not in _DRIVERS:
        raise ValueError(
            f"unsupported database driver {url.drivername!r}: use sqlite:///path/to/leal.db "
            "or postgresql+psycopg://user@host/dbname"
        )
    return value


Address = Annotated[str, AfterValidator(_check_address)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]


class ShopSettings(Strict):
    """The shop: its name, zone, language and the links its emails carry."""

    name: str = "Leal Demo Shop"
    """The shop's name: the sender's name unless [email] from_name is set, and in templates."""
    timezone: str = "Europe/Madrid"
    """IANA time zone: shop-local dates (birthdays, order dates) and the daily run's clock."""
    default_locale: str = "en"
    """Language of customers without a locale, and of the templates' fallback."""
    currency: str = "EUR"
    """ISO 4217 code used to format prices and amounts off."""
    url: HttpUrl = "https://shop.example"
    """The shop's website: links in emails (cart, products without their own URL)."""
    postal_address: str = ""
    """The shop's postal address, in every email's footer (required in commercial email)."""
    default_phone_region: str = "ES"
    """Region (ISO 3166 alpha-2) of phone numbers written without +country code."""

    _tz = field_validator("timezone")(_check_timezone)
    _locale = field_validator("default_locale")(_check_locale)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        if not is_currency(code):
            raise ValueError(f"unknown currency {code!r} (use an ISO 4217 code such as EUR)")
        return code

    @field_validator("default_phone_region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {region!r} (use a code such as ES or GB)")
        return region

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DatabaseSettings(Strict):
    """Where the shop's data and the outbox ledger live."""

    url: Annotated[str, AfterValidator(_check_database_url)] = "sqlite:///var/leal.db"
    """SQLAlchemy URL: `sqlite:///path` (relative to the working directory) or
    `postgresql+psycopg://user@host/dbname`."""


class LoyaltySettings(Strict):
    """The loyalty program: points per order, their expiry, rewards and tiers."""

    points_per_currency_unit: Decimal = Field(Decimal(1), ge=0)
    """Points an order earns per unit of currency: floor(total x rate), exactly."""
    points_expire_days: int = Field(365, ge=1)
    """Days after which earned points expire (the oldest are spent first)."""
    reward_points: int = Field(100, ge=1)
    """Points a reward costs."""
    reward_percent_off: int = Field(10, ge=1, le=100)
    """The reward: this percentage off an order."""
    tiers: dict[str, int] = Field(
        default_factory=lambda: {"bronze": 0, "silver": 500, "gold": 1500}
    )
    """Tier name = points EARNED in the rolling window needed for it; one tier starts at 0."""
    actions: dict[str, Annotated[int, Field(ge=1, le=1_000_000)]] = Field(default_factory=dict)
    """Points for what a customer does besides ordering, by action name, e.g.
    `{ review = 50, referral = 200, survey_answered = 20 }` (interactions.csv,
    /events/interaction; `survey_answered` is booked by Leal when a survey is answered).
    They count toward the balance and expire like an order's points."""
    actions_count_toward_tiers: bool = False
    """Whether points for actions also count toward tiers (and milestones); false: only
    points earned by orders do."""

    @field_validator("tiers")
    @classmethod
    def _tiers_start_at_zero(cls, tiers: dict[str, int]) -> dict[str, int]:
        if not tiers:
            raise ValueError("at least one tier is needed")
        if any(threshold < 0 for threshold in tiers.values()):
            raise ValueError("tier thresholds cannot be negative")
        if 0 not in tiers.values():
            raise ValueError("one tier must start at 0 points, so every customer has a tier")
        if len(set(tiers.values())) != len(tiers):
            raise ValueError("two tiers have the same threshold")
        return dict(sorted(tiers.items(), key=lambda item: item[1]))

    @field_validator("actions")
    @classmethod
    def _action_names(cls, actions: dict[str, int]) -> dict[str, int]:
        for name in actions:
            if not _ACTION.fullmatch(name):
                raise ValueError(f"action {name!r}: use 1-32 lower-case letters, digits or _")
        return actions

    @property
    def tier_kinds(self) -> tuple[str, ...]:
        """The ledger kinds summed for tiers and milestones (points EARNED): orders' earn
        entries, the reversals of cancelled ones, and bonus points if the program says so."""
        earned = ("earn", "reverse")
        return (*earned, "bonus") if self.actions_count_toward_tiers else earned

    @property
    def points_rate(self) -> Fraction:
        """Points per cent, exactly: points = floor(total_cents * rate)."""
        return Fraction(self.points_per_currency_unit) / 100

    def next_tier(self, points: int) -> tuple[int, str] | None:
        """The lowest tier above `points` and its threshold; None at the top."""
        above = [(threshold, name) for name, threshold in self.tiers.items() if threshold > points]
        return min(above) if above else None

    def tier_for(self, points: int) -> str:
        """The highest tier whose threshold is at most `points`."""
        best = next(iter(self.tiers))
        for name, threshold in self.tiers.items():
            if points >= threshold:
                best = name
        return best


class ScheduleSettings(Strict):
    """When the daily run happens."""

    daily_at: time = time(9, 0)
    """Local time of the daily run in the shop's zone; `--date D` runs at D at this time."""


class PolicySettings(Strict):
    """Limits across campaigns."""

    max_messages_per_day: int = Field(2, ge=1)
    """Messages per customer per day, all campaigns together; higher priority wins."""


class TemplateSettings(Strict):
    """Where the templates are."""

    dir: Path | None = None
    """The shop's own template folder (relative: to the settings file); unset: Leal's."""


class EmailSettings(Strict):
    """The sender and headers of every email."""

    from_address: Address = "hello@shop.example"
    """The From address (and MAIL FROM unless [smtp] envelope_from is set)."""
    from_name: str | None = None
    """The From name; unset: [shop] name."""
    reply_to: Address | None = None
    """A Reply-To address; unset: none."""
    unsubscribe_mailto: Address | None = None
    """An address for mailto: List-Unsubscribe (RFC 2369), beside the one-click https link."""


class DeliverySettings(Strict):
    """Where messages go: `file` (the default) writes them to `folder`; `smtp` sends email
    through [smtp], `twilio` sends SMS through [twilio]."""

    email: Literal["file", "smtp"] = "file"
    """`file`: emails are written to `folder`; `smtp`: sent through [smtp]."""
    sms: Literal["file", "twilio"] = "file"
    """`file`: SMS are written to `folder`; `twilio`: sent through [twilio]."""
    folder: Path = Path("var/outbox")
    """Where the file channel writes messages (relative: to the settings file)."""
    batch: int = Field(500, ge=1, le=10_000)
    """Outbox rows per delivery task."""
    pause_after_failures: int = Field(25, ge=1)
    """Consecutive provider failures (per worker) after which a campaign pauses itself."""
    channel_pause_after_failures: int = Field(3, ge=1)
    """Outage outcomes in a row (the SMTP relay or Twilio unreachable, or refusing the
    shop's credentials) after which a worker pauses the whole channel; it is probed with
    backoff and resumes by itself."""
    claim_timeout_minutes: int = Field(10, ge=1)
    """A row `sending` for longer is taken to belong to a dead worker and is recovered."""


class SmtpSettings(Strict):
    """The SMTP relay; its password comes only from LEAL_SMTP_PASSWORD."""

    host: str = "localhost"
    """The relay's host name."""
    port: int = Field(587, ge=1, le=65535)
    """The relay's port (587 submission with starttls, 465 with ssl)."""
    security: Literal["starttls", "ssl", "none"] = "starttls"
    """`starttls` or `ssl` (certificate verified); `none` only to a relay on this machine."""
    username: str | None = None
    """Login name; the password comes from LEAL_SMTP_PASSWORD. Unset: no login."""
    envelope_from: Address | None = None
    """MAIL FROM, where bounces go; unset: [email] from_address."""
    ca_file: Path | None = None
    """A private relay's CA certificate (PEM; relative: to the settings file); unset: the
    system's."""


class Window(Strict):
    """Local times in the customer's zone between which a channel may send: [start, end)."""

    start: time
    """First local minute a message may go out."""
    end: time
    """Local time from which no message goes out (exclusive)."""

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError("start must be before end (windows do not cross midnight)")
        return self


class SendingHoursSettings(Strict):
    """When each channel may reach a customer, in the customer's own time zone; a message
    due outside is deferred to the next allowed minute."""

    sms: Window | None = Window(start=time(9, 0), end=time(21, 0))
    """SMS window, e.g. `{ start = 08:30:00, end = 20:00:00 }`; `false`: any time."""
    email: Window | None = None
    """Email window; unset or `false`: any time."""

    @field_validator("sms", "email", mode="before")
    @classmethod
    def _false_is_any_time(cls, value: object) -> object:
        # TOML has no null: without this, the SMS window could never be lifted.
        return None if value is False else value


class WorkersSettings(Strict):
    """Celery workers (`leal worker`)."""

    broker_url: str | None = None
    """Celery broker, e.g. `redis://host:6379/0`; unset: tasks run in the calling process."""


class TwilioSettings(Strict):
    """The Twilio account; its auth token comes only from LEAL_TWILIO_AUTH_TOKEN."""

    account_sid: str = ""
    """The account SID (AC…)."""
    from_number: str | None = None
    """Sender number in E.164 (+34…); or set messaging_service_sid."""
    messaging_service_sid: str | None = None
    """A Messaging Service (MG…) that picks the sender; wins over from_number."""
    status_callback: HttpUrl | None = None
    """Where Twilio reports each SMS's fate: [web] public_url + `/twilio/status`."""
    rate_per_second: float = Field(1.0, gt=0, le=1000)
    """SMS per second per sender, shared through Redis by workers on one broker."""


class WebSettings(Strict):
    """Where `leal serve` is reachable from customers' devices (unsubscribe links)."""

    public_url: HttpUrl = "http://localhost:8000"
    """Base URL of `leal serve` as customers and Twilio reach it; https for real delivery."""


class Offer(Strict):
    """A coupon issued once per campaign moment, e.g. `{ percent_off = 15, valid_days = 30 }`."""

    percent_off: int | None = Field(None, ge=1, le=100)
    """Percentage off; or amount_off_cents, not both."""
    amount_off_cents: int | None = Field(None, ge=1)
    """Amount off, in cents of [shop] currency."""
    free_shipping: bool = False
    """Whether the coupon also ships for free."""
    valid_days: int = Field(14, ge=1, le=365)
    """Days the coupon is valid from the moment it is issued."""

    @model_validator(mode="after")
    def _one_kind_of_discount(self) -> Offer:
        if self.percent_off is not None and self.amount_off_cents is not None:
            raise ValueError("give percent_off or amount_off_cents, not both")
        return self


SurveyKind = Literal["nps", "csat", "ces", "cli"]


class Survey(Strict):
    """A survey the campaign's messages ask, e.g. `{ kind = "nps", comment = true }`
    (docs/surveys.md). The email shows the scale as links; the answer is given on the
    page they open in `leal serve`."""

    kind: SurveyKind
    """`nps` (0-10, would you recommend us?), `csat` (1-5, how satisfied?), `ces` (1-7, how
    easy was it?) or `cli` (the Customer Loyalty Index: three 0-10 questions)."""
    question: dict[str, str] = Field(default_factory=dict)
    """The question per locale, e.g. `{ en = "…", es = "…" }`; a locale without one gets
    Leal's wording for the kind."""
    comment: bool = True
    """Whether the answer page offers a comment box."""

    @field_validator("question")
    @classmethod
    def _question_locales(cls, question: dict[str, str]) -> dict[str, str]:
        for locale, text in question.items():
            _check_locale(locale)
            if not text.strip() or len(text) > 300:
                raise ValueError(f"question[{locale}]: 1 to 300 characters")
        return question


class Campaign(Strict):
    """One campaign: `[campaigns.NAME]`."""

    trigger: str
    """What finds its moments (docs/triggers.md): birthday, abandoned_cart, tier_change,
    win_back, points_expiring, milestone, welcome, reward_available, post_purchase_survey,
    at_risk or review_request."""
    enabled: bool = True
    """false: planned for nobody, kept in the file."""
    channels: list[Channel] = Field(min_length=1)
    """`["email"]`, `["sms"]` or both."""
    template: str = Field(min_length=1)
    """A folder under [templates] dir."""
    priority: int = 0
    """Higher wins the daily contact budget ([policy] max_messages_per_day)."""
    description: str = ""
    """For people; shown in reports."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The trigger's own parameters (below)."""
    offer: Offer | None = None
    """A coupon (see [campaigns.NAME.offer]); unset: none."""
    recommendations: int = Field(4, ge=0, le=12)
    """Products recommended in the email; 0: none."""
    recommend_bought: bool = False
    """Whether a recommendation may be something the customer already bought."""
    sms_max_segments: int = Field(2, ge=1, le=10)
    """The longest SMS allowed, in segments; a longer one is skipped (and `leal check` says)."""
    holdout_percent: Decimal = Field(Decimal(10), ge=0, le=50, decimal_places=2)
    """Share of the campaign's moments held out (never sent) to measure what it causes; the
    same customers stay held out across runs ([measurement] holdout_salt). 0: no holdout."""
    attribution_days: int = Field(7, ge=1, le=90)
    """Days after the run in which a customer's orders count as the moment's conversion."""
    survey: Survey | None = None
    """A survey its messages ask (see [campaigns.NAME.survey]); unset: none."""

    @field_validator("channels")
    @classmethod
    def _no_repeated_channel(cls, channels: list[Channel]) -> list[Channel]:
        if len(set(channels)) != len(channels):
            raise ValueError("a channel is listed twice")
        return channels


class MeasurementSettings(Strict):
    """How `leal report` measures what campaigns caused (docs/measurement.md)."""

    holdout_salt: str = Field("leal", min_length=1)
    """Mixed into the holdout hash; a new salt draws new holdout groups for every campaign."""
    global_holdout_percent: Decimal = Field(Decimal(0), ge=0, le=50, decimal_places=2)
    """Share of customers who get no marketing at all (every moment held out), to measure
    the whole program; 0: none."""
    gross_margin: Decimal = Field(Decimal("0.4"), ge=0, le=1)
    """The shop's gross margin on revenue (0.4 = 40 %): incremental revenue becomes margin."""
    cost_per_email: Decimal = Field(Decimal("0.001"), ge=0)
    """What one sent email costs, in [shop] currency."""
    cost_per_sms: Decimal = Field(Decimal("0.06"), ge=0)
    """What one sent SMS costs, in [shop] currency."""


class SurveySettings(Strict):
    """How survey links tell people from link scanners (docs/surveys.md)."""

    scanner_seconds: int = Field(60, ge=0, le=3600)
    """A survey link opened less than this many seconds after the message was sent is
    flagged as a likely scanner (Safe Links, Mimecast…): it never records an answer anyway."""


class Settings(BaseSettings):
    """All of Leal's settings. Environment variables `LEAL_<SECTION>__<KEY>` override the file."""

    model_config = SettingsConfigDict(
        env_prefix="LEAL_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

    shop: ShopSettings = ShopSettings()
    database: DatabaseSettings = DatabaseSettings()
    loyalty: LoyaltySettings = LoyaltySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    policy: PolicySettings = PolicySettings()
    templates: TemplateSettings = TemplateSettings()
    email: EmailSettings = EmailSettings()
    web: WebSettings = WebSettings()
    delivery: DeliverySettings = DeliverySettings()
    smtp: SmtpSettings = SmtpSettings()
    twilio: TwilioSettings = TwilioSettings()
    workers: WorkersSettings = WorkersSettings()
    sending_hours: SendingHoursSettings = SendingHoursSettings()
    measurement: MeasurementSettings = MeasurementSettings()
    surveys: SurveySettings = SurveySettings()
    campaigns: dict[str, Campaign] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's content arrives as init kwargs; the environment wins over it.
        return (env_settings, init_settings)
