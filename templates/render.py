"""Rendering a message: compiled once per template version, one Jinja render per recipient.

MJML is compiled by `templates.mjml` (mjml-python, ~0.1 ms a template) once per version of
the resolved source; the compiled HTML, its Jinja tags intact, becomes one Jinja template,
which the renderer keeps per (template, part, locale). A message whose data cannot fill its template
(a missing value, a sandbox refusal, an SMS over budget, a line break in a subject) is
skipped with the reason, never sent half-filled.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateError, UndefinedError
from jinja2.exceptions import SecurityError, TemplateSyntaxError

from templates import limits
from templates.limited import LimitedTemplate
from templates.loader import TemplateNotFoundError, TemplateSet
from templates.mjml import MjmlError, compile_template
from templates.sandbox import TemplateLimitError, make_environment
from templates.sms import SmsParts, SmsTooLongError, check_sms

# Output caps per part: a subject is one line, an SMS a few segments; the limits module's
# cap (1 MB) for the HTML and text parts.
MAX_OUTPUT = {"subject.txt": 1_000, "sms.txt": 5_000}


class RenderSkipError(Exception):
    """This message cannot be rendered for this customer; the message says why.
    `line` is the template line when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


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
        self._compiled: dict[tuple[str, str, str], tuple[Template, str] | RenderSkipError] = {}

    def email(self, name: str, context: dict[str, Any]) -> RenderedEmail:
        locale, deadline = context["customer"]["locale"], _deadline()
        subject, variant = self._render(name, "subject.txt", locale, context, deadline)
        subject = subject.strip()
        if "\r" in subject or "\n" in subject:
            raise RenderSkipError("the subject would contain a line break")
        text, _ = self._render(name, "text.txt", locale, context, deadline)
        html, _ = self._render(name, "email.mjml", locale, context, deadline)
        return RenderedEmail(subject, text, html, variant)

    def sms(self, name: str, context: dict[str, Any], max_segments: int) -> RenderedSms:
        locale = context["customer"]["locale"]
        budget = {"render_sms_segments": max_segments}  # what the `sms_fit` filter fits to
        text, variant = self._render(name, "sms.txt", locale, context | budget, _deadline())
        text = text.strip()
        try:
            parts = check_sms(text, max_segments)
        except SmsTooLongError as error:
            raise RenderSkipError(f"sms too long: {error}") from None
        return RenderedSms(text, parts, variant)

    def template(self, name: str, part: str, locale: str) -> tuple[Template, str]:
        """The compiled template of a part for a locale, and the variant found; a template
        that does not compile is a RenderSkipError (kept: the batch does not retry it)."""
        key = (name, part, locale)
        if key not in self._compiled:
            try:
                self._compiled[key] = self._compile(name, part, locale)
            except RenderSkipError as error:
                self._compiled[key] = error
        found = self._compiled[key]
        if isinstance(found, RenderSkipError):
            raise found
        return found

    def _compile(self, name: str, part: str, locale: str) -> tuple[Template, str]:
        where = f"{name}/{part}"
        try:
            source = self.templates.source(name, part, locale)
            where = f"{name}/{source.locale}/{part}"
            if part.endswith(".mjml"):
                template = compile_template(source, self.html)
            else:
                template = self.plain.from_string(source.text)
        except TemplateSyntaxError as error:
            raise RenderSkipError(f"{where}: {error.message}", error.lineno) from None
        except (MjmlError, TemplateNotFoundError, TemplateError, RecursionError) as error:
            raise RenderSkipError(f"{where}: {_describe(error)}") from None
        # A plain dict, not Jinja's ChainMap over the environment's globals: each render
        # copies it, and iterating a ChainMap costs more than the rest of the setup.
        template.globals = dict(template.globals)
        return template, source.locale

    def render_part(self, name: str, part: str, locale: str, context: dict[str, Any]) -> str:
        """One part for `locale` on `context`, as sending would render it (`leal check`)."""
        return self._render(name, part, locale, context, _deadline())[0]

    def _render(
        self, name: str, part: str, locale: str, context: dict[str, Any], deadline: float
    ) -> tuple[str, str]:
        template, variant = self.template(name, part, locale)
        assert isinstance(template, LimitedTemplate)  # made by templates.sandbox
        # filters speak the template's language (a pt-BR customer reading Spanish)
        variables = {**context, "render_locale": variant}
        cap = MAX_OUTPUT.get(part, limits.MAX_OUTPUT)
        try:
            return template.render_part(variables, max_output=cap, deadline=deadline), variant
        except _TEMPLATE_ERRORS as error:  # others reach compose, which skips them too
            line = _template_line(error, template)
            raise RenderSkipError(f"{name}/{variant}/{part}: {_describe(error)}", line) from None


# What a template itself can cause (limits, recursion, strictness, the sandbox, arithmetic).
_TEMPLATE_ERRORS = (TemplateError, TemplateLimitError, RecursionError, ArithmeticError)


def _deadline() -> float:
    return time.monotonic() + limits.SECONDS


def _describe(error: BaseException) -> str:
    if isinstance(error, UndefinedError):
        return str(error.message)
    if isinstance(error, SecurityError):
        return f"refused by the sandbox: {error}"
    if isinstance(error, TemplateLimitError):
        return f"over a template limit: {error}"
    if isinstance(error, RecursionError):
        return "a macro calls itself too deeply (recursion)"
    return f"{type(error).__name__}: {error}"


def _template_line(error: BaseException, template: Template) -> int | None:
    """The template line Jinja's rewritten traceback points at (the last one)."""
    names = {template.filename or "<template>", "<template>"}
    lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if f.filename in names]
    return lines[-1] if lines else None
