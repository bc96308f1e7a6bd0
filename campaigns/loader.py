"""Load `settings.toml` (plus `LEAL_*` environment overrides) and report every problem.

Problems name `file:line`, or the environment variable that caused them, and all of them
are reported at once: a marketer fixes a file in one pass, not one error per run.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import templates as shipped_templates
from campaigns.config import Campaign, Settings
from campaigns.toml_lines import TomlLines
from triggers import TRIGGERS
from triggers.base import Params
from triggers.points_expiring import PointsExpiringParams

DEFAULT_FILE = Path("settings.toml")

# Secrets come only from these variables, never from the file or a LEAL_<SECTION>__<KEY>.
SECRET_KEYS: dict[tuple[str, ...], str] = {
    ("smtp", "password"): "LEAL_SMTP_PASSWORD",
    ("twilio", "auth_token"): "LEAL_TWILIO_AUTH_TOKEN",
    ("web", "secret_key"): "LEAL_SECRET_KEY",
    ("web", "events_token"): "LEAL_EVENTS_TOKEN",
    ("web", "admin_token"): "LEAL_ADMIN_TOKEN",
}


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Config:
    settings: Settings
    path: Path | None
    lines: TomlLines = field(default_factory=lambda: TomlLines(""))

    def problem(self, location: tuple[object, ...], message: str) -> Problem:
        """A problem at the key `location`, naming the env variable if one set it."""
        variable = _env_variable(location)
        if variable:
            return Problem(f"environment {variable}", None, message)
        return Problem(str(self.path or "<defaults>"), self.lines.line_of(location), message)

    @property
    def templates_dir(self) -> Path:
        configured = self.settings.templates.dir
        if configured is None:
            return Path(shipped_templates.__file__).parent
        return self.beside(configured)

    def beside(self, path: Path) -> Path:
        """A path from the settings: a relative one is read from the settings file's folder."""
        if path.is_absolute() or self.path is None:
            return path
        return self.path.parent / path

    def trigger_params(self, name: str) -> Params:
        campaign = self.settings.campaigns[name]
        return TRIGGERS[campaign.trigger].params.model_validate(campaign.params)


def settings_path(explicit: Path | None = None) -> Path | None:
    """--settings, else $LEAL_SETTINGS, else ./settings.toml when present."""
    if explicit is not None:
        return explicit
    if os.environ.get("LEAL_SETTINGS"):
        return Path(os.environ["LEAL_SETTINGS"])
    return DEFAULT_FILE if DEFAULT_FILE.exists() else None


def load_config(path: Path | None = None) -> Config:
    """The validated configuration; raises ConfigError listing every problem."""
    path = settings_path(path)
    text = _read(path)
    lines = TomlLines(text)
    data = _parse(text, path)
    unknown = _unknown_sections(os.environ)
    try:
        settings = Settings(**data)
    except ValidationError as error:
        config = Config(Settings.model_construct(), path, lines)
        problems = [_from_pydantic(config, err, ()) for err in error.errors()]
        raise ConfigError(unknown + problems) from None
    if unknown:
        raise ConfigError(unknown)
    config = Config(settings, path, lines)
    problems = [p for name in settings.campaigns for p in _campaign_problems(config, name)]
    if problems:
        raise ConfigError(problems)
    return config


def _read(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([Problem(str(path), None, f"cannot read: {error.strerror}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(str(path), None, "not UTF-8 text")]) from None


def _parse(text: str, path: Path | None) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        line = int(found.group(1)) if found else None
        raise ConfigError([Problem(str(path), line, f"invalid TOML: {message}")]) from None


def _from_pydantic(config: Config, error: Any, prefix: tuple[object, ...]) -> Problem:
    location = prefix + tuple(error["loc"])
    key = ".".join(str(part) for part in location)
    message = error["msg"]
    secret = SECRET_KEYS.get(tuple(str(part) for part in location))
    if error["type"] == "extra_forbidden" and secret:
        message = f"secrets never go in the settings: set the environment variable {secret}"
    elif error["type"] == "extra_forbidden":
        message = "unknown key (not a setting Leal knows; check the spelling)"
    return config.problem(location, f"{key}: {message}")


def _campaign_problems(config: Config, name: str) -> list[Problem]:
    campaign: Campaign = config.settings.campaigns[name]
    where = ("campaigns", name)
    trigger = TRIGGERS.get(campaign.trigger)
    if trigger is None:
        known = ", ".join(sorted(TRIGGERS))
        message = f"campaigns.{name}.trigger: unknown trigger {campaign.trigger!r} (known: {known})"
        return [config.problem((*where, "trigger"), message)]
    problems = []
    try:
        params = trigger.params.model_validate(campaign.params)
    except ValidationError as error:
        problems += [_from_pydantic(config, e, (*where, "params")) for e in error.errors()]
    else:
        problems += _loyalty_problems(config, name, campaign, params)
    if not (config.templates_dir / campaign.template).is_dir():
        message = (
            f"campaigns.{name}.template: no template folder {campaign.template!r} "
            f"in {config.templates_dir}"
        )
        problems.append(config.problem((*where, "template"), message))
    return problems


def _loyalty_problems(
    config: Config, name: str, campaign: Campaign, params: Params
) -> list[Problem]:
    """What a loyalty trigger's campaign asks that the program cannot do."""
    where = ("campaigns", name)
    loyalty = config.settings.loyalty
    if campaign.trigger == "reward_available" and campaign.offer is not None:
        message = (
            f"campaigns.{name}.offer: a reward_available campaign carries the program's "
            f"reward ([loyalty] reward_percent_off, reward_points; params.valid_days), "
            f"not an offer of its own"
        )
        return [config.problem((*where, "offer"), message)]
    if (
        isinstance(params, PointsExpiringParams)
        and params.days_before >= loyalty.points_expire_days
    ):
        message = (
            f"campaigns.{name}.params.days_before: {params.days_before} days before expiry "
            f"is not less than [loyalty] points_expire_days ({loyalty.points_expire_days}): "
            f"the warning would be due the day the points are earned, or before"
        )
        return [config.problem((*where, "params", "days_before"), message)]
    return []


def _unknown_sections(environ: Mapping[str, str]) -> list[Problem]:
    """LEAL_<SECTION>__<KEY> variables whose section does not exist: pydantic-settings
    ignores them without a word, so a typo (LEAL_SMPT__HOST) would silently do nothing."""
    sections = set(Settings.model_fields)
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("LEAL_") or "__" not in upper:
            continue
        section = upper[len("LEAL_") :].split("__", 1)[0].lower()
        if section not in sections:
            known = ", ".join(sorted(sections))
            message = f"[{section}] is not a settings section (known: {known})"
            problems.append(Problem(f"environment {name}", None, message))
    return problems


def _env_variable(location: tuple[object, ...]) -> str | None:
    """The LEAL_* variable that set this key, if any (pydantic-settings naming)."""
    parts = [str(p).upper() for p in location if not isinstance(p, int)]
    for end in range(len(parts), 0, -1):
        name = "LEAL_" + "__".join(parts[:end])
        if any(key.upper() == name for key in os.environ):
            return name
    return None
