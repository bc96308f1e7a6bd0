"""Finding a template's parts for a locale, and resolving the MJML includes.

`<template>/<locale>/<part>`: the customer's locale (`pt-BR`, then `pt`), then the shop's
default locale, then `en`. `<mj-include path="_shared/footer.mjml" />` names
`_shared/<locale>/footer.mjml` with the same fallback; Leal resolves includes itself
before compiling, so every compiler sees one document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SHIPPED = Path(__file__).parent
PARTS = ("email.mjml", "subject.txt", "text.txt", "sms.txt")
_INCLUDE = re.compile(r'<mj-include\s+path="([^"]+)"\s*/>')
_MAX_DEPTH = 5


class TemplateNotFoundError(LookupError):
    """No locale variant of a template part exists."""


@dataclass(frozen=True)
class Source:
    path: Path  # the file the text came from (the top file when includes were resolved)
    text: str
    locale: str  # the locale variant found


class TemplateSet:
    def __init__(self, root: Path | None, default_locale: str) -> None:
        self.root = root or SHIPPED
        self.default_locale = default_locale

    def locales(self, locale: str) -> list[str]:
        """The variants tried for `locale`, best first."""
        chain = [locale.replace("_", "-"), locale.replace("_", "-").split("-")[0]]
        chain += [self.default_locale, "en"]
        return list(dict.fromkeys(chain))

    def exists(self, template: str) -> bool:
        return (self.root / template).is_dir()

    def source(self, template: str, part: str, locale: str) -> Source:
        """The part's text for `locale`, MJML includes resolved."""
        path = self.find(template, part, locale)
        text = path.read_text(encoding="utf-8")
        if part.endswith(".mjml"):
            text = self._includes(text, locale, depth=0)
        return Source(path, text, path.parent.name)

    def find(self, template: str, part: str, locale: str) -> Path:
        for variant in self.locales(locale):
            path = self.root / template / variant / part
            if path.is_file():
                return path
        tried = ", ".join(self.locales(locale))
        raise TemplateNotFoundError(f"template {template!r} has no {part} (tried {tried})")

    def _includes(self, text: str, locale: str, depth: int) -> str:
        if depth >= _MAX_DEPTH:
            raise TemplateNotFoundError("mj-include nested too deep (a cycle?)")

        def include(match: re.Match[str]) -> str:
            folder, _, name = match.group(1).partition("/")
            if not name or "/" in name or ".." in match.group(1):
                raise TemplateNotFoundError(f"mj-include path {match.group(1)!r}: use _shared/NAME")
            included = self.find(folder, name, locale).read_text(encoding="utf-8")
            return self._includes(included, locale, depth + 1)

        return _INCLUDE.sub(include, text)
