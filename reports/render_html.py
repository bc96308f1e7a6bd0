"""`leal report --format html`: the report object (reports.build) as one self-contained page.

The page opens offline and fetches nothing: CSS inline, charts inline SVG (reports.charts),
no script at all, and a Content-Security-Policy that forbids loading anything should a
future edit slip a URL in. Everything from the data is escaped by Jinja's autoescape;
only the chart SVG, which matplotlib escapes itself, goes in as markup.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, StrictUndefined, Template
from markupsafe import Markup

from reports import charts
from reports.formatting import Numbers, label, not_enough_data, verdict
from reports.render_surveys import (
    answered_on,
    clicks_line,
    has_surveys,
    kind_score,
    latest,
    survey_rows,
)

HTML_DETRACTORS = 25  # rows on the page, the most recent; the JSON lists every one


def render_html(report: dict[str, Any]) -> str:
    """The whole page; the same report gives the same bytes."""
    numbers = Numbers(report.get("currency") or "EUR", report.get("locale") or "en")
    campaigns = report.get("campaigns") or []
    period = report["period"]
    context = {
        "lang": numbers.locale.language,
        "shop": report.get("shop") or "Leal",
        "period": f"{numbers.day(period['from'])} – {numbers.day(period['to'])}",
        "generated": numbers.moment(report["generated_at"]) if report.get("generated_at") else "",
        "settings": _settings(report.get("settings") or {}, numbers),
        "summary": _summary(campaigns, numbers),
        "forest": _svg(charts.uplift_forest(campaigns, numbers), "fw"),
        "forest_narrow": _svg(charts.uplift_forest(campaigns, numbers, width=3.6), "fn"),
        "campaigns": [_card(c, numbers, index) for index, c in enumerate(campaigns)],
        "kpis": _kpis(report.get("kpis"), numbers),
    }
    return _template().render(context)


@cache
def _template() -> Template:
    environment = Environment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    source = files("reports").joinpath("report.html.j2").read_text(encoding="utf-8")
    return environment.from_string(source)


def _svg(svg: str | None, prefix: str) -> Markup | None:
    """A chart as markup: matplotlib escapes the text it writes (campaign names included)."""
    return None if svg is None else Markup(charts.scoped(svg, prefix))  # noqa: S704


def _settings(settings: dict[str, Any], numbers: Numbers) -> list[tuple[str, str]]:
    return [
        ("Gross margin", numbers.percent(settings.get("gross_margin"), 0)),
        ("Cost per email", numbers.money(settings.get("cost_per_email"), exact=True)),
        ("Cost per SMS", numbers.money(settings.get("cost_per_sms"), exact=True)),
        ("Global holdout", numbers.percent(_share(settings.get("global_holdout_percent")), 0)),
    ]


def _share(percent: float | None) -> float | None:
    return None if percent is None else percent / 100


def _total(campaigns: list[dict[str, Any]], key: str) -> float | None:
    values = [float(c[key]) for c in campaigns if c.get(key) is not None]
    return sum(values) if values else None


def _summary(campaigns: list[dict[str, Any]], numbers: Numbers) -> list[dict[str, str]]:
    """The tiles above the campaign cards: what all campaigns did together."""
    if not campaigns:
        return []
    tones = [verdict(c)[0] for c in campaigns]
    messages = sum((c.get("treated") or {}).get("messages") or 0 for c in campaigns)
    recipients = sum((c.get("treated") or {}).get("n") or 0 for c in campaigns)
    return [
        _tile(
            "Incremental margin",
            numbers.money(_total(campaigns, "incremental_margin"), whole=True),
            "after discounts and message costs",
        ),
        _tile(
            "Incremental revenue",
            numbers.money(_total(campaigns, "incremental_revenue"), whole=True),
            "beyond what the holdout groups bought",
        ),
        _tile(
            "Working campaigns",
            f"{tones.count('positive')} of {len(campaigns)}",
            f"{tones.count('waiting')} still gathering data",
        ),
        _tile(
            "Messages sent", numbers.count(messages), f"to {numbers.count(recipients)} recipients"
        ),
    ]


def _tile(title: str, value: str, note: str = "", tone: str = "") -> dict[str, str]:
    return {"title": title, "value": value, "note": note, "tone": tone}


def _card(campaign: dict[str, Any], numbers: Numbers, index: int) -> dict[str, Any]:
    tone, badge = verdict(campaign)
    return {
        "name": str(campaign.get("name", "")),
        "title": label(campaign.get("name", "")),
        "description": campaign.get("description") or "",
        "facts": _facts(campaign, numbers),
        "paused": campaign.get("enabled") is False,
        "tone": tone,
        "badge": badge,
        "waiting": not_enough_data(campaign, numbers) if tone == "waiting" else "",
        "headline": _headline(campaign, numbers, tone),
        "arms": [
            _arm("Treated", campaign.get("treated"), numbers),
            _arm("Holdout", campaign.get("holdout"), numbers),
        ],
        "details": _details(campaign, numbers),
        "daily": _svg(charts.daily_activity(campaign.get("daily") or [], numbers), f"d{index}"),
    }


def _headline(campaign: dict[str, Any], numbers: Numbers, tone: str) -> list[dict[str, str]]:
    """The three figures a marketer reads first: did it work, what did it earn, per euro."""
    uplift = campaign.get("conversion_uplift") or {}
    margin = campaign.get("incremental_margin")
    revenue = numbers.money(campaign.get("incremental_revenue"), whole=True)
    return [
        _tile(
            "Uplift",
            numbers.points(uplift.get("estimate")),
            f"95 %: {numbers.interval(uplift.get('ci95'))}",
            tone,
        ),
        _tile(
            "Margin",
            numbers.money(margin, whole=True),
            f"revenue effect {revenue}",
            tone if tone in ("positive", "negative") else "",
        ),
        _tile("ROI", numbers.percent(campaign.get("roi"), 0), "margin per unit spent"),
    ]


def _details(campaign: dict[str, Any], numbers: Numbers) -> list[tuple[str, str]]:
    uplift = campaign.get("conversion_uplift") or {}
    revenue = campaign.get("revenue_per_recipient_uplift") or {}
    always_valid = campaign.get("always_valid") or {}
    return [
        ("Relative lift", numbers.percent(uplift.get("relative_lift"), 0, signed=True)),
        ("p-value", numbers.p_value(uplift.get("p_value"))),
        ("Always-valid interval", numbers.interval(always_valid.get("ci95"))),
        ("Always-valid p-value", numbers.p_value(always_valid.get("p_value"))),
        ("Revenue per customer uplift", numbers.money(revenue.get("estimate"))),
        ("Its 95 % interval", numbers.interval(revenue.get("ci95"), money=True)),
        ("Discounts redeemed", numbers.money(campaign.get("discounts_redeemed"))),
        ("Message costs", numbers.money(campaign.get("message_costs"))),
    ]


def _facts(campaign: dict[str, Any], numbers: Numbers) -> list[str]:
    facts = [
        " + ".join(str(c).upper() if c == "sms" else str(c) for c in campaign.get("channels") or [])
    ]
    if campaign.get("trigger"):
        facts.append(f"trigger {label(campaign['trigger']).lower()}")
    if campaign.get("holdout_percent") is not None:
        facts.append(f"{numbers.percent(campaign['holdout_percent'] / 100, 0)} holdout")
    if campaign.get("attribution_days") is not None:
        facts.append(f"{campaign['attribution_days']}-day attribution")
    return [fact for fact in facts if fact]


def _arm(name: str, arm: dict[str, Any] | None, numbers: Numbers) -> list[str]:
    arm = arm or {}
    return [
        name,
        numbers.count(arm.get("n")),
        numbers.count(arm.get("conversions")),
        numbers.percent(arm.get("conversion_rate")),
        numbers.money(arm.get("revenue_per_recipient")),
    ]


def _kpis(kpis: dict[str, Any] | None, numbers: Numbers) -> dict[str, Any] | None:
    if kpis is None:
        return None
    customers, orders = kpis.get("customers") or {}, kpis.get("orders") or {}
    points, clv = kpis.get("points") or {}, kpis.get("clv") or {}
    money, count, percent = numbers.money, numbers.count, numbers.percent
    tiers = kpis.get("tiers") or {}
    return {
        "tiles": [
            _tile(
                "Customers",
                count(customers.get("at_end")),
                f"{count(customers.get('new'))} new · {count(customers.get('at_start'))} at start",
            ),
            _tile(
                "Retention rate",
                percent(customers.get("retention_rate")),
                f"churn {percent(customers.get('churn_rate'))}",
            ),
            _tile(
                "Repeat purchase rate",
                percent(orders.get("repeat_purchase_rate")),
                f"{numbers.decimal(orders.get('purchase_frequency'), 2)} orders per customer",
            ),
            _tile(
                "Average order value",
                money(orders.get("average_order_value")),
                f"{count(orders.get('count'))} orders · {money(orders.get('revenue'), whole=True)}",
            ),
            _tile(
                "Customer lifetime value",
                money(clv.get("historic"), whole=True),
                f"{money(clv.get('historic_margin'), whole=True)} in margin",
            ),
            _tile(
                "Upsell ratio",
                percent(orders.get("upsell_ratio")),
                "orders above the customer's usual",
            ),
        ],
        "points": [
            _tile(
                "Outstanding value",
                money(points.get("outstanding_value"), whole=True),
                f"{count(points.get('outstanding'))} points unspent",
            ),
            _tile(
                "Redemption rate",
                percent(points.get("redemption_rate")),
                f"{count(points.get('redeemed'))} redeemed of {count(points.get('issued'))} issued",
            ),
            _tile("Expired", count(points.get("expired")), "points this period"),
        ],
        "points_chart": _svg(charts.points_flow(kpis.get("points_daily") or [], numbers), "pf"),
        "tiers_chart": _svg(charts.share_bars(tiers.get("distribution"), numbers), "tb"),
        "migration": _migration(tiers.get("migration"), numbers),
        "rfm_chart": _svg(
            charts.share_bars((kpis.get("rfm") or {}).get("segments"), numbers, "rfm"), "rfm"
        ),
        "surveys": _surveys(kpis.get("surveys"), numbers),
    }


def _surveys(surveys: dict[str, Any] | None, numbers: Numbers) -> dict[str, Any] | None:
    """A tile per kind, the NPS answers as bars, and the unhappy answers to follow up, the
    most recent first."""
    if not has_surveys(surveys):
        return None
    surveys = surveys or {}
    detractors = surveys.get("detractors") or []
    rows = survey_rows(surveys, numbers)
    return {
        "tiles": [
            _tile(row.name, row.score, f"95 %: {row.interval}")
            | {"detail": f"{row.responses} answers · {row.response_rate} of those asked"}
            for row in rows
        ],
        "hints": " · ".join(f"{row.name}: {row.hint}" for row in rows),
        "summary": clicks_line(surveys, numbers),
        "nps_chart": _svg(
            charts.nps_distribution((surveys.get("nps") or {}).get("distribution"), numbers), "nps"
        ),
        "detractors": [
            {
                "customer": str(answer.get("customer_id") or ""),
                "campaign": str(answer.get("campaign") or ""),
                "answer": kind_score(answer),
                "day": answered_on(answer, numbers),
                "comment": answer.get("comment") or "",
            }
            for answer in latest(detractors, HTML_DETRACTORS)
        ],
        "detractors_total": numbers.count(len(detractors)),
        "shown": HTML_DETRACTORS,
        "has_more": len(detractors) > HTML_DETRACTORS,
    }


def _migration(matrix: dict[str, dict[str, int | None]] | None, numbers: Numbers) -> dict[str, Any]:
    """The tier matrix as a heat map: each cell shaded by its share of its row."""
    matrix = matrix or {}
    targets = list(dict.fromkeys(to for row in matrix.values() for to in (row or {})))
    rows = []
    for origin, row in matrix.items():
        row = row or {}
        total = sum(value or 0 for value in row.values())
        cells = []
        for target in targets:
            value = row.get(target)
            share = (value or 0) / total if total else 0.0
            cells.append(
                {
                    "value": numbers.count(value),
                    "share": numbers.percent(share, 0),
                    "alpha": f"{share:.2f}",
                    "dark": share > 0.55,  # white text where the shade is deep
                    "stay": target == origin,
                }
            )
        rows.append({"name": label(origin), "cells": cells})
    return {"targets": [label(t) for t in targets], "rows": rows}
