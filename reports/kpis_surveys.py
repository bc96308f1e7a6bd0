"""The survey KPIs of a period: NPS, CSAT, CES and the Customer Loyalty Index.

Four read-only statements over the instants of the period's shop-local days: the answers
grouped by kind and score (the Customer Loyalty Index's other two answers too), a range of
`ix_survey_responses_answered`; the survey moments sent for the period's run dates, per
campaign; the survey links' clicks; and the unhappy answers, listed for follow-up. SQL
returns exact integer counts; every share, mean and interval is computed here from them,
so SQLite and PostgreSQL give the same JSON. Definitions and sources: docs/kpis.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from statistics import NormalDist
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select
from statsmodels.stats.proportion import proportion_confint

from shop.models import OutboxMessage, SurveyClick, SurveyResponse
from shop.surveys import SENT
from templates.surveys import CLI_QUESTIONS, SCALES
from triggers import post_purchase_survey

SURVEY_TRIGGER = post_purchase_survey.NAME  # its sent messages are the surveys asked
SLOTS = {"nps": "nps", "csat": "csat", "ces": "ces", "cli": "customer_loyalty_index"}
PROMOTER, DETRACTOR = 9, 6  # NPS: 9-10 promote, 0-6 detract (Reichheld 2003)
SATISFIED = 4  # CSAT: 4 and 5 of 5 are satisfied
UNHAPPY = {"nps": 6, "cli": 6, "csat": 2, "ces": 3}  # at or below: listed for follow-up
Z95 = NormalDist().inv_cdf(0.975)
SHARE_DIGITS = 4  # shares and means, as the other KPIs' rates
POINTS_DIGITS = 2  # NPS-style scores on -100..100: 0.01 point is a share's 4th digit

# (kind, score, buy_again, try_other): the last two only for the Customer Loyalty Index
Key = tuple[str, int, int | None, int | None]


@dataclass(frozen=True)
class FollowUp:
    """An unhappy answer: a detractor of NPS or of the loyalty index's first question, a
    dissatisfied CSAT (1-2), a hard CES (1-3)."""

    customer_id: str
    campaign: str
    kind: str
    score: int
    answered_at: datetime  # aware, UTC
    comment: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "campaign": self.campaign,
            "kind": self.kind,
            "score": self.score,
            "answered_at": self.answered_at.astimezone(UTC).isoformat(timespec="seconds"),
            "comment": self.comment,
        }


@dataclass(frozen=True)
class SurveyFacts:
    """What the statements found (exact), and which kind each campaign asks."""

    answers: dict[Key, int] = field(default_factory=dict)  # counts, only those above 0
    sent: dict[str, int] = field(default_factory=dict)  # campaign -> survey moments sent
    kinds: dict[str, str] = field(default_factory=dict)  # campaign -> kind its survey asks
    clicks: int = 0
    suspect_clicks: int = 0
    follow_up: tuple[FollowUp, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The report's `kpis.surveys`: one object per kind (null when the period neither
        sent nor received that kind), then the totals and the answers to follow up."""
        found: dict[str, Any] = {}
        for kind, slot in SLOTS.items():
            sent = sum(n for campaign, n in self.sent.items() if self.kinds.get(campaign) == kind)
            found[slot] = self._kind(kind, sent)
        responses = sum(n for key, n in self.answers.items() if _on_scale(key))
        sent = sum(self.sent.values())
        return {
            **found,
            "responses": responses,
            "sent": sent,
            "response_rate": _share(_ratio(responses, sent)),
            "clicks": self.clicks,
            "suspect_clicks": self.suspect_clicks,
            "detractors": [answer.as_json() for answer in self.follow_up],
        }

    def _kind(self, kind: str, sent: int) -> dict[str, Any] | None:
        keys = {key: n for key, n in self.answers.items() if key[0] == kind and _on_scale(key)}
        responses = sum(keys.values())
        if not responses and not sent:
            return None
        if kind == "cli":
            figures = loyalty_index(keys)
        else:
            counts = _by_score(keys)
            figures = {"nps": nps, "csat": csat, "ces": ces}[kind](counts)
        return {
            "responses": responses,
            **figures,
            "sent": sent,
            "response_rate": _share(_ratio(responses, sent)),
        }


def survey_facts(
    connection: Connection,
    start: date,
    end: date,
    *,
    tz: ZoneInfo,
    kinds: Mapping[str, str],
) -> SurveyFacts:
    """The answers and clicks of the instants of shop-local days [start, end] (in `tz`),
    and the survey moments sent for run dates [start, end]; `kinds`: campaign -> kind."""
    low, high = _instants(start, end, tz)
    clicks, suspect = _clicks(connection, low, high)
    return SurveyFacts(
        answers=_answers(connection, low, high),
        sent=_sent(connection, start, end),
        kinds=dict(kinds),
        clicks=clicks,
        suspect_clicks=suspect,
        follow_up=_follow_up(connection, low, high),
    )


