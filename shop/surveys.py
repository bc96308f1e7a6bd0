"""Survey answers and clicks on survey links (docs/surveys.md).

A survey moment is (campaign, customer, occasion): one message Leal sent that asks the
campaign's survey. Only such a moment is answered or clicked: the moment must be in the
outbox as a sent message of a campaign whose settings still hold a `survey`, so a token for
a moment Leal never sent records nothing.

- `record_click`: a GET of a survey link (`survey_clicks`). Never an answer: security
  scanners open every link of an email seconds after delivery. A click less than
  `[surveys] scanner_seconds` after the message was sent, or on the honeypot link that no
  person sees, is `suspect`.
- `record_answer`: the answer page's POST (`survey_responses`). One row per moment: a later
  submit updates the scores (and the comment when one is given), keeps `answered_at`. When
  `[loyalty] actions` names `survey_answered`, the first answer books its points once
  (shop.interactions, interaction id `survey:<response id>`).
- `export_rows`: the answers of a period, for `leal surveys export`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import Connection, func, insert, select

from campaigns.config import Settings, Survey
from shop.interactions import book_interaction
from shop.models import Customer, OutboxMessage, SurveyClick, SurveyResponse
from shop.sql import upsert_insert
from templates.surveys import CLI_QUESTIONS, SCALES

SENT = "sent"  # workers.ledger's state of a message handed to the provider
ACTION = "survey_answered"  # the [loyalty.actions] name of answering a survey
INTERACTION_PREFIX = "survey:"
MAX_COMMENT = 2000  # characters; the column's length
MAX_LOCALE = 16
Link = Literal["score", "honeypot"]  # survey_clicks.link
SCORE: Link = "score"
HONEYPOT: Link = "honeypot"
# Kept in a comment: line breaks and tabs. Every other control character (NUL, escape
# sequences, C1 controls) is dropped: a comment is text a person typed.
_KEPT_CONTROLS = frozenset("\n\t")
EXPORT_COLUMNS = ("answered_at", "updated_at", "campaign", "customer_id", "occasion", "kind",
                  "score", "scores", "comment", "locale")  # fmt: skip


class SurveyError(ValueError):
    """An answer Leal does not record (a score off the scale, a comment too long…)."""


class UnknownMomentError(SurveyError):
    """Not a survey moment Leal sent: no sent message of a campaign with a survey."""


class SurveyClosedError(UnknownMomentError):
    """The campaign is no longer in the settings, or no longer asks a survey."""


class ErasedCustomerError(SurveyError):
    """The moment's customer was erased: nothing more is recorded about them."""


class ScoreError(SurveyError):
    """A score missing, or off the kind's scale."""


class CommentTooLongError(SurveyError):
    """A comment over MAX_COMMENT characters."""


class CommentNotTextError(SurveyError):
    """A comment that is not text (a lone surrogate cannot be stored)."""


class Moment(Protocol):
    """What names a survey moment (templates.links.SurveyMoment is one)."""

    @property
    def customer_id(self) -> str: ...
    @property
    def campaign(self) -> str: ...
    @property
    def occasion(self) -> str: ...


@dataclass(frozen=True)
class SurveyMomentFound:
    """A moment Leal sent with a survey: what the answer page needs."""

    campaign: str
    customer_id: str
    occasion: str
    survey: Survey
    locale: str | None  # the customer's
    sent_at: tuple[datetime, ...]  # every channel's send, oldest first


@dataclass(frozen=True)
class Click:
    link: str
    score: int | None
    seconds_after_send: int | None
    suspect: bool


@dataclass(frozen=True)
class Answer:
    """A `survey_responses` row after a submit; `points_booked` when this submit booked
    the `survey_answered` points."""

    id: int
    campaign: str
    customer_id: str
    occasion: str
    kind: str
    score: int
    scores: dict[str, int]
    comment: str | None
    locale: str | None
    answered_at: datetime
    updated_at: datetime
    points_booked: bool


