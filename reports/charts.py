"""The report's charts: matplotlib figures as inline SVG strings, ready for the HTML view.

matplotlib costs about a second to import, so it is imported only when a chart is drawn:
`leal report` in the terminal and every other command never pay for it. Figures are
`matplotlib.figure.Figure` objects (no pyplot state); the style lives in an `rc_context`
around each chart. Output is deterministic (a fixed hash salt, no date) and small (text
stays text, in the page's font). A chart with nothing to draw returns None and the page
shows a "no data yet" note in its place.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec

from babel.dates import format_skeleton
from babel.numbers import format_compact_currency, format_compact_decimal

from reports.formatting import Numbers, label, verdict

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

P = ParamSpec("P")
INK, MUTED, GRID = "#0f172a", "#64748b", "#e2e8f0"
BRAND, BRAND_LIGHT = "#4f46e5", "#c7d2fe"
TONES = {"positive": "#059669", "negative": "#dc2626", "neutral": "#64748b", "waiting": "#d97706"}
TIERS = {"bronze": "#b7794b", "silver": "#94a3b8", "gold": "#d4a017", "platinum": "#475569"}
RFM = {  # good, watch, at risk: a marketer reads the colour before the label
    **dict.fromkeys(("champions", "loyal", "potential_loyalists", "new", "promising"), "#10b981"),
    **dict.fromkeys(("need_attention", "about_to_sleep"), "#f59e0b"),
    **dict.fromkeys(("at_risk", "cannot_lose", "hibernating", "lost"), "#ef4444"),
}
STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text as <text>, not paths: small, sharp, searchable
    "text.parse_math": False,  # a campaign called "$5 off $20" is not mathtext
    "font.size": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "font.family": "sans-serif",
    "text.color": INK,
    "axes.edgecolor": "#cbd5e1",
    "axes.labelcolor": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "legend.frameon": False,
}


def _chart(draw: Callable[P, Figure | None]) -> Callable[P, str | None]:
    """Draws inside the house style and returns the figure as cleaned inline SVG."""

    @wraps(draw)
    def chart(*args: P.args, **kwargs: P.kwargs) -> str | None:
        import matplotlib  # here, not at the top: see the module docstring

        key = draw.__name__.strip("_")
        with matplotlib.rc_context({**STYLE, "svg.hashsalt": key}):
            figure = draw(*args, **kwargs)
            if figure is None:
                return None
            out = io.StringIO()
            figure.savefig(out, format="svg", metadata={"Date": None})
        return _clean(out.getvalue())

    return chart


_ID = re.compile(r' id="([^"]+)"')
_REFERENCE = re.compile(r'(?:href="#|url\(#)([^")]+)')


def _clean(svg: str) -> str:
    """Inline-ready SVG: no prolog, metadata or global style; sized by its container;
    only the ids something points at, made unique across the page."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>\s*", "", svg, count=1, flags=re.S)
    svg = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", svg, count=1)
    svg = re.sub(r"font-family:[^;\"]*;? ?", "", svg)  # the page's font, set in its CSS
    wanted = set(_REFERENCE.findall(svg))
    return _ID.sub(lambda m: f' id="{m[1]}"' if m[1] in wanted else "", svg)


def scoped(svg: str, prefix: str) -> str:
    """The chart with its ids (and what points at them) prefixed: two charts of the same
    kind on one page draw the same clip paths and markers under the same hashed ids."""
    svg = _ID.sub(lambda m: f' id="{prefix}-{m[1]}"', svg)
    return _REFERENCE.sub(lambda m: f"{m[0][: -len(m[1])]}{prefix}-{m[1]}", svg)


