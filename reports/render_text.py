"""`leal report` in the terminal: rich tables of the report object (reports.build).

Every value may be null (no data yet, nothing to divide by); it prints as an em dash.
Names and descriptions from the marketer's config go in as `Text`, never as markup, so a
campaign called `[bold]` prints as typed. `Numbers` is shared with the HTML view so both
show the same figures the same way.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reports.formatting import DASH, Numbers, label, not_enough_data, verdict
from reports.render_surveys import (
    answered_on,
    clicks_line,
    has_surveys,
    kind_score,
    latest,
    survey_rows,
)

TEXT_DETRACTORS = 5  # the terminal lists the latest few; JSON and HTML more, with comments


def print_report(report: dict[str, Any], console: Console) -> None:
    """The report as tables: campaign results first, then the loyalty KPIs."""
    numbers = Numbers(report.get("currency") or "EUR", report.get("locale") or "en")
    period = report["period"]
    title = Text(f"{report.get('shop') or 'Leal'}", style="bold")
    title.append(f"  {numbers.day(period['from'])} – {numbers.day(period['to'])}", style="")
    console.print(title)
    campaigns = report.get("campaigns") or []
    if not campaigns:
        console.print("No campaign results in this period yet.")
    else:
        for campaign in campaigns:
            console.print(_campaign_card(campaign, numbers))
    kpis = report.get("kpis")
    if kpis is None:
        console.print("No loyalty KPIs in this report.")
        return
    for table in _kpi_tables(kpis, numbers):
        console.print(table)


def _table(title: str, *headers: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for index, header in enumerate(headers):  # figures never wrap; names may
        table.add_column(header, justify="right" if index else "left", no_wrap=index > 0)
    return table


def _campaign_card(campaign: dict[str, Any], numbers: Numbers) -> Table:
    """One campaign as a card: its two groups side by side, the difference with its
    interval, then the money. A card stays readable in 80 columns, as eight columns per
    campaign in one table did not."""
    holdout = campaign.get("holdout_percent")
    title = Text(str(campaign["name"]), style="bold")
    title.append(
        f"  {campaign.get('trigger', '')}, holdout {numbers.decimal(holdout, 0)} %, "
        f"{campaign.get('attribution_days', DASH)}-day window",
        style="dim",
    )
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("", no_wrap=True)
    for header in ("Treated", "Holdout"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("Difference (95 % interval)", justify="left")
    treated, held = campaign.get("treated") or {}, campaign.get("holdout") or {}
    uplift = campaign.get("conversion_uplift") or {}
    revenue = campaign.get("revenue_per_recipient_uplift") or {}
    table.add_row("Moments", numbers.count(treated.get("n")), numbers.count(held.get("n")), "")
    table.add_row(
        "Converted",
        _arm(treated, numbers),
        _arm(held, numbers),
        f"{numbers.points(uplift.get('estimate'))} ({numbers.interval(uplift.get('ci95'))})",
    )
    table.add_row(
        "Revenue / recipient",
        numbers.money(treated.get("revenue_per_recipient")),
        numbers.money(held.get("revenue_per_recipient")),
        f"{numbers.money(revenue.get('estimate'))} "
        f"({numbers.interval(revenue.get('ci95'), money=True)})",
    )
    tone, label = verdict(campaign)
    if tone == "waiting":
        label = not_enough_data(campaign, numbers)
    lift = numbers.percent(uplift.get("relative_lift"), 0, signed=True)
    style = {"positive": "green", "negative": "red", "waiting": "yellow"}.get(tone, "")
    detail = Text(label, style=style)
    detail.append(f"  lift {lift}, p {numbers.p_value(uplift.get('p_value'))}", style="dim")
    table.add_row("Verdict", "", "", detail)
    for name, key in MONEY_ROWS:
        table.add_row(name, "", "", numbers.money(campaign.get(key)))
    table.add_row("ROI", "", "", numbers.percent(campaign.get("roi"), 0))
    return table


MONEY_ROWS = (
    ("Incremental revenue", "incremental_revenue"),
    ("Discounts redeemed", "discounts_redeemed"),
    ("Message costs", "message_costs"),
    ("Incremental margin", "incremental_margin"),
)


def _arm(arm: dict[str, Any] | None, numbers: Numbers) -> str:
    """Conversions and their rate: "120 (13.3%)"."""
    if not arm:
        return DASH
    rate = numbers.percent(arm.get("conversion_rate"))
    return f"{numbers.count(arm.get('conversions'))} ({rate})"


KPIS = {  # table -> (label, object, key, kind)
    "Customers and orders": [
        ("Customers at start", "customers", "at_start", "count"),
        ("Customers at end", "customers", "at_end", "count"),
        ("New customers", "customers", "new", "count"),
        ("Retention rate", "customers", "retention_rate", "percent"),
        ("Churn rate", "customers", "churn_rate", "percent"),
        ("Orders", "orders", "count", "count"),
        ("Revenue", "orders", "revenue", "money"),
        ("Average order value", "orders", "average_order_value", "money"),
        ("Purchase frequency", "orders", "purchase_frequency", "ratio"),
        ("Repeat purchase rate", "orders", "repeat_purchase_rate", "percent"),
        ("Upsell ratio", "orders", "upsell_ratio", "percent"),
        ("Historic CLV", "clv", "historic", "money"),
        ("Historic CLV (margin)", "clv", "historic_margin", "money"),
    ],
    "Loyalty points": [
        ("Issued", "points", "issued", "count"),
        ("Redeemed", "points", "redeemed", "count"),
        ("Expired", "points", "expired", "count"),
        ("Outstanding", "points", "outstanding", "count"),
        ("Outstanding value", "points", "outstanding_value", "money"),
        ("Redemption rate", "points", "redemption_rate", "percent"),
    ],
}


def _kpi_tables(kpis: dict[str, Any], numbers: Numbers) -> list[Table]:
    tables = []
    for title, rows in KPIS.items():
        values = [
            (name, numbers.show(kind, (kpis.get(part) or {}).get(key)))
            for name, part, key, kind in rows
        ]
        tables.append(_pairs(title, values))
    tiers = kpis.get("tiers") or {}
    return [
        *tables,
        _counts("Tiers", tiers.get("distribution"), numbers),
        _migration(tiers.get("migration"), numbers),
        _counts("RFM segments", (kpis.get("rfm") or {}).get("segments"), numbers),
        *_surveys(kpis.get("surveys"), numbers),
    ]


def _surveys(surveys: dict[str, Any] | None, numbers: Numbers) -> list[Table]:
    """Each kind's score with its interval and answers, then the unhappy answers to
    follow up: their count and the latest few, without comments (a terminal is often
    shared or logged; the JSON and HTML report carry them)."""
    table = _table("Surveys", "", "Score", "95 % interval", "Answers", "Response rate")
    if not has_surveys(surveys):
        table.add_row("no survey answers yet", DASH, DASH, DASH, DASH)
        return [table]
    for row in survey_rows(surveys, numbers):
        table.add_row(row.name, row.score, row.interval, row.responses, row.response_rate)
    table.caption = clicks_line(surveys, numbers)
    table.caption_justify = "left"
    detractors = (surveys or {}).get("detractors") or []
    return [table, _follow_up(detractors, numbers)] if detractors else [table]


def _follow_up(detractors: list[dict[str, Any]], numbers: Numbers) -> Table:
    """The latest unhappy answers: who, which campaign, what they answered, when."""
    table = Table(
        title=f"Detractors to follow up: {numbers.count(len(detractors))}",
        title_justify="left",
        title_style="bold",
    )
    for header in ("Customer", "Campaign", "Answer", "Day"):
        table.add_column(header, no_wrap=header in ("Answer", "Day"))
    for answer in latest(detractors, TEXT_DETRACTORS):
        table.add_row(
            Text(str(answer.get("customer_id", DASH))),  # ids from the shop: never markup
            Text(str(answer.get("campaign", DASH))),
            kind_score(answer),
            answered_on(answer, numbers),
        )
    if len(detractors) > TEXT_DETRACTORS:
        more = numbers.count(len(detractors) - TEXT_DETRACTORS)
        table.caption = f"and {more} earlier: --format json lists all, with comments"
        table.caption_justify = "left"
    return table


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = _table(title, "", "")
    table.show_header = False
    for name, value in rows:
        table.add_row(name, value)
    return table


def _counts(title: str, counts: dict[str, int | None] | None, numbers: Numbers) -> Table:
    """Customers per tier or segment, with each one's share of the whole."""
    table = _table(title, "", "Customers", "Share")
    counts = counts or {}
    total = sum(value or 0 for value in counts.values())
    for name, value in counts.items():
        share = (value or 0) / total if total else None
        table.add_row(Text(label(name)), numbers.count(value), numbers.percent(share))
    if not counts:
        table.add_row("no data yet", DASH, DASH)
    return table


def _migration(matrix: dict[str, dict[str, int]] | None, numbers: Numbers) -> Table:
    """Where the customers of each tier at the start were at the end (rows: from)."""
    matrix = matrix or {}
    targets = list(dict.fromkeys(to for row in matrix.values() for to in (row or {})))
    table = _table("Tier migration (from → to)", "From", *(label(to) for to in targets))
    for origin, row in matrix.items():
        row = row or {}
        table.add_row(Text(label(origin)), *(numbers.count(row.get(to)) for to in targets))
    if not matrix:
        table.add_row("no data yet")
    return table
