"""`leal check`: everything the loader validates, plus the templates the campaigns use.

Each template file is linted (syntax, security, MJML pitfalls, external resources); each
campaign must find the parts its channels need; every part is rendered on sample data of
its trigger in every locale the template ships, under the same limits as at send time, so
an unknown attribute or a template over a limit is a file:line error before anyone is
planned; and the SMS is held to the campaign's segment budget with a long first name.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from campaigns.config import Campaign
from campaigns.loader import Config, Problem
from templates.lint import lint_template
from templates.loader import TemplateNotFoundError, TemplateSet
from templates.mjml import email_problems
from templates.render import Renderer, RenderSkipError
from templates.resources import external_resources
from templates.samples import MOMENTS, sample_context

TEMPLATE_SUFFIXES = {".txt", ".mjml", ".html", ".j2"}
NEEDED = {"email": ("subject.txt", "text.txt", "email.mjml"), "sms": ("sms.txt",)}
SAMPLE_NAME = "Maximiliana Josefa"  # 18 characters: long names must fit the budget too
WARNING = "warning: "  # problems that do not break a message, only say something to fix
# Sample data in the shapes a template must handle: an offer or none, products or none.
SAMPLE_VARIANTS: list[dict[str, object]] = [
    {},
    {"offer": None, "recommendations": 0, "top_tier": True},
    {"offer": "amount"},
    {"offer": "shipping"},
]


def check_config(config: Config) -> list[Problem]:
    """Problems in the templates the campaigns use (the loader already checked the rest)."""
    templates = TemplateSet(config.templates_dir, config.settings.shop.default_locale)
    folders = {templates.root / c.template for c in config.settings.campaigns.values()}
    folders.add(templates.root / "_shared")
    own = {urlsplit(config.settings.shop.url).hostname or ""}
    problems = [
        problem
        for folder in sorted(folders)
        for path in sorted(folder.rglob("*"))
        if path.suffix in TEMPLATE_SUFFIXES
        for problem in _file_problems(path, own)
    ]
    if any(not problem.message.startswith(WARNING) for problem in problems):
        return problems  # rendering broken files would only repeat them
    renderer = Renderer(templates)
    for name, campaign in config.settings.campaigns.items():
        problems += _campaign_problems(config, name, campaign, templates, renderer)
    return problems


def _file_problems(path: Path, own_hosts: set[str]) -> list[Problem]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [Problem(str(path), None, "not UTF-8 text")]
    problems = lint_template(path, text)
    if path.name == "email.mjml" and not problems:
        problems += _compile_problems(path)
    return problems + [
        Problem(str(path), line, f"{WARNING}{url} is loaded from another site by every "
                "reader who opens the email (host it on the shop's own site)")
        for line, url in external_resources(text, own_hosts)
    ]  # fmt: skip


def _compile_problems(path: Path) -> list[Problem]:
    """Compile the email as a customer of that locale would get it (file:line, includes too)."""
    locale, template = path.parent.name, path.parent.parent
    return email_problems(TemplateSet(template.parent, locale), template.name, locale)


def _campaign_problems(
    config: Config, name: str, campaign: Campaign, templates: TemplateSet, renderer: Renderer
) -> list[Problem]:
    problems = []
    for channel in campaign.channels:
        for part in NEEDED[channel]:
            try:
                templates.find(campaign.template, part, templates.default_locale)
            except TemplateNotFoundError as error:
                where = ("campaigns", name, "template")
                problems.append(config.problem(where, f"campaigns.{name}.template: {error}"))
    if not problems:
        problems += _render_problems(name, campaign, templates, renderer)
    if "sms" in campaign.channels and not problems:
        problems += _sms_budget_problems(name, campaign, templates, renderer)
    return problems


def _render_problems(
    name: str, campaign: Campaign, templates: TemplateSet, renderer: Renderer
) -> list[Problem]:
    """Every part the channels need, in every locale the template ships, on sample data;
    the first error of each file, at its line."""
    sample = campaign.template if campaign.template in MOMENTS else _sample_for(campaign)
    parts = [part for channel in campaign.channels for part in NEEDED[channel]]
    found: dict[Path, Problem] = {}
    for folder in sorted(p for p in (templates.root / campaign.template).iterdir() if p.is_dir()):
        for part, variant in ((part, v) for part in parts for v in SAMPLE_VARIANTS):
            context = sample_context(sample, folder.name, **variant)  # type: ignore[arg-type]
            try:
                renderer.render_part(campaign.template, part, folder.name, context)
            except Exception as error:  # a TypeError too is the template's
                error = _as_skip(error)
                where = _origin(templates, campaign.template, part, folder.name, error)
                message = f"campaigns.{name} on sample data: {error}"
                found.setdefault(where[0], Problem(str(where[0]), where[1], message))
    return list(found.values())


def _as_skip(error: Exception) -> RenderSkipError:
    if isinstance(error, RenderSkipError):
        return error
    return RenderSkipError(f"{type(error).__name__}: {error}")


def _origin(
    templates: TemplateSet, template: str, part: str, locale: str, error: RenderSkipError
) -> tuple[Path, int | None]:
    """The file and line of a render error: for an email, the MJML line (maybe in an
    included piece) whose Jinja names what failed, since Jinja counts compiled-HTML lines."""
    path = templates.find(template, part, locale)
    if not part.endswith(".mjml"):
        return path, error.line
    source = templates.source(template, part, locale)
    word = _named(str(error))
    if word:
        for number, text in enumerate(source.text.split("\n"), 1):
            if word in text and ("{{" in text or "{%" in text):
                return source.origin(number)
    return path, None


def _named(message: str) -> str | None:
    """The attribute or name an UndefinedError message quotes last ('firstname')."""
    quoted = message.split("'")
    return quoted[-2] if len(quoted) >= 3 else None


def _sms_budget_problems(
    name: str, campaign: Campaign, templates: TemplateSet, renderer: Renderer
) -> list[Problem]:
    sample = campaign.template if campaign.template in MOMENTS else _sample_for(campaign)
    problems = []
    for path in sorted((templates.root / campaign.template).glob("*/sms.txt")):
        context = sample_context(sample, path.parent.name, first_name=SAMPLE_NAME)
        try:
            renderer.sms(campaign.template, context, campaign.sms_max_segments)
        except RenderSkipError as error:
            problems.append(Problem(str(path), None, f"campaigns.{name} on sample data: {error}"))
    return problems


def _sample_for(campaign: Campaign) -> str:
    """The sample moment of the campaign's trigger."""
    return next(key for key, (trigger, _) in MOMENTS.items() if trigger == campaign.trigger)
