"""`leal check`: everything the loader validates, plus the templates the campaigns use.

Each template file is linted (syntax, security, MJML pitfalls, external resources); each
campaign must find the parts its channels need; every part is rendered on sample data of
its trigger in every locale the template ships, on every moment of templates.samples'
MOMENT_VARIANTS (each branch a template takes on the moment: the days left, the welcome
step, the survey's kind...) crossed with every shape of the rest (an offer of each kind or
none, products or none), under the same limits as at send time, so an unknown attribute or
a template over a limit in a branch only some moments take is a file:line error, naming
the variant, before anyone is planned; and the SMS is held to the campaign's segment budget
with a long first name, on every variant too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

from campaigns.config import Campaign
from campaigns.loader import Config, Problem
from templates.lint import lint_template
from templates.loader import TemplateNotFoundError, TemplateSet
from templates.mjml import email_problems
from templates.render import Renderer, RenderSkipError
from templates.resources import external_resources
from templates.samples import MOMENT_VARIANTS, MOMENTS, SAMPLE, OfferKind, sample_context

TEMPLATE_SUFFIXES = {".txt", ".mjml", ".html", ".j2"}
NEEDED = {"email": ("subject.txt", "text.txt", "email.mjml"), "sms": ("sms.txt",)}
SAMPLE_NAME = "Maximiliana Josefa"  # 18 characters: long names must fit the budget too
WARNING = "warning: "  # problems that do not break a message, only say something to fix


class Shape(TypedDict, total=False):
    """sample_context's options besides the moment."""

    offer: OfferKind | None
    recommendations: int
    top_tier: bool
    images: bool


# Sample data in the shapes a template must handle besides the moment, by name: an offer
# of each kind or none, products or none, with images or without, the top tier or not.
SAMPLE_VARIANTS: dict[str, Shape] = {
    "a percentage off": {},
    "no offer, no recommendations, the top tier": {
        "offer": None, "recommendations": 0, "top_tier": True,
    },
    "an amount off, products without images": {"offer": "amount", "images": False},
    "free shipping": {"offer": "shipping"},
}  # fmt: skip


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
    """Every part the channels need, in every locale the template ships, on every sample
    moment and shape; the first error of each file, at its line, naming the variant."""
    sample = _sample_for(campaign)
    parts = [part for channel in campaign.channels for part in NEEDED[channel]]
    found: dict[Path, Problem] = {}
    for folder in sorted(p for p in (templates.root / campaign.template).iterdir() if p.is_dir()):
        locale, failed = folder.name, set()  # a part that failed once: its first error told
        for moment, shape, options in _variants(sample):
            context = sample_context(sample, locale, variant=moment, **options)
            for part in (part for part in parts if part not in failed):
                try:
                    renderer.render_part(campaign.template, part, locale, context)
                except Exception as error:  # a TypeError too is the template's
                    failed.add(part)
                    error = _as_skip(error)
                    where = _origin(templates, campaign.template, part, locale, error)
                    message = f"{_on(name, locale, moment, shape)}: {error}"
                    found.setdefault(where[0], Problem(str(where[0]), where[1], message))
    return list(found.values())


def _variants(sample: str) -> list[tuple[str | None, str, Shape]]:
    """Each sample moment (None: the sample's own) with each shape of the rest."""
    moments = [None, *MOMENT_VARIANTS.get(sample, {})]
    return [(m, name, shape) for m in moments for name, shape in SAMPLE_VARIANTS.items()]


def _on(name: str, locale: str, moment: str | None, shape: str) -> str:
    """What a problem was found on: `campaigns.x on sample data (es, moment 'today', …)`."""
    return f"campaigns.{name} on sample data ({locale}, moment '{moment or SAMPLE}', {shape})"


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
    """Each SMS within the campaign's segment budget on every variant, with a long name:
    the first variant over it, per file."""
    sample = _sample_for(campaign)
    problems = []
    for path in sorted((templates.root / campaign.template).glob("*/sms.txt")):
        locale = path.parent.name
        for moment, shape, options in _variants(sample):
            context = sample_context(
                sample, locale, variant=moment, first_name=SAMPLE_NAME, **options
            )
            try:
                renderer.sms(campaign.template, context, campaign.sms_max_segments)
            except RenderSkipError as error:
                message = f"{_on(name, locale, moment, shape)}: {error}"
                problems.append(Problem(str(path), None, message))
                break
    return problems


def _sample_for(campaign: Campaign) -> str:
    """The sample moment of the campaign's template, else of its trigger."""
    if campaign.template in MOMENTS:
        return campaign.template
    return next(key for key, (trigger, _) in MOMENTS.items() if trigger == campaign.trigger)