def find_moment(
    connection: Connection, settings: Settings, campaign: str, customer_id: str, occasion: str
) -> SurveyMomentFound:
    """The survey moment (campaign, customer, occasion); SurveyClosedError when the campaign
    asks no survey any more, UnknownMomentError when Leal never sent it, ErasedCustomerError
    when its customer was erased."""
    setup = settings.campaigns.get(campaign)
    if setup is None or setup.survey is None:
        raise SurveyClosedError(f"campaign {campaign!r} asks no survey")
    outbox = OutboxMessage
    sent = connection.execute(
        select(outbox.sent_at).where(
            outbox.campaign == campaign,
            outbox.customer_id == customer_id,
            outbox.occasion == occasion,
            outbox.status == SENT,
            outbox.sent_at.is_not(None),
        )
    ).scalars()
    sent_at = tuple(sorted(instant for instant in sent if instant is not None))
    if not sent_at:
        raise UnknownMomentError("Leal sent no message for this survey moment")
    customer = connection.execute(
        select(Customer.locale, Customer.erased_at).where(Customer.id == customer_id)
    ).first()
    if customer is None or customer.erased_at is not None:
        raise ErasedCustomerError("the customer was erased")
    return SurveyMomentFound(campaign, customer_id, occasion, setup.survey, customer.locale,
                             sent_at)  # fmt: skip


def record_click(
    connection: Connection,
    settings: Settings,
    moment: Moment,
    link: Link,
    score: int | None,
    at: datetime,
    *,
    found: SurveyMomentFound | None = None,
) -> Click:
    """Store a GET of the moment's survey link (`link` 'score' with the link's score, or
    'honeypot'); it is suspect on the honeypot or less than `[surveys] scanner_seconds`
    after the latest send before it (or before any send: no person reads a message
    Leal had not yet recorded as sent). `found`: the moment as find_moment already found
    it in this transaction (it is not looked up again)."""
    if found is None:
        found = find_moment(connection, settings, moment.campaign, moment.customer_id,
                            moment.occasion)  # fmt: skip
    seconds = _seconds_after_send(found.sent_at, at)
    scanner = seconds is None or seconds < settings.surveys.scanner_seconds
    click = Click(link, score if link == SCORE else None, seconds, link == HONEYPOT or scanner)
    connection.execute(
        insert(SurveyClick),
        {
            "campaign": found.campaign,
            "customer_id": found.customer_id,
            "occasion": found.occasion,
            "at": at,
            "link": click.link,
            "score": click.score,
            "seconds_after_send": click.seconds_after_send,
            "suspect": click.suspect,
        },
    )
    return click


def _seconds_after_send(sent_at: tuple[datetime, ...], at: datetime) -> int | None:
    """Whole seconds from the latest send at or before `at` (the message the click came
    from, when the moment went out on two channels); None when every send is after it."""
    before = [instant for instant in sent_at if instant <= at]
    if not before:
        return None
    return int((at - max(before)).total_seconds())


def record_answer(
    connection: Connection,
    settings: Settings,
    *,
    campaign: str,
    customer_id: str,
    occasion: str,
    kind: str,
    score: int,
    scores: Mapping[str, int] | None,
    comment: str | None,
    locale: str | None,
    at: datetime,
    found: SurveyMomentFound | None = None,
) -> Answer:
    """Store the moment's answer: the first submit inserts it, a later one updates score,
    scores, comment (when one is given) and updated_at, and keeps answered_at. SurveyError
    (or a subclass) when the moment or the answer is not one Leal records. `found`: the
    moment as find_moment already found it in this transaction (it is not looked up again)."""
    if found is None:
        found = find_moment(connection, settings, campaign, customer_id, occasion)
    if kind != found.survey.kind:
        raise ScoreError(f"campaign {campaign!r} asks a {found.survey.kind} survey, not {kind}")
    score, checked = checked_scores(kind, score, scores)
    text = clean_comment(comment) if found.survey.comment else None
    existing = connection.scalar(select(SurveyResponse.id).where(*_moment_is(found)))
    row = _upsert(connection, found, kind, score, checked, text, _clean_locale(locale), at)
    booked = False
    if existing is None and ACTION in settings.loyalty.actions:
        # Once: the interaction id is the answer's, so a concurrent first submit that lost
        # the insert race books nothing a second time.
        booked = book_interaction(
            connection, settings.loyalty, settings.shop.tz,
            interaction_id=f"{INTERACTION_PREFIX}{row.id}", customer_id=customer_id,
            action=ACTION, at=row.answered_at,
        )  # fmt: skip
    return Answer(
        id=row.id, campaign=campaign, customer_id=customer_id, occasion=occasion, kind=kind,
        score=row.score, scores=dict(row.scores), comment=row.comment, locale=row.locale,
        answered_at=row.answered_at, updated_at=row.updated_at, points_booked=booked,
    )  # fmt: skip