def _instants(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[low, high): from the shop-local midnight starting `start` to the one after `end`."""
    low = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return low, high


def _answers(connection: Connection, low: datetime, high: datetime) -> dict[Key, int]:
    answer = SurveyResponse
    cli = answer.kind == "cli"
    again, other = (answer.scores[question].as_integer() for question in CLI_QUESTIONS[1:])
    # Grouped by labels of a subquery: PostgreSQL would not match the CASE of the GROUP
    # BY with the one of the SELECT, their bound parameters being numbered apart.
    rows = (
        select(
            answer.kind.label("kind"),
            answer.score.label("score"),
            case((cli, again)).label("again"),
            case((cli, other)).label("other"),
        )
        .where(answer.answered_at >= low, answer.answered_at < high)
        .subquery()
    )
    grouped = select(rows.c.kind, rows.c.score, rows.c.again, rows.c.other, func.count()).group_by(
        rows.c.kind, rows.c.score, rows.c.again, rows.c.other
    )
    return {
        (str(kind), int(score), _int(again), _int(other)): int(count)
        for kind, score, again, other, count in connection.execute(grouped)
    }


def _sent(connection: Connection, start: date, end: date) -> dict[str, int]:
    """Survey moments (campaign, customer, occasion) with a message sent, per campaign: a
    moment sent by email and by SMS asked once."""
    outbox = OutboxMessage
    moments = (
        select(outbox.campaign.label("campaign"))
        .where(
            outbox.run_date >= start,
            outbox.run_date <= end,
            outbox.trigger == SURVEY_TRIGGER,
            outbox.status == SENT,
        )
        .group_by(outbox.campaign, outbox.customer_id, outbox.occasion)
        .subquery()
    )
    query = select(moments.c.campaign, func.count()).group_by(moments.c.campaign)
    return {str(campaign): int(count) for campaign, count in connection.execute(query)}


def _clicks(connection: Connection, low: datetime, high: datetime) -> tuple[int, int]:
    click = SurveyClick
    total, suspect = connection.execute(
        select(func.count(), func.sum(case((click.suspect, 1), else_=0))).where(
            click.at >= low, click.at < high
        )
    ).one()
    return int(total or 0), int(suspect or 0)


def _follow_up(connection: Connection, low: datetime, high: datetime) -> tuple[FollowUp, ...]:
    answer = SurveyResponse
    query = (
        select(
            answer.customer_id,
            answer.campaign,
            answer.kind,
            answer.score,
            answer.answered_at,
            answer.comment,
        )
        .where(answer.answered_at >= low, answer.answered_at < high, _unhappy())
        .order_by(answer.answered_at, answer.campaign, answer.customer_id)
    )
    return tuple(FollowUp(*row) for row in connection.execute(query))


def _unhappy() -> ColumnElement[bool]:
    answer = SurveyResponse
    return or_(
        *(
            and_(answer.kind == kind, answer.score >= SCALES[kind].low, answer.score <= top)
            for kind, top in UNHAPPY.items()
        )
    )


# --- the figures, from the counts ----------------------------------------------------------


def nps(counts: Mapping[int, int]) -> dict[str, Any]:
    """Net Promoter Score: % promoters (9-10) - % detractors (0-6), on -100..100, with the
    adjusted-Wald 95 % interval (Rocks 2016: ¾ promoter and ¾ detractor added, n + 3)."""
    n = sum(counts.values())
    promoters = sum(c for score, c in counts.items() if score >= PROMOTER)
    detractors = sum(c for score, c in counts.items() if score <= DETRACTOR)
    return {
        "score": _points(_ratio(100 * (promoters - detractors), n)),
        "ci95": _nps_interval(promoters, detractors, n) if n else None,
        "promoters": promoters,
        "passives": n - promoters - detractors,
        "detractors": detractors,
        "distribution": _distribution("nps", counts),
    }


def csat(counts: Mapping[int, int]) -> dict[str, Any]:
    """Customer satisfaction: the share of 4 and 5 of 5, with its Wilson 95 % interval."""
    n = sum(counts.values())
    satisfied = sum(c for score, c in counts.items() if score >= SATISFIED)
    return {
        "score": _share(_ratio(satisfied, n)),
        "ci95": _wilson(satisfied, n) if n else None,
        "satisfied": satisfied,
        "distribution": _distribution("csat", counts),
    }


def ces(counts: Mapping[int, int]) -> dict[str, Any]:
    """Customer effort: the mean answer on 1 (very difficult) .. 7 (very easy), with its
    Student t 95 % interval (kept inside the scale)."""
    scale = SCALES["ces"]
    mean, interval = _mean_interval(counts, scale.low, scale.high)
    return {
        "score": _share(mean),
        "ci95": None if interval is None else [_share(bound) for bound in interval],
        "distribution": _distribution("ces", counts),
    }


def loyalty_index(answers: Mapping[Key, int]) -> dict[str, Any]:
    """Customer Loyalty Index: the mean of the three questions' NPS-style scores (recommend,
    buy again, try other products), on -100..100. Its interval is Student's t over each
    respondent's mean of +1 (9-10), 0 (7-8), -1 (0-6), which keeps the three answers of one
    person together. Answers without all three questions are left out of it."""
    complete = {key: n for key, n in answers.items() if key[2] is not None and key[3] is not None}
    per_person: dict[int, int] = {}  # 3 x the respondent's mean of ±1/0 -> respondents
    questions: list[dict[int, int]] = [{}, {}, {}]
    for (_, *scores), n in complete.items():
        thirds = sum(_net(score) for score in scores if score is not None)
        per_person[thirds] = per_person.get(thirds, 0) + n
        for tally, score in zip(questions, scores, strict=True):
            if score is not None:
                tally[score] = tally.get(score, 0) + n
    mean, interval = _mean_interval(per_person, -3, 3)
    return {
        "score": _points(None if mean is None else mean * Fraction(100, 3)),
        "ci95": None if interval is None else [_points(b * Fraction(100, 3)) for b in interval],
        "questions": {
            question: {
                "nps": nps(tally)["score"],
                "mean": _share(_ratio(sum(s * c for s, c in tally.items()), sum(tally.values()))),
            }
            for question, tally in zip(CLI_QUESTIONS, questions, strict=True)
        },
    }


def _net(score: int) -> int:
    return 1 if score >= PROMOTER else -1 if score <= DETRACTOR else 0


def _nps_interval(promoters: int, detractors: int, n: int) -> list[float | None]:
    adjusted = n + 3
    p = (promoters + 0.75) / adjusted
    d = (detractors + 0.75) / adjusted
    estimate = p - d
    half = Z95 * math.sqrt((p + d - estimate**2) / adjusted)
    low, high = max(-1.0, estimate - half), min(1.0, estimate + half)
    return [_points(low * 100), _points(high * 100)]


def _wilson(successes: int, n: int) -> list[float | None]:
    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return [_share(float(low)), _share(float(high))]


def _mean_interval(
    counts: Mapping[int, int], lowest: int, highest: int
) -> tuple[Fraction | None, tuple[float, float] | None]:
    """The exact mean of values with counts, and Student's t 95 % interval (none below 2
    answers), clipped to the values' range: at small n it reaches past the scale."""
    n = sum(counts.values())
    if not n:
        return None, None
    total = sum(value * c for value, c in counts.items())
    mean = Fraction(total, n)
    if n < 2:
        return mean, None
    squares = sum(value * value * c for value, c in counts.items())
    variance = (squares - total * mean) / (n - 1)  # exact: the sample variance
    from scipy.stats import t  # scipy is loaded by the campaign statistics already

    half = float(t.ppf(0.975, n - 1)) * math.sqrt(variance / n)
    return mean, (max(lowest, float(mean) - half), min(highest, float(mean) + half))


def _distribution(kind: str, counts: Mapping[int, int]) -> dict[str, int]:
    """Answers per score of the kind's scale, every score present (zeros too)."""
    return {str(score): counts.get(score, 0) for score in SCALES[kind].scores}


def _by_score(answers: Mapping[Key, int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for (_, score, _, _), n in answers.items():
        counts[score] = counts.get(score, 0) + n
    return counts


def _on_scale(key: Key) -> bool:
    """An answer inside its kind's scale (the answer page records no other)."""
    kind, *scores = key
    scale = SCALES.get(kind)
    return scale is not None and all(
        scale.low <= score <= scale.high for score in scores if score is not None
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _ratio(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(numerator, denominator) if denominator else None


def _share(value: Fraction | float | None) -> float | None:
    return None if value is None else _round(value, SHARE_DIGITS)


def _points(value: Fraction | float | None) -> float | None:
    return None if value is None else _round(value, POINTS_DIGITS)


def _round(value: Fraction | float, digits: int) -> float:
    """Half to even: exactly for a Fraction, as Python rounds a float otherwise."""
    if isinstance(value, Fraction):
        return float(round(value, digits))
    return round(value, digits)
