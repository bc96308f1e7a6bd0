"""Finding a template's parts for a locale, and resolving the MJML includes.

`<template>/<locale>/<part>`: the customer's locale (`pt-BR`, then `pt`), then the shop's
default locale, then `en`. `<mj-include path="_shared/footer.mjml" />` names
`_shared/<locale>/footer.mjml`, tried from the locale variant the email was found in, so
an English fallback email never gets an Italian footer. Leal resolves includes itself
before compiling, so every compiler sees one document; the resolved text keeps, for each
of its lines, the file and line it came from, so an error points into the included file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

SHIPPED = Path(__file__).parent
PARTS = ("email.mjml", "subject.txt", "text.txt", "sms.txt")
_INCLUDE = re.compile(r"""<mj-include\s+path\s*=\s*(?:"([^"]*)"|'([^']*)')\s*/>""")
_ANY_INCLUDE = re.compile(r"<mj-include\b[^>]*>?")

Origin = tuple[Path, int]  # a file and a 1-based line in it


class TemplateNotFoundError(LookupError):
    """No locale variant of a template part exists."""


class IncludeError(TemplateNotFoundError):
    """An `mj-include` that cannot be resolved, at the file and line of the tag."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True)
class Source:
    path: Path  # the file the text came from (the top file when includes were resolved)
    text: str
    locale: str  # the locale variant found
    origins: tuple[Origin, ...] = field(default=(), repr=False)  # per line of `text`

    def origin(self, line: int) -> Origin:
        """The file and line that line `line` of the resolved text came from."""
        if 1 <= line <= len(self.origins):
            return self.origins[line - 1]
        return self.path, line

    @cached_property
    def digest(self) -> str:
        """Content hash of the resolved text: the key of everything compiled from it."""
        return hashlib.sha256(self.text.encode()).hexdigest()


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

    def find(self, template: str, part: str, locale: str) -> Path:
        """The file of `part` for `locale`, with fallback; a clear error when none exists."""
        for variant in self.locales(locale):
            path = self.root / template / variant / part
            if path.is_file():
                return path
        tried = ", ".join(self.locales(locale))
        raise TemplateNotFoundError(f"template {template!r} has no {part} (tried {tried})")

    def source(self, template: str, part: str, locale: str) -> Source:
        """The part's text for `locale`, MJML includes resolved."""
        path = self.find(template, part, locale)
        text = path.read_text(encoding="utf-8")
        if not part.endswith(".mjml"):
            return Source(path, text, path.parent.name)
        pieces = self._resolve(path, text, path.parent.name, (path,))
        resolved = "".join(piece for piece, _, _ in pieces)
        return Source(path, resolved, path.parent.name, _origins(pieces))

    def _resolve(
        self, path: Path, text: str, locale: str, stack: tuple[Path, ...]
    ) -> list[tuple[str, Path, int]]:
        """`text` as pieces (text, file, first line), each include replaced by its file's."""
        pieces, done = [], 0
        for tag in _ANY_INCLUDE.finditer(text):
            line = _line(text, tag.start())
            included = self._included(path, line, tag, locale)
            if included in stack:
                chain = " -> ".join(
                    self._name(p) for p in (*stack[stack.index(included) :], included)
                )
                raise IncludeError(path, line, f"mj-include cycle: {chain}")
            pieces.append((text[done : tag.start()], path, _line(text, done)))
            inner = included.read_text(encoding="utf-8")
            pieces += self._resolve(included, inner, locale, (*stack, included))
            done = tag.end()
        pieces.append((text[done:], path, _line(text, done)))
        return pieces

    def _name(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def _included(self, path: Path, line: int, tag: re.Match[str], locale: str) -> Path:
        exact = _INCLUDE.fullmatch(tag.group(0))
        if exact is None:
            raise IncludeError(path, line, 'write includes as <mj-include path="_shared/NAME" />')
        target = exact.group(1) or exact.group(2) or ""
        folder, _, name = target.partition("/")
        if not folder or not name or "/" in name or ".." in target or "\\" in target:
            raise IncludeError(path, line, f"mj-include path {target!r}: use _shared/NAME")
        try:
            return self.find(folder, name, locale)
        except TemplateNotFoundError as error:
            raise IncludeError(path, line, f"mj-include {target!r}: {error}") from None


def _origins(pieces: list[tuple[str, Path, int]]) -> tuple[Origin, ...]:
    """Per line of the joined pieces, where its first non-blank text came from."""
    origins: list[Origin] = []
    blank = True
    for text, path, first in pieces:
        for offset, part in enumerate(text.split("\n")):
            if offset or not origins:  # a newline (or the start) begins an output line
                origins.append((path, first + offset))
                blank = not part.strip()
            elif blank and part.strip():  # indentation before an include is not its origin
                origins[-1], blank = (path, first + offset), False
    return tuple(origins)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
