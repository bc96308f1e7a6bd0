"""How the report's survey figures read, shared by the terminal and the HTML page.

`kpis.surveys` (reports.kpis_surveys) holds one object per kind, or null; a view shows a
row per kind that has one. NPS and the loyalty index are points on -100..100, shown whole
and signed ("+42") as every NPS tool does; CSAT is a share; CES a mean on 1-7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel.numbers import format_decimal

from reports.formatting import DASH, Numbers

SURVEYS = {"nps": "NPS", "csat": "CSAT", "ces": "CES", "customer_loyalty_index": "Loyalty index"}
KIND_NAMES = {"nps": "NPS", "csat": "CSAT", "ces": "CES", "cli": "Loyalty index"}
HINTS = {
    "nps": "% promoters (9–10) − % detractors (0–6)",
    "csat": "share answering 4 or 5 of 5",
    "ces": "mean ease, 1 (hard) to 7 (easy)",
    "customer_loyalty_index": "recommend, buy again, try more",
}


@dataclass(frozen=True)
class SurveyRow:
    key: str
    name: str
    score: str
    interval: str
    responses: str
    response_rate: str
    hint: str


def survey_rows(surveys: dict[str, Any] | None, numbers: Numbers) -> list[SurveyRow]:
    """One row per kind the period sent or received."""
    rows = []
    for key, name in SURVEYS.items():
        found = (surveys or {}).get(key)
        if not found:
            continue
        bounds = found.get("ci95")
        interval = DASH
        if bounds:
            interval = f"{_figure(key, bounds[0], numbers)} to {_figure(key, bounds[1], numbers)}"
        rows.append(
            SurveyRow(
                key=key,
                name=name,
                score=_figure(key, found.get("score"), numbers),
                interval=interval,
                responses=numbers.count(found.get("responses")),
                response_rate=numbers.percent(found.get("response_rate")),
                hint=HINTS[key],
            )
        )
    return rows


def _figure(key: str, value: float | None, numbers: Numbers) -> str:
    if value is None:
        return DASH
    if key == "csat":
        return numbers.percent(value)
    if key == "ces":
        return numbers.decimal(value, 1)
    return str(format_decimal(round(value), "+#,##0;-#,##0", locale=numbers.locale))


def answered_on(answer: dict[str, Any], numbers: Numbers) -> str:
    """The day of an answer (`answered_at` is UTC)."""
    at = answer.get("answered_at")
    return numbers.day(str(at)[:10]) if at else DASH


def kind_score(answer: dict[str, Any]) -> str:
    """ "NPS 3": the answer's kind and score."""
    kind = str(answer.get("kind") or "")
    return f"{KIND_NAMES.get(kind, kind.upper())} {answer.get('score', DASH)}"


def clicks_line(surveys: dict[str, Any] | None, numbers: Numbers) -> str:
    """Answers to surveys sent, and the suspect link clicks, in one line."""
    surveys = surveys or {}
    return (
        f"{numbers.count(surveys.get('responses'))} answers to "
        f"{numbers.count(surveys.get('sent'))} surveys sent "
        f"({numbers.percent(surveys.get('response_rate'))}); "
        f"{numbers.count(surveys.get('suspect_clicks'))} of "
        f"{numbers.count(surveys.get('clicks'))} link clicks looked like a scanner"
    )


def has_surveys(surveys: dict[str, Any] | None) -> bool:
    """Anything to show: a kind sent or answered in the period."""
    return any((surveys or {}).get(key) for key in SURVEYS)


def latest(detractors: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The `count` most recent answers, newest first (the JSON lists them oldest first):
    the ones still worth a call."""
    return sorted(detractors, key=lambda answer: str(answer.get("answered_at")), reverse=True)[
        :count
    ]
