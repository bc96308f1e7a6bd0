"""review_request: a customer answered a survey as a promoter; ask them for a review.

Rule: a survey answer (`survey_responses`) of one of `kinds` (default NPS and the Customer
Loyalty Index, whose first question is "would you recommend us?") first submitted in
(previous run, T], whose score at T is at least `min_score` (default 9: an NPS promoter).
A person who changes their answer later keeps the moment of their first submit, judged by
the score they left. Once per answer: the occasion is `review:<answer id>`, so every
survey a promoter answers can lead to one request, and the contact budget and cooldowns
of the survey campaign keep them rare.

Cost: a range on `ix_survey_responses_answered (answered_at, kind, score)`, which covers it.
"""

from __future__ import annotations

from pydantic import Field, field_validator
from sqlalchemy import String, cast, select

from campaigns.config import SurveyKind
from shop.models import SurveyResponse
from triggers.base import CandidateQuery, Params, RunContext, Trigger

PROMOTER_KINDS: tuple[SurveyKind, ...] = ("nps", "cli")


class ReviewRequestParams(Params):
    min_score: int = Field(9, ge=0, le=10)
    kinds: list[SurveyKind] = Field(default_factory=lambda: list(PROMOTER_KINDS), min_length=1)

    @field_validator("kinds")
    @classmethod
    def _no_repeated_kind(cls, kinds: list[SurveyKind]) -> list[SurveyKind]:
        if len(set(kinds)) != len(kinds):
            raise ValueError("a kind is listed twice")
        return kinds


def candidates(params: ReviewRequestParams, run: RunContext) -> CandidateQuery:
    answer = SurveyResponse
    return select(
        answer.customer_id.label("customer_id"),
        ("review:" + cast(answer.id, String())).label("occasion"),
        answer.campaign.label("survey_campaign"),
        answer.occasion.label("survey_occasion"),
        answer.score.label("score"),
    ).where(
        answer.answered_at > run.previous_run_at,
        answer.answered_at <= run.at,
        answer.kind.in_(params.kinds),
        answer.score >= params.min_score,
    )


TRIGGER = Trigger(
    name="review_request",
    params=ReviewRequestParams,
    candidates=candidates,
    summary="a customer answered a survey as a promoter: ask for a review",
)
