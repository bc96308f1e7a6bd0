"""`leal check`: everything the loader validates, plus the templates the campaigns use.

Each template file is linted (syntax, security, MJML pitfalls); each campaign must find
the parts its channels need; and its SMS is rendered on sample data in every locale it
ships, with a 20-character first name, against the campaign's segment budget.
"""

from __future__ import annotations

from pathlib import Path

from campaigns.config import Campaign
from campaigns.loader import Config, Problem
from templates.lint import lint_template
from templates.loader import TemplateNotFoundError, TemplateSet
from templates.mjml import email_problems
from templates.render import Renderer, RenderSkipError
from templates.samples import MOMENTS, sample_context

TEMPLATE_SUFFIXES = {".txt", ".mjml", ".html", ".j2"}
NEEDED = {"email": ("subject.txt", "text.txt", "email.mjml"), "sms": ("sms.txt",)}
SAMPLE_NAME = "Maximiliana Josefa"  # 18 characters: long names must fit the budget too


def check_config(config: Config) -> list[Problem]:
    """Problems in the templates the campaigns use (the loader already checked the rest)."""
    templates = TemplateSet(config.templates_dir, config.settings.shop.default_locale)
    folders = {templates.root / c.template for c in config.settings.campaigns.values()}
    folders.add(templates.root / "_shared")
    problems = [
        problem
        for folder in sorted(folders)
        for path in sorted(folder.rglob("*"))
        if path.suffix in TEMPLATE_SUFFIXES
        for problem in _file_problems(path)
    ]
    if problems:
        return problems  # rendering broken files would only repeat them
    renderer = Renderer(templates)
    for name, campaign in config.settings.campaigns.items():
        problems += _campaign_problems(config, name, campaign, templates, renderer)
    return problems


def _file_problems(path: Path) -> list[Problem]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [Problem(str(path), None, "not UTF-8 text")]
    problems = lint_template(path, text)
    if path.name == "email.mjml" and not problems:
        problems += _compile_problems(path)
    return problems


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
    if "sms" in campaign.channels and not problems:
        problems += _sms_budget_problems(name, campaign, templates, renderer)
    return problems


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
