"""MJML -> HTML, once per template version; then one Jinja template per version.

The compiler is `mjml-python` (the MRML engine), chosen on evidence
(`bench/mjml_compilers.py`, mean of the 20 shipped emails): 0.10 ms a compile, like `mrml`
(the same engine, 0.10 ms), against 9 ms for the pure-Python `mjml` port, 3.4 ms for node
`mjml` warm in one process and 290 ms a node CLI run; all four show the same visible text,
links and images on every shipped email (`tests/templates/test_mjml.py` holds Leal's to node
`mjml`). MRML keeps every Jinja tag byte-exact, also where node `mjml` would drop one
(`templates.lint` refuses those places).

Compiled HTML and Jinja templates are cached by the content hash of the resolved MJML:
an edited template or shared include is a new version, an unchanged one is compiled once
per process. Building the Jinja template costs ~4.4 ms, forty times the MJML compile, so
callers keep the template and render it (~0.06 ms) once per recipient. No disk cache:
reading HTML back would save 0.1 ms, and Jinja's bytecode cache works only with loaders.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from weakref import WeakKeyDictionary

from jinja2 import Environment, Template, TemplateSyntaxError
from mjml import mjml2html

from campaigns.loader import Problem
from templates.loader import IncludeError, Source, TemplateSet
from templates.sandbox import make_environment

__all__ = ["MjmlError", "compile_email", "compile_mjml", "compile_template", "email_problems"]

_POSITION = re.compile(r"\s*at position (\d+):(\d+)")  # MRML's span, in bytes, when it has one
_HTML: dict[str, str] = {}  # digest -> HTML: one entry per template version a process meets
_TEMPLATES: WeakKeyDictionary[Environment, dict[str, Template]] = WeakKeyDictionary()


class MjmlError(ValueError):
    """A template that does not compile; `problems` say where (file:line when known)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def compile_mjml(source: Source | str) -> str:
    """The HTML of resolved MJML, Jinja tags intact; cached by content hash."""
    if isinstance(source, str):
        source = Source(Path("<mjml>"), source, "")
    html = _HTML.get(source.digest)
    if html is None:
        try:
            # fonts={}: no web-font <link>/@import that MRML adds for Roboto, Open Sans, …
            # (a request to Google from every reader); a shop's own <mj-font> still works
            html = str(mjml2html(source.text, fonts={}))
        except Exception as error:  # the binding raises bare exceptions with MRML's text
            raise MjmlError([_compiler_problem(source, str(error))]) from None
        _HTML[source.digest] = html
    return html


def compile_template(source: Source, environment: Environment | None = None) -> Template:
    """The Jinja template of an email's compiled HTML, built once per version."""
    environment = environment or _default_environment()
    built = _TEMPLATES.setdefault(environment, {})
    template = built.get(source.digest)
    if template is None:
        html = compile_mjml(source)
        try:
            template = environment.from_string(html)
        except TemplateSyntaxError as error:  # only if compiling mangled a tag
            message = f"MJML: the compiled HTML is not a valid template: {error.message}"
            raise MjmlError([Problem(str(source.path), None, message)]) from None
        built[source.digest] = template
    return template


def compile_email(
    templates: TemplateSet, name: str, locale: str, environment: Environment | None = None
) -> Template:
    """`name`'s email for `locale` (with fallback) as a Jinja template: keep it, and render
    it once per recipient. Raises MjmlError, or TemplateNotFoundError with no email.mjml."""
    try:
        source = templates.source(name, "email.mjml", locale)
    except IncludeError as error:
        raise MjmlError([Problem(str(error.path), error.line, error.message)]) from None
    return compile_template(source, environment)


def email_problems(templates: TemplateSet, name: str, locale: str) -> list[Problem]:
    """What `leal check` says about compiling one email (nothing when it compiles)."""
    try:
        compile_email(templates, name, locale)
    except MjmlError as error:
        return error.problems
    return []


def _compiler_problem(source: Source, message: str) -> Problem:
    found = _POSITION.search(message)
    if found is None:  # MRML names no place for most errors: the top file, no line
        return Problem(str(source.path), None, f"MJML: {message}")
    data, start, end = source.text.encode(), int(found.group(1)), int(found.group(2))
    span = data[start:end]
    start += len(span) - len(span.lstrip())  # MRML's span starts with the whitespace before
    line = data.count(b"\n", 0, start) + 1
    path, line = source.origin(line)
    return Problem(str(path), line, f"MJML: {_POSITION.sub('', message)}")


@cache  # one default HTML environment, made on first use
def _default_environment() -> Environment:
    return make_environment(html=True)