def _moment_is(found: SurveyMomentFound) -> tuple[Any, ...]:
    answer = SurveyResponse
    return (answer.campaign == found.campaign, answer.customer_id == found.customer_id,
            answer.occasion == found.occasion)  # fmt: skip


def _upsert(
    connection: Connection,
    found: SurveyMomentFound,
    kind: str,
    score: int,
    scores: dict[str, int],
    comment: str | None,
    locale: str | None,
    at: datetime,
) -> Any:
    """INSERT … ON CONFLICT on uq_survey_responses_moment: one row per moment."""
    table = SurveyResponse.__table__
    upsert = upsert_insert(connection, SurveyResponse)
    new = upsert.excluded
    statement = upsert.on_conflict_do_update(
        index_elements=["campaign", "customer_id", "occasion"],
        set_={
            "score": new.score,
            "scores": new.scores,
            # a resubmit without a comment (another score clicked in the email) keeps it
            "comment": func.coalesce(new.comment, table.c.comment),
            "locale": func.coalesce(new.locale, table.c.locale),
            "updated_at": new.updated_at,
        },
    ).returning(table.c.id, table.c.score, table.c.scores, table.c.comment, table.c.locale,
                table.c.answered_at, table.c.updated_at)  # fmt: skip
    values = {
        "campaign": found.campaign, "customer_id": found.customer_id,
        "occasion": found.occasion, "kind": kind, "score": score, "scores": scores,
        "comment": comment, "locale": locale, "answered_at": at, "updated_at": at,
    }  # fmt: skip
    return connection.execute(statement, values).one()


def checked_scores(
    kind: str, score: int, scores: Mapping[str, int] | None
) -> tuple[int, dict[str, int]]:
    """The answer's score and every question's, on the kind's scale; SurveyError otherwise.
    A single-question kind stores `{kind: score}`; the Customer Loyalty Index needs its
    three questions, the first of which ('recommend') is the score."""
    scale = SCALES.get(kind)
    if scale is None:
        raise ScoreError(f"unknown survey kind {kind!r}")
    if kind != "cli":
        if scores and dict(scores) != {kind: score}:
            raise ScoreError(f"a {kind} answer has one score")
        every = {kind: score}
    else:
        every = dict(scores or {})
        if set(every) != set(CLI_QUESTIONS):
            raise ScoreError(f"the loyalty index needs {', '.join(CLI_QUESTIONS)}")
        if every[CLI_QUESTIONS[0]] != score:
            raise ScoreError("the loyalty index's score is its first question's")
    for question, value in every.items():
        # bool is an int: True is no score
        if isinstance(value, bool) or not isinstance(value, int) or value not in scale.scores:
            raise ScoreError(f"{question}: a score from {scale.low} to {scale.high}")
    return score, every


def clean_comment(comment: str | None) -> str | None:
    """The comment as stored: line breaks normalised, control characters dropped, blanks
    trimmed; None when nothing is left. SurveyError when it is over MAX_COMMENT characters
    or is not text (a lone surrogate cannot be stored)."""
    if comment is None:
        return None
    try:
        comment.encode("utf-8")
    except UnicodeEncodeError:
        raise CommentNotTextError("the comment is not valid text") from None
    text = comment.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(
        char for char in text if char in _KEPT_CONTROLS or unicodedata.category(char) != "Cc"
    ).strip()
    if len(text) > MAX_COMMENT:
        raise CommentTooLongError(f"the comment is over {MAX_COMMENT} characters")
    return text or None


def _clean_locale(locale: str | None) -> str | None:
    text = (locale or "").strip()
    if not text or len(text) > MAX_LOCALE or not text.replace("-", "").replace("_", "").isalnum():
        return None
    return text


def export_rows(
    connection: Connection,
    since: datetime | None,
    until: datetime | None,
    campaign: str | None,
) -> Iterator[dict[str, Any]]:
    """The answers first submitted in [since, until) (either end open when None), of one
    campaign or all, oldest first: one dict per answer with EXPORT_COLUMNS. An erased
    customer's answers have no comment (shop.privacy)."""
    answer = SurveyResponse
    query = select(*(getattr(answer, column) for column in EXPORT_COLUMNS))
    if since is not None:
        query = query.where(answer.answered_at >= since)
    if until is not None:
        query = query.where(answer.answered_at < until)
    if campaign is not None:
        query = query.where(answer.campaign == campaign)
    for row in connection.execute(query.order_by(answer.answered_at, answer.id)):
        yield dict(zip(EXPORT_COLUMNS, row, strict=True))