def _figure(width: float, height: float, margins: tuple[float, float, float, float]) -> Figure:
    """A figure whose axes sit inside fixed margins (left, right, top, bottom, in inches):
    a layout engine would cost a whole extra draw per chart."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    left, right, top, bottom = margins
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height
    )
    return figure


def _days(rows: list[dict[str, Any]]) -> list[int]:
    """Days as ordinals: plain numbers matplotlib needs no date converter for."""
    return [date.fromisoformat(row["date"]).toordinal() for row in rows]


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [float(row.get(key) or 0) for row in rows]


def _has(rows: list[dict[str, Any]], *keys: str) -> bool:
    """Anything to draw: a period of zeros (or nulls) is no data yet, not a flat chart."""
    return any(row.get(key) for row in rows for key in keys)


def _date_axis(axes: Axes, days: list[int], numbers: Numbers) -> None:
    """At most seven dates, a whole number of days or weeks apart, from the first day."""
    span = days[-1] - days[0] + 1
    step = next((s for s in (1, 2, 7, 14, 28) if span / s <= 7), -(-span // 7))
    ticks = range(days[0], days[-1] + 1, step)
    style = "MMMd" if span < 300 else "yMMMd"
    names = [format_skeleton(style, date.fromordinal(t), locale=numbers.locale) for t in ticks]
    axes.set_xticks(ticks, names)
    axes.grid(axis="x", visible=False)


def _compact(value: float, numbers: Numbers, *, money: bool = False) -> str:
    """An axis tick: 1500 -> "1.5K", "€1.5K"."""
    if money:
        return str(
            format_compact_currency(
                value, numbers.currency, locale=numbers.locale, fraction_digits=1
            )
        )
    return str(format_compact_decimal(value, locale=numbers.locale, fraction_digits=1))


@_chart
def uplift_forest(
    campaigns: list[dict[str, Any]], numbers: Numbers, width: float = 11.3
) -> Figure | None:
    """Conversion uplift per campaign, in percentage points: the estimate, its 95 %
    interval and the wider always-valid interval, against a zero line."""
    if not any((c.get("conversion_uplift") or {}).get("estimate") is not None for c in campaigns):
        return None  # every row would read "not enough data yet"
    names = [_short(label(c.get("name", "")), 22) for c in campaigns]
    margins = (_gutter(names), 0.2, 0.1, 0.32)
    figure = _figure(width, 0.45 + 0.42 * len(campaigns), margins)
    axes = figure.add_subplot()
    bounds = [0.0]
    for y, campaign in enumerate(campaigns):
        bounds += _forest_row(axes, y, campaign)
    axes.axvline(0, color=MUTED, linewidth=1, linestyle=(0, (4, 3)))
    pad = (max(bounds) - min(bounds)) * 0.06 or 0.01
    axes.set_xlim(min(bounds) - pad, max(bounds) + pad)
    axes.set_ylim(len(campaigns) - 0.4, -0.6)  # first campaign on top
    axes.set_yticks(range(len(campaigns)), names, color=INK, fontsize=10)
    axes.tick_params(axis="y", length=0)
    axes.grid(axis="y", visible=False)
    axes.spines["left"].set_visible(False)
    axes.xaxis.set_major_formatter(_formatter(lambda x: _pp(x, numbers)))
    axes.xaxis.set_major_locator(_ticks(7 if width > 6 else 4))
    return figure


def _forest_row(axes: Axes, y: int, campaign: dict[str, Any]) -> list[float]:
    """Draws one campaign's row; returns the x values it spans."""
    uplift = campaign.get("conversion_uplift") or {}
    colour = TONES[verdict(campaign)[0]]
    wide = (campaign.get("always_valid") or {}).get("ci95") or []
    narrow = uplift.get("ci95") or []
    if wide:
        axes.hlines(y, *wide, color=colour, alpha=0.2, linewidth=12)
    if narrow:
        axes.hlines(y, *narrow, color=colour, linewidth=2.6)
    estimate = uplift.get("estimate")
    if estimate is not None:
        axes.plot(estimate, y, "o", color=colour, markeredgecolor="white", markersize=9)
        return [*wide, *narrow, estimate]
    axes.text(
        0.5,
        y,
        "not enough data yet",
        color=TONES["waiting"],
        style="italic",
        ha="center",
        va="center",
        transform=axes.get_yaxis_transform(),
    )
    return [*wide, *narrow]


def _gutter(names: list[str]) -> float:
    """Room for the longest label, in inches (about 0.08 in a character at 10 pt)."""
    return 0.25 + 0.08 * max((len(name) for name in names), default=0)


def _formatter(show: Callable[[float], str]) -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: show(value))


def _ticks(most: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=most, steps=[1, 2, 2.5, 5, 10])


def _pp(value: float, numbers: Numbers) -> str:
    return numbers.points(value).replace(".0 pp", " pp") if abs(value) > 1e-9 else "0"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@_chart
