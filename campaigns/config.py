"""The configuration schema: `settings.toml` as typed, validated models.

Every table forbids unknown keys so a typo is an error with a line number, not a
silently ignored setting.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

Channel = Literal["email", "sms"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


Address = Annotated[str, AfterValidator(_check_address)]


class ShopSettings(Strict):
    name: str = "Leal Demo Shop"
    timezone: str = "Europe/Madrid"
    default_locale: str = "en"
    currency: str = "EUR"
    url: str = "https://shop.example"
    postal_address: str = ""
    default_phone_region: str = Field("ES", min_length=2, max_length=2)

    _tz = field_validator("timezone")(_check_timezone)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class DatabaseSettings(Strict):
    url: str = "sqlite:///var/leal.db"


class LoyaltySettings(Strict):
    points_per_currency_unit: Decimal = Field(Decimal(1), ge=0)
    points_expire_days: int = Field(365, ge=1)
    reward_points: int = Field(100, ge=1)
    reward_percent_off: int = Field(10, ge=1, le=100)
    tiers: dict[str, int] = Field(
        default_factory=lambda: {"bronze": 0, "silver": 500, "gold": 1500}
    )

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

    @property
    def points_rate(self) -> Fraction:
        """Points per cent, exactly: points = floor(total_cents * rate)."""
        return Fraction(self.points_per_currency_unit) / 100

    def tier_for(self, points: int) -> str:
        """The highest tier whose threshold is at most `points`."""
        best = next(iter(self.tiers))
        for name, threshold in self.tiers.items():
            if points >= threshold:
                best = name
        return best


class ScheduleSettings(Strict):
    daily_at: time = time(9, 0)


class PolicySettings(Strict):
    max_messages_per_day: int = Field(2, ge=1)


class TemplateSettings(Strict):
    dir: Path | None = None  # None: the templates shipped with Leal


class EmailSettings(Strict):
    from_address: Address = "hello@shop.example"
    from_name: str | None = None  # None: the shop's name
    reply_to: Address | None = None
    unsubscribe_mailto: Address | None = None  # e.g. "unsubscribe@shop.example" (RFC 8058)


class DeliverySettings(Strict):
    """Where messages go: `file` (the default) writes them to `folder`; `smtp` sends email
    through [smtp], `twilio` sends SMS through [twilio]."""

    email: Literal["file", "smtp"] = "file"
    sms: Literal["file", "twilio"] = "file"
    folder: Path = Path("var/outbox")
    batch: int = Field(500, ge=1, le=10_000)  # outbox rows per task
    pause_after_failures: int = Field(25, ge=1)  # consecutive provider failures, per worker
    claim_timeout_minutes: int = Field(10, ge=1)  # a row `sending` longer: its worker died


class SmtpSettings(Strict):
    """The SMTP relay; its password comes only from LEAL_SMTP_PASSWORD."""

    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    envelope_from: Address | None = None  # MAIL FROM for bounces; default [email] from_address
    ca_file: Path | None = None  # a private relay's CA; default: the system's


class Window(Strict):
    """Local times in the customer's zone between which a channel may send: [start, end)."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError("start must be before end (windows do not cross midnight)")
        return self


class SendingHoursSettings(Strict):
    """When each channel may reach a customer, in the customer's own time zone; a message
    due outside is deferred to the next allowed minute. None: any time."""

    sms: Window | None = Window(start=time(9, 0), end=time(21, 0))
    email: Window | None = None


class WorkersSettings(Strict):
    broker_url: str | None = None  # None: tasks run in-process; "redis://host:6379/0" for workers


class TwilioSettings(Strict):
    """The Twilio account; its auth token comes only from LEAL_TWILIO_AUTH_TOKEN."""

    account_sid: str = ""
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None  # e.g. https://leal.shop.example/twilio/status
    rate_per_second: float = Field(1.0, gt=0, le=1000)  # per sender, held by each worker


class WebSettings(Strict):
    """Where `leal serve` is reachable from customers' devices (unsubscribe links)."""

    public_url: str = "http://localhost:8000"


class Offer(Strict):
    percent_off: int | None = Field(None, ge=1, le=100)
    amount_off_cents: int | None = Field(None, ge=1)
    free_shipping: bool = False
    valid_days: int = Field(14, ge=1, le=365)

    @model_validator(mode="after")
    def _one_kind_of_discount(self) -> Offer:
        if self.percent_off is not None and self.amount_off_cents is not None:
            raise ValueError("give percent_off or amount_off_cents, not both")
        return self


class Campaign(Strict):
    trigger: str
    enabled: bool = True
    channels: list[Channel] = Field(min_length=1)
    template: str = Field(min_length=1)
    priority: int = 0
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    offer: Offer | None = None
    recommendations: int = Field(4, ge=0, le=12)  # products shown; 0: none
    recommend_bought: bool = False  # may a recommendation be something already bought?
    sms_max_segments: int = Field(2, ge=1, le=10)

    @field_validator("channels")
    @classmethod
    def _no_repeated_channel(cls, channels: list[Channel]) -> list[Channel]:
        if len(set(channels)) != len(channels):
            raise ValueError("a channel is listed twice")
        return channels


class Settings(BaseSettings):
    """All of Leal's settings. Environment variables `LEAL_<SECTION>__<KEY>` override the file."""

    model_config = SettingsConfigDict(
        env_prefix="LEAL_", env_nested_delimiter="__", extra="forbid", frozen=True
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
