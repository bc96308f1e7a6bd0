"""Template problems `leal check` reports as file:line, before any customer meets them.

- Jinja: syntax, unknown filters and tests, and names outside the documented context
  (with StrictUndefined every render of such a template would be skipped);
- security, on the parsed Jinja tree rather than the text: `__…` names, `mro`, `.format`,
  `format_map`, `|attr`, and the same names handed to `map(attribute=…)` and its kin;
- MJML pitfalls, checked on the MJML text (`templates.mjml_pitfalls`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jinja2 import Environment, TemplateSyntaxError, nodes

from campaigns.loader import Problem
from templates.mjml_pitfalls import mjml_pitfalls
from templates.sandbox import make_environment

UNSAFE_ATTRIBUTES = frozenset({"mro", "format", "format_map"})
CONTEXT = frozenset(
    {"customer", "shop", "loyalty", "offer", "recommendations", "unsubscribe_url"}
    | {"campaign", "moment", "card_url", "survey"}
)
# Filters and tests that look attributes up by a name given as a string.
_BY_NAME_FIRST = frozenset({"selectattr", "rejectattr", "groupby"})

Finding = tuple[int, str]  # line, message


def lint_template(path: Path, text: str) -> list[Problem]:
    environment = make_environment(html=path.suffix == ".mjml")
    try:
        tree = environment.parse(text)
        environment.compile(tree)  # unknown filters and tests fail here, with their line
    except TemplateSyntaxError as error:
        return [Problem(str(path), error.lineno, f"template syntax: {error.message}")]
    found = [*_unsafe(tree), *_unknown_names(tree, environment)]
    if path.suffix == ".mjml":
        found += mjml_pitfalls(text)
    return [Problem(str(path), line, message) for line, message in sorted(found)]


def _unsafe(tree: nodes.Template) -> Iterator[Finding]:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name, nodes.Filter, nodes.Test)):
        for name in _reached_names(node):
            if name.startswith("_") or name in UNSAFE_ATTRIBUTES:
                yield node.lineno, f"security: templates may not use {name!r}"
        if isinstance(node, nodes.Filter) and node.name == "attr":
            yield node.lineno, "security: templates may not use the attr filter"


def _reached_names(node: nodes.Node) -> list[str]:
    """The attribute (or variable) names a node reaches for, where they are constants."""
    if isinstance(node, nodes.Getattr):
        return [str(node.attr)]
    if isinstance(node, nodes.Name):
        return [str(node.name)]
    if isinstance(node, nodes.Getitem):
        return _strings([node.arg])
    if isinstance(node, nodes.Filter | nodes.Test):
        named = [keyword.value for keyword in node.kwargs if keyword.key == "attribute"]
        if node.name in _BY_NAME_FIRST:
            named += node.args[:1]
        return [part for dotted in _strings(named) for part in dotted.split(".")]
    return []


def _strings(values: list[nodes.Expr]) -> list[str]:
    return [v.value for v in values if isinstance(v, nodes.Const) and isinstance(v.value, str)]


def _unknown_names(tree: nodes.Template, environment: Environment) -> Iterator[Finding]:
    known = CONTEXT | set(environment.globals) | _assigned(tree)
    yield from _walk(tree, known)


def _walk(node: nodes.Node, known: frozenset[str]) -> Iterator[Finding]:
    if isinstance(node, nodes.For):  # the loop variables exist inside the loop only
        yield from _walk(node.iter, known)
        inside = known | _target_names(node.target) | {"loop"}
        for child in [*node.body, *([node.test] if node.test else [])]:
            yield from _walk(child, inside)
        for child in node.else_:
            yield from _walk(child, known)
        return
    if isinstance(node, nodes.Name) and _unknown(node, known):
        names = ", ".join(sorted(CONTEXT))
        yield node.lineno, f"unknown name {node.name!r}: the context has {names}"
    for child in node.iter_child_nodes():
        yield from _walk(child, known)


def _unknown(name: nodes.Name, known: frozenset[str]) -> bool:
    """A name read but never set; `_…` names are `_unsafe`'s to report."""
    return name.ctx == "load" and name.name not in known and not name.name.startswith("_")


def _assigned(tree: nodes.Template) -> frozenset[str]:
    """Names a template sets itself (`set`, `with`, macros), wherever; loop names excluded."""
    looped = {id(name) for loop in tree.find_all(nodes.For) for name in _names(loop.target)}
    return frozenset(
        str(name.name)
        for name in tree.find_all(nodes.Name)
        if name.ctx in ("store", "param") and id(name) not in looped
    ) | frozenset(str(macro.name) for macro in tree.find_all(nodes.Macro))


def _target_names(target: nodes.Node) -> frozenset[str]:
    return frozenset(str(name.name) for name in _names(target))


def _names(target: nodes.Node) -> list[nodes.Name]:
    return [target] if isinstance(target, nodes.Name) else list(target.find_all(nodes.Name))
