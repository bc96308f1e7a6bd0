"""Where `templates.limits` meets Jinja: the code generator, the template class, the
filters and the methods that can grow a value by an argument.

The code generator (Jinja's documented `code_generator_class` hook) routes every
`{% for %}` through `guard_iter` and every `~` through a checked join, and refuses what a
single-file template cannot use: `{% extends %}`, `{% include %}`, `{% import %}` (no
loader: shared MJML pieces come in through `<mj-include>`) and recursive loops (unbounded
by any argument). Refusing them in the generator makes them errors at compile time, with
their line, in `leal check` as at send time.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from functools import wraps
from typing import Any, NoReturn

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template
from jinja2.filters import make_attrgetter
from jinja2.runtime import markup_join, str_join
from jinja2.utils import _PassArg
from markupsafe import Markup

from templates import limits
from templates.limits import (
    MAX_RANGE,
    TemplateLimitError,
    charged,
    check_percent,
    check_printable,
    check_replace,
    check_width,
    current,
)

Filter = Callable[..., Any]


class LimitedGenerator(CodeGenerator):
    def visit_For(self, node: nodes.For, frame: Frame) -> None:  # noqa: N802 (Jinja's visitor names)
        if node.recursive:
            self.fail("recursive loops are not allowed in Leal templates", node.lineno)
        guarded = copy(node)
        guarded.iter = nodes.Call(
            nodes.EnvironmentAttribute("guard_iter"), [node.iter], [], None, None,
            lineno=node.lineno,
        )  # fmt: skip
        super().visit_For(guarded, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 (Jinja's visitor names)
        escaping = frame.eval_ctx.autoescape
        flag = "context.eval_ctx.autoescape" if frame.eval_ctx.volatile else repr(escaping)
        self.write("environment.checked_join((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write(f"), {flag})")

    def visit_Extends(self, node: nodes.Extends, frame: Frame) -> None:  # noqa: N802 (Jinja's visitor names)
        self._single_file("extends", node)

    def visit_Include(self, node: nodes.Include, frame: Frame) -> None:  # noqa: N802 (Jinja's visitor names)
        self._single_file("include", node)

    def visit_Import(self, node: nodes.Import, frame: Frame) -> None:  # noqa: N802 (Jinja's visitor names)
        self._single_file("import", node)

    def visit_FromImport(self, node: nodes.FromImport, frame: Frame) -> None:  # noqa: N802 (Jinja's visitor names)
        self._single_file("from … import", node)

    def _single_file(self, tag: str, node: nodes.Node) -> NoReturn:
        self.fail(
            f"{{% {tag} %}} is not available: a template part is one file"
            " (email.mjml takes shared pieces with <mj-include>)",
            node.lineno,
        )


class LimitedTemplate(Template):
    """Every render runs under a fresh budget and an output cap."""

    def render(self, *args: Any, **kwargs: Any) -> str:
        return self.render_part(dict(*args, **kwargs))

    def render_part(
        self, variables: dict[str, Any], *, max_output: int = limits.MAX_OUTPUT,
        deadline: float | None = None,
    ) -> str:  # fmt: skip
        try:
            return limits.render_limited(self, variables, max_output=max_output, deadline=deadline)
        except Exception:
            self.environment.handle_exception()  # raises, with template lines in the traceback


def checked_join(values: tuple[Any, ...], autoescape: bool) -> str:
    """`a ~ b`: the pieces' size is charged before they are joined."""
    check_printable(*values)
    current().charge(sum(len(value) for value in values if isinstance(value, str)))
    return markup_join(values) if autoescape else str_join(values)


def checked_concat(pieces: Any) -> str:
    """Jinja's `concat` (captured blocks, macro bodies): sized before joining."""
    pieces = list(pieces)
    current().charge(sum(map(len, pieces)))
    return "".join(pieces)


def finalize(value: Any) -> Any:
    """Each `{{ … }}` output: a container prints deeply, so it is measured first."""
    if type(value) is not str and type(value) is not Markup:
        check_printable(value)
    return value


