"""The report's text and HTML views: the sample, the edge cases, hostile names, and an HTML
page that stays self-contained and deterministic."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from reports import charts
from reports.formatting import Numbers
from reports.render_html import render_html
from reports.render_text import print_report
from tests.reports.report_sample import campaign, sample_report

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_DESCRIPTION = "{{7*7}} <img src=x onerror=alert(1)> [bold]x[/] $5 off $20"


def text(report: dict[str, Any]) -> str:
    out = io.StringIO()
    print_report(report, Console(file=out, width=220, color_system=None, highlight=False))
    return out.getvalue()


def null_campaign(name: str) -> dict[str, Any]:
    """A campaign where every figure is undefined: no recipients in either group."""
    empty = dict.fromkeys(
        ("n", "conversions", "conversion_rate", "revenue", "revenue_per_recipient", "messages")
    )
    return campaign(
        name,
        treated=empty,
        holdout=None,
        enough_data=False,
        minimum_detectable_effect=None,
        conversion_uplift=None,
        revenue_per_recipient_uplift=None,
        always_valid=None,
        incremental_revenue=None,
        message_costs=None,
        discounts_redeemed=None,
        incremental_margin=None,
        roi=None,
        daily=[],
        channels=[],
        trigger=None,
    )


def null_kpis() -> dict[str, Any]:
    return {
        "customers": None,
        "orders": None,
        "clv": None,
        "points": None,
        "points_daily": [],
        "tiers": None,
        "rfm": None,
        "surveys": None,
    }


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of <style> and <title>."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self.title = ""
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "title":
            self.title += data

    def named(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


# --- text ---------------------------------------------------------------------------------


def test_text_shows_the_campaign_results_and_the_kpis() -> None:
    shown = text(sample_report())
    for expected in (
        "Leal Demo Shop",
        "Nov 1, 2026 – Nov 30, 2026",
        "abandoned_cart",
        "120 (13.3%)",
        "900",
        "+8.3 pp",
        "+3.0 to +12.0 pp",
        "+167%",
        "0.004",
        "Positive uplift",
        "Inconclusive",
        "Negative uplift",
        "€9.72",
        "€4.10 to €15.00",
        "€8,748.00",
        "€3,222.70",
        "410%",
        "Not enough data yet: at today's sizes, only an uplift of ≥ 31.0 pp",
        "Retention rate",
        "95.0%",
        "€60.00",
        "Bronze",
        "Hibernating",
        "NPS",
        "+30 to +49",
        "70.0% to 87.3%",
        "Detractors to follow up: 8",
        "CSAT 2",
    ):
        assert expected in shown, expected


def test_text_lists_the_latest_detractors_without_their_comments() -> None:
    report = sample_report()
    shown = text(report)
    detractors = report["kpis"]["surveys"]["detractors"]  # oldest first
    assert all(d["customer_id"] in shown for d in detractors[3:])
    assert not any(d["customer_id"] in shown for d in detractors[:3])
    assert shown.index(detractors[-1]["customer_id"]) < shown.index(detractors[3]["customer_id"])
    assert "and 3 earlier" in shown
    assert not any(d["comment"] and d["comment"] in shown for d in detractors)


def test_text_in_an_80_column_terminal_keeps_every_name_and_interval() -> None:
    out = io.StringIO()
    report = sample_report()
    print_report(report, Console(file=out, width=80, color_system=None, highlight=False))
    shown = out.getvalue()
    for shown_campaign in report["campaigns"]:
        assert shown_campaign["name"] in shown
    assert "+3.0 to +12.0 pp" in shown and "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 80


def test_text_without_results_says_so() -> None:
    shown = text(sample_report(campaigns=False, kpis=False))
    assert "No campaign results in this period yet." in shown
    assert "No loyalty KPIs in this report." in shown


def test_text_prints_undefined_figures_as_dashes() -> None:
    report = sample_report()
    report["campaigns"] = [null_campaign("empty")]
    report["kpis"] = null_kpis()
    shown = text(report)
    assert "Not enough data yet" in shown and "MDE" not in shown
    assert "—" in shown


def test_text_prints_names_as_typed_not_as_markup() -> None:
    report = sample_report()
    report["campaigns"] = [campaign("[/]"), campaign("[bold]loud[/bold]")]
    shown = text(report)  # "[/]" as markup would raise MarkupError
    assert "[/]" in shown and "[bold]loud[/bold]" in shown


def test_numbers_follow_the_report_locale() -> None:
    german = Numbers("EUR", "de-DE")
    assert german.money(12345.5) == "12.345,50\xa0€"
    assert german.points(0.0833) == "+8,3 pp"
    assert Numbers("EUR", "not a locale").money(1) == "€1.00"  # falls back to English
    assert Numbers("EUR", "en").money(0.001, exact=True) == "€0.001"
    assert Numbers("EUR", "en").p_value(0.0001) == "< 0.001"


# --- HTML ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_html() -> str:
    return render_html(sample_report())


def test_html_shows_every_part_of_the_sample(sample_html: str) -> None:
    for expected in (
        "Leal Demo Shop",
        "Nov 1, 2026 – Nov 30, 2026",
        "Abandoned cart",
        "Positive uplift",
        "Inconclusive",
        "Negative uplift",
        "+8.3 pp",
        "€3,223",
        "410%",
        "only an uplift of ≥ 31.0 pp could be detected",
        "Retention rate",
        "Tier movement",
        "RFM segments",
        "Points flow",
        "€0.001",
    ):
        assert expected in sample_html, expected
    page = Page(sample_html)
    # both forest plots, one daily chart per campaign, points, tiers, RFM, NPS answers
    assert len(page.named("svg")) == 2 + 4 + 4
    assert "No survey answers yet." not in sample_html  # the sample has NPS, CSAT and CES
    for expected in ("+40", "95 %: +30 to +49", "80.0%", "5.3", "Detractors to follow up",
                     "The beans arrived stale.", "140 of 900 link clicks"):  # fmt: skip
        assert expected in sample_html, expected


def test_html_lists_the_25_latest_detractors_and_escapes_their_comments() -> None:
    report = sample_report()
    surveys = report["kpis"]["surveys"]
    surveys["detractors"] = [
        dict(surveys["detractors"][0], customer_id=f"D{n:03d}", comment=HOSTILE_DESCRIPTION,
             answered_at=f"2026-11-{1 + n // 2:02d}T1{n % 2}:00:00+00:00")
        for n in range(60)
    ]  # fmt: skip
    html = render_html(report)
    assert "D059" in html and "D035" in html and "D034" not in html
    assert html.index("D059") < html.index("D035")  # the newest first
    assert "the 25 most recent here" in html
    assert not Page(html).named("img")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_html_without_nps_answers_draws_no_nps_chart() -> None:
    report = sample_report()
    report["kpis"]["surveys"]["nps"] = None
    html = render_html(report)
    assert "Promoters (9–10)" not in html and "80.0%" in html  # CSAT is still there
    assert len(Page(html).named("svg")) == 2 + 4 + 3


def test_html_references_nothing_outside_the_file(sample_html: str) -> None:
    page = Page(sample_html)
    assert not page.named("script") and not page.named("link") and not page.named("iframe")
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name == "xmlns" or name.startswith("xmlns:"):
                continue  # a namespace is a name, never fetched
            assert "://" not in value and not value.strip().startswith("//"), (tag, name)
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
                assert value.startswith("#"), (tag, name, value)
    css = "".join(page.styles)
    assert "@import" not in css and "url(" not in css
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", sample_html)


def test_html_ids_are_unique_and_every_reference_resolves(sample_html: str) -> None:
    ids = [attrs["id"] for _, attrs in Page(sample_html).tags if "id" in attrs]
    assert len(ids) == len(set(ids))
    references = set(re.findall(r'(?:href="#|url\(#)([^")]+)', sample_html))
    assert references and references <= set(ids)


def test_html_escapes_hostile_names_and_descriptions() -> None:
    report = sample_report()
    report["shop"] = "</title><script>alert(2)</script>"
    report["campaigns"] = [
        campaign(HOSTILE_NAME, description=HOSTILE_DESCRIPTION),
        campaign("$5_off_$20"),
    ]
    html = render_html(report)
    page = Page(html)
    assert not page.named("script") and not page.named("img")
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert "<h3>&lt;script&gt;alert(1)&lt;/script&gt;</h3>" in html
    assert "&lt;script&gt;alert(1)&lt;/scr…</text>" in html  # the forest plot's label
    description = "{{7*7}} &lt;img src=x onerror=alert(1)&gt; [bold]x[/] $5 off $20"
    assert f'<p class="desc">{description}</p>' in html  # verbatim: nothing evaluated
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "$5 off $20" in svg  # a label, not mathtext
    assert page.title.startswith("</title><script>alert(2)</script>")  # text, not markup


def test_html_without_results_shows_notes_instead_of_charts() -> None:
    html = render_html(sample_report(campaigns=False, kpis=False))
    assert "No campaign results in this period yet." in html
    assert "No loyalty KPIs in this report." in html
    assert "<svg" not in html


def test_html_with_every_figure_undefined() -> None:
    report = sample_report()
    report["campaigns"] = [null_campaign("empty")]
    report["kpis"] = null_kpis()
    html = render_html(report)
    for note in (
        "No daily activity yet.",
        "No points activity yet.",
        "No tier data yet.",
        "No tier movement yet.",
        "No segments yet.",
        "No survey answers yet.",
    ):
        assert note in html, note
    assert "Not enough data yet" in html
    assert "No uplift to draw yet" in html  # a forest of empty rows says nothing


def test_charts_with_nothing_to_draw_return_none() -> None:
    numbers = Numbers("EUR", "en")
    zeros = [{"date": "2026-11-01", "messages": 0, "attributed_revenue": None}]
    assert charts.uplift_forest([], numbers) is None
    assert charts.daily_activity(zeros, numbers) is None
    assert charts.points_flow([{"date": "2026-11-01", "issued": None}], numbers) is None
    assert charts.share_bars({"gold": 0}, numbers) is None
    assert charts.share_bars(None, numbers, "rfm") is None
    assert charts.nps_distribution({"0": 0, "10": None}, numbers) is None
    assert charts.nps_distribution(None, numbers) is None


def test_html_is_the_same_for_the_same_report(sample_html: str) -> None:
    assert render_html(sample_report()) == sample_html
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from reports.render_html import render_html; "
            "from tests.reports.report_sample import sample_report; "
            "sys.stdout.write(render_html(sample_report()))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert fresh.stdout == sample_html  # no salt, date or id drawn from the process


def test_importing_the_views_does_not_import_matplotlib() -> None:
    probe = (
        "import sys, reports.render_html, reports.render_text; print('matplotlib' in sys.modules)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert found.stdout.strip() == "False"


def test_views_accept_decimal_figures() -> None:
    """PostgreSQL's SUM gives Decimal; a report built on it must still render."""
    report = sample_report()
    kpis = report["kpis"]
    kpis["rfm"]["segments"] = {k: Decimal(v) for k, v in kpis["rfm"]["segments"].items()}
    kpis["orders"]["revenue"] = Decimal("120000.00")
    report["campaigns"][0]["incremental_margin"] = Decimal("3222.70")
    assert "€120,000" in render_html(report)
    assert "€120,000.00" in text(report)