def daily_activity(daily: list[dict[str, Any]], numbers: Numbers) -> Figure | None:
    """Messages sent per day (bars) and the revenue attributed to them (line); the page
    carries the legend."""
    if not _has(daily, "messages", "attributed_revenue"):
        return None
    days = _days(daily)
    figure = _figure(4.8, 2.0, (0.45, 0.55, 0.1, 0.3))
    axes = figure.add_subplot()
    axes.bar(days, _values(daily, "messages"), color=BRAND_LIGHT, width=0.8)
    axes.yaxis.set_major_formatter(_formatter(lambda x: _compact(x, numbers)))
    revenue = axes.twinx()
    values = _values(daily, "attributed_revenue")
    revenue.plot(days, values, color=BRAND, linewidth=1.8)
    revenue.fill_between(days, values, color=BRAND, alpha=0.07, linewidth=0)
    revenue.set_ylim(bottom=0)
    revenue.grid(visible=False)
    revenue.spines["right"].set_visible(True)
    revenue.yaxis.set_major_formatter(_formatter(lambda x: _compact(x, numbers, money=True)))
    _date_axis(axes, days, numbers)
    return figure


@_chart
def points_flow(rows: list[dict[str, Any]], numbers: Numbers) -> Figure | None:
    """Points issued per day above the line, redeemed and expired below it."""
    if not _has(rows, "issued", "redeemed", "expired"):
        return None
    days = _days(rows)
    redeemed = [-value for value in _values(rows, "redeemed")]
    expired = [-value for value in _values(rows, "expired")]
    figure = _figure(6.4, 2.4, (0.45, 0.12, 0.1, 0.3))
    axes = figure.add_subplot()
    axes.bar(days, _values(rows, "issued"), color=BRAND, width=0.75)
    axes.bar(days, redeemed, color="#10b981", width=0.75)
    # A day whose refunds exceed its spends nets above the line: expiries stack from 0 then.
    below = [min(value, 0) for value in redeemed]
    axes.bar(days, expired, bottom=below, color="#f59e0b", width=0.75)
    axes.axhline(0, color=MUTED, linewidth=0.8)
    axes.yaxis.set_major_formatter(_formatter(lambda x: _compact(abs(x), numbers)))
    _date_axis(axes, days, numbers)
    return figure


@_chart
def share_bars(
    counts: dict[str, int | None] | None, numbers: Numbers, palette: str = "tiers"
) -> Figure | None:
    """Customers per tier or RFM segment, each bar labelled with count and share."""
    names = list(counts or {})
    values = [float((counts or {})[name] or 0) for name in names]  # a Decimal count too
    total = sum(values)
    if not total:
        return None
    labels = [_short(label(name), 20) for name in names]
    colours = TIERS if palette == "tiers" else RFM
    figure = _figure(4.8, 0.5 + 0.3 * len(names), (_gutter(labels), 0.15, 0.1, 0.3))
    axes = figure.add_subplot()
    positions = range(len(names))  # by position: two names may read alike
    colour = [colours.get(name, BRAND) for name in names]
    bars = axes.barh(positions, values, height=0.68, color=colour)
    shares = [f"{numbers.count(v)} · {numbers.percent(v / total, 0)}" for v in values]
    axes.bar_label(bars, shares, padding=4, color=MUTED)
    axes.set_xlim(0, max(values) * 1.3)
    axes.set_ylim(len(names) - 0.4, -0.6)  # first on top
    axes.set_yticks(positions, labels, color=INK)
    axes.tick_params(axis="y", length=0)
    axes.xaxis.set_major_formatter(_formatter(lambda x: _compact(x, numbers)))
    axes.grid(axis="y", visible=False)
    return figure


NPS_GROUPS = ((range(0, 7), "#ef4444"), (range(7, 9), "#94a3b8"), (range(9, 11), "#10b981"))


@_chart
def nps_distribution(distribution: dict[str, int | None] | None, numbers: Numbers) -> Figure | None:
    """NPS answers per score, 0 to 10: detractors red, passives grey, promoters green,
    each bar labelled with its count."""
    counts = [float((distribution or {}).get(str(score)) or 0) for score in range(11)]
    if not any(counts):
        return None
    figure = _figure(4.8, 1.9, (0.4, 0.1, 0.22, 0.3))
    axes = figure.add_subplot()
    colours = [next(c for scores, c in NPS_GROUPS if score in scores) for score in range(11)]
    bars = axes.bar(range(11), counts, color=colours, width=0.72)
    axes.bar_label(bars, [numbers.count(c) if c else "" for c in counts], padding=2, color=MUTED)
    axes.set_xticks(range(11), [str(score) for score in range(11)])
    axes.set_xlim(-0.6, 10.6)
    axes.set_ylim(0, max(counts) * 1.18)
    axes.yaxis.set_major_formatter(_formatter(lambda x: _compact(x, numbers)))
    axes.yaxis.set_major_locator(_ticks(4))
    axes.tick_params(axis="x", length=0)
    axes.grid(axis="x", visible=False)
    return figure
