"""`leal check`: everything the loader validates, plus the templates' syntax."""

from __future__ import annotations

from pathlib import Path

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from campaigns.loader import Config, Problem

TEMPLATE_SUFFIXES = {".txt", ".mjml", ".html", ".j2"}


def check_config(config: Config) -> list[Problem]:
    """Problems in the templates the campaigns use (the loader already checked the rest)."""
    problems: list[Problem] = []
    seen: set[Path] = set()
    for campaign in config.settings.campaigns.values():
        folder = config.templates_dir / campaign.template
        if folder in seen:
            continue
        seen.add(folder)
        for path in sorted(folder.rglob("*")):
            if path.suffix in TEMPLATE_SUFFIXES:
                problems += _syntax_problems(path)
    return problems


def _syntax_problems(path: Path) -> list[Problem]:
    environment = ImmutableSandboxedEnvironment()
    try:
        environment.parse(path.read_text(encoding="utf-8"))
    except TemplateSyntaxError as error:
        return [Problem(str(path), error.lineno, f"template syntax: {error.message}")]
    except UnicodeDecodeError:
        return [Problem(str(path), None, "not UTF-8 text")]
    return []