# Filters whose first argument becomes text: a container there is measured deeply.
_TEXT_FILTERS = frozenset(
    {"capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower"}
    | {"pprint", "replace", "safe", "string", "striptags", "title", "tojson", "trim"}
    | {"truncate", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr"}
)


def limit_filters(filters: dict[str, Filter]) -> None:
    """Wrap every filter: arguments measured, results charged, growth checked first."""
    for name, function in list(filters.items()):
        checked = _PRECHECKED.get(name)
        filters[name] = _charged_filter(checked or function, name in _TEXT_FILTERS)


def _charged_filter(function: Filter, text_input: bool) -> Filter:
    skip = 1 if _PassArg.from_obj(function) else 0  # the context or environment comes first

    @wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        check_printable(*args[skip + (not text_input) :], *kwargs.values())
        return charged(function(*args, **kwargs))

    return run


def _prechecked(original: Filter, check: Callable[..., None]) -> Filter:
    """`original`, after `check` (called with its arguments, less the context) passed."""
    skip = 1 if _PassArg.from_obj(original) else 0

    @wraps(original)
    def run(*args: Any, **kwargs: Any) -> Any:
        check(*args[skip:], **kwargs)
        return original(*args, **kwargs)

    return run


def _center(value: Any, width: Any = 80) -> None:
    check_width(len(str(value)), width)


def _indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    text = str(value)
    step = len(width) if isinstance(width, str) else width
    if isinstance(step, int):
        current().charge(len(text) + (text.count("\n") + 1) * max(step, 0))


def _wordwrap(value: Any, width: Any = 79, *args: Any, wrapstring: Any = None, **_: Any) -> None:
    text, wrap = str(value), wrapstring if wrapstring is not None else "\n"
    if len(args) >= 2:
        wrap = args[1] if args[1] is not None else "\n"
    if isinstance(width, int):
        lines = len(text) // max(width, 1) + text.count("\n") + 1
        current().charge(len(text) + lines * len(str(wrap)))


def _replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
    check_replace(str(value), str(old), str(new), -1 if count is None else count)


def _format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent(str(value))


def _batch(value: Any, linecount: Any, fill_with: Any = None) -> None:
    if isinstance(linecount, int) and fill_with is not None:
        current().charge(linecount)


def _slice(value: Any, slices: Any, fill_with: Any = None) -> None:
    if isinstance(slices, int) and slices > MAX_RANGE:
        raise TemplateLimitError(f"slice into {slices:,} parts (at most {MAX_RANGE:,})")


def _tojson(value: Any, indent: Any = None) -> None:
    if isinstance(indent, int):
        check_width(0, indent)
        current().charge(limits.deep_size(value) * max(indent, 1))


def _join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
    from jinja2.filters import sync_do_join

    if attribute is not None:
        value = map(make_attrgetter(eval_ctx.environment, attribute), value)
    items = list(value)
    limits.check_join(str(d), items)
    return str(sync_do_join(eval_ctx, items, d))


def _sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """Summing lists or strings re-copies the total at each step: each step is charged."""
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    total = start
    for item in iterable:
        limits.check_binop("+", total, item)
        total = total + item
    return total


def _make_prechecked() -> dict[str, Filter]:
    from jinja2 import filters as jinja

    _join.jinja_pass_arg = _PassArg.eval_context  # type: ignore[attr-defined]
    _sum.jinja_pass_arg = _PassArg.environment  # type: ignore[attr-defined]
    return {
        "center": _prechecked(jinja.do_center, _center),
        "indent": _prechecked(jinja.do_indent, _indent),
        "wordwrap": _prechecked(jinja.do_wordwrap, _wordwrap),
        "replace": _prechecked(jinja.do_replace, _replace),
        "format": _prechecked(jinja.do_format, _format),
        "batch": _prechecked(jinja.do_batch, _batch),
        "slice": _prechecked(jinja.sync_do_slice, _slice),
        "tojson": _prechecked(jinja.do_tojson, _tojson),
        "join": _join,
        "sum": _sum,
    }


_PRECHECKED = _make_prechecked()


def check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The arguments of a str method that grows its string by them, checked first (an
    iterable for `join` comes back as a list, measured)."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not isinstance(owner, str | bytes):
        return args
    if name in ("center", "ljust", "rjust", "zfill") and args:
        check_width(len(owner), args[0])
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            current().charge(len(owner) + tabs * size)
    elif name == "replace" and len(args) >= 2 and isinstance(owner, str):
        check_replace(owner, str(args[0]), str(args[1]), args[2] if len(args) > 2 else -1)
    elif name == "join" and args:
        items = list(args[0])
        limits.check_join(str(owner), items)
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        current().charge(len(owner) * max(longest, 1))
    return args
