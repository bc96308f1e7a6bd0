"""Rendering a message: compiled once per template version, one Jinja render per recipient.

MJML is compiled by `templates.mjml` (mjml-python, ~0.1 ms a template) once per version of
the resolved source; the compiled HTML, its Jinja tags intact, becomes one Jinja template,
which the renderer keeps per (template, part, locale). A message whose data cannot fill its template
(a missing value, a sandbox refusal, an SMS over budget, a line break in a subject) is
skipped with the reason, never sent half-filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Template, UndefinedError
from jinja2.exceptions import SecurityError

from templates.loader import TemplateSet
from templates.mjml import compile_template
from templates.sandbox import make_environment
from templates.sms import SmsParts, SmsTooLongError, check_sms


class RenderSkipError(Exception):
    """This message cannot be rendered for this customer; the message says why."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    locale: str  # the template variant used


@dataclass(frozen=True)
class RenderedSms:
    text: str
    parts: SmsParts
    locale: str


class Renderer:
    """Renders campaign templates; holds the compiled templates, so keep one per run."""

    def __init__(self, templates: TemplateSet) -> None:
        self.templates = templates
        self.html = make_environment(html=True)
        self.plain = make_environment(html=False)
        self._compiled: dict[tuple[str, str, str], tuple[Template, str]] = {}

    def email(self, name: str, context: dict[str, Any]) -> RenderedEmail:
        locale = context["customer"]["locale"]
        subject, variant = self._render(name, "subject.txt", locale, context)
        subject = subject.strip()
        if "\r" in subject or "\n" in subject:
            raise RenderSkipError("the subject would contain a line break")
        text, _ = self._render(name, "text.txt", locale, context)
        html, _ = self._render(name, "email.mjml", locale, context)
        return RenderedEmail(subject, text, html, variant)

    def sms(self, name: str, context: dict[str, Any], max_segments: int) -> RenderedSms:
        text, variant = self._render(name, "sms.txt", context["customer"]["locale"], context)
        text = text.strip()
        try:
            parts = check_sms(text, max_segments)
        except SmsTooLongError as error:
            raise RenderSkipError(f"sms too long: {error}") from None
        return RenderedSms(text, parts, variant)

    def template(self, name: str, part: str, locale: str) -> tuple[Template, str]:
        """The compiled template of a part for a locale, and the variant found."""
        key = (name, part, locale)
        if key not in self._compiled:
            source = self.templates.source(name, part, locale)
            if part.endswith(".mjml"):
                template = compile_template(source, self.html)
            else:
                template = self.plain.from_string(source.text)
            # A plain dict, not Jinja's ChainMap over the environment's globals: each render
            # copies it, and iterating a ChainMap costs more than the rest of the setup.
            template.globals = dict(template.globals)
            self._compiled[key] = (template, source.locale)
        return self._compiled[key]

    def _render(
        self, name: str, part: str, locale: str, context: dict[str, Any]
    ) -> tuple[str, str]:
        template, variant = self.template(name, part, locale)
        try:  # filters speak the template's language (a pt-BR customer reading Spanish)
            return template.render(context, render_locale=variant), variant
        except UndefinedError as error:
            raise RenderSkipError(f"{name}/{variant}/{part}: {error.message}") from None
        except SecurityError as error:
            raise RenderSkipError(
                f"{name}/{variant}/{part}: refused by the sandbox: {error}"
            ) from None
