"""shop.surveys: one answer per survey moment Leal sent, points booked once, clicks flagged
when they look like a link scanner, and an export of the answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, select

from campaigns.config import Settings
from shop.db import writer
from shop.models import Interaction, LedgerEntry, OutboxMessage, SurveyClick, SurveyResponse
from shop.privacy import erase_customer
from shop.surveys import (
    MAX_COMMENT,
    Answer,
    CommentNotTextError,
    CommentTooLongError,
    ErasedCustomerError,
    ScoreError,
    SurveyClosedError,
    UnknownMomentError,
    clean_comment,
    export_rows,
    record_answer,
    record_click,
)
from templates.links import SurveyMoment
from tests.factories import ShopFactory

SENT_AT = datetime(2026, 6, 15, 8, tzinfo=UTC)
OCCASION = "survey:o1"


def survey_settings(settings: Settings, **extra: Any) -> Settings:
    """The test settings with one survey campaign per kind (`nps`, `csat`, `ces`, `cli`),
    `quiet` without a comment box, `plain` without a survey, and 20 points for answering."""
    campaigns: dict[str, Any] = {
        kind: {"trigger": "post_purchase_survey", "channels": ["email", "sms"],
               "template": "post_purchase_survey", "survey": {"kind": kind}}
        for kind in ("nps", "csat", "ces", "cli")
    }  # fmt: skip
    campaigns["quiet"] = campaigns["nps"] | {"survey": {"kind": "nps", "comment": False}}
    campaigns["plain"] = {"trigger": "birthday", "channels": ["email"], "template": "birthday"}
    values = settings.model_dump() | {
        "campaigns": campaigns,
        "loyalty": settings.model_dump()["loyalty"] | {"actions": {"survey_answered": 20}},
    }
    return Settings(**(values | extra))


def sent(
    engine: Engine,
    customer_id: str,
    campaign: str = "nps",
    occasion: str = OCCASION,
    *,
    at: datetime = SENT_AT,
    channel: str = "email",
    status: str = "sent",
) -> SurveyMoment:
    """An outbox row for the moment: what Leal sent (or not, by `status`)."""
    with engine.begin() as connection:
        connection.execute(insert(OutboxMessage), {
            "campaign": campaign, "trigger": "post_purchase_survey", "customer_id": customer_id,
            "channel": channel, "occasion": occasion, "status": status, "context": {},
            "run_date": at.date(), "due_at": at, "created_at": at, "updated_at": at,
            "sent_at": at if status == "sent" else None,
        })  # fmt: skip
    return SurveyMoment(customer_id, campaign, occasion)


def answer(
    engine: Engine,
    settings: Settings,
    moment: SurveyMoment,
    score: int,
    *,
    at: datetime = SENT_AT + timedelta(hours=2),
    kind: str | None = None,
    scores: Mapping[str, int] | None = None,
    comment: str | None = None,
) -> Answer:
    with writer(engine).begin() as connection:
        return record_answer(
            connection, settings, campaign=moment.campaign, customer_id=moment.customer_id,
            occasion=moment.occasion, kind=kind or moment.campaign, score=score, scores=scores,
            comment=comment, locale="ca", at=at,
        )  # fmt: skip


def rows(connection: Connection, model: Any) -> list[Any]:
    return list(connection.execute(select(model.__table__)).all())


@pytest.fixture
def surveyed(settings: Settings) -> Settings:
    return survey_settings(settings)


def test_a_later_submit_updates_the_one_answer_and_keeps_when_it_was_first_given(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    # given Ana's survey moment, sent
    moment = sent(engine, shop.customer("ana"))
    first_at, later_at = SENT_AT + timedelta(hours=1), SENT_AT + timedelta(days=2)
    # when she answers 6 with a comment, then changes her mind to 9 with another
    first = answer(engine, surveyed, moment, 6, at=first_at, comment="Slow delivery")
    later = answer(engine, surveyed, moment, 9, at=later_at, comment="It arrived, lovely!")
    # then there is one answer: the latest score and comment, first answered_at kept
    with engine.connect() as connection:
        (row,) = rows(connection, SurveyResponse)
    assert first.id == later.id == row.id
    assert (row.score, row.scores, row.comment) == (9, {"nps": 9}, "It arrived, lovely!")
    assert (row.answered_at, row.updated_at, row.locale) == (first_at, later_at, "ca")
    assert later.answered_at == first_at and later.updated_at == later_at


def test_a_resubmit_without_a_comment_keeps_the_comment(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    # given an answer with a comment
    moment = sent(engine, shop.customer("ana"))
    answer(engine, surveyed, moment, 3, comment="Beans were stale")
    # when she clicks another score in the email and sends the page without typing again
    again = answer(engine, surveyed, moment, 4, at=SENT_AT + timedelta(days=1))
    # then the score changed, the comment stayed
    assert (again.score, again.comment) == (4, "Beans were stale")


def test_the_first_answer_books_the_points_once(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    # given [loyalty] actions = { survey_answered = 20 } and two moments of Ana's
    ana = shop.customer("ana")
    one, two = sent(engine, ana), sent(engine, ana, occasion="survey:o2")
    # when she answers the first twice and the second once
    booked = [answer(engine, surveyed, one, 7).points_booked,
              answer(engine, surveyed, one, 8, at=SENT_AT + timedelta(days=3)).points_booked,
              answer(engine, surveyed, two, 10).points_booked]  # fmt: skip
    # then each answer booked 20 points once, as of its first submit
    assert booked == [True, False, True]
    with engine.connect() as connection:
        ids = connection.scalars(select(SurveyResponse.id).order_by(SurveyResponse.id)).all()
        entries = connection.execute(
            select(LedgerEntry.kind, LedgerEntry.points, LedgerEntry.source, LedgerEntry.at)
            .where(LedgerEntry.kind == "bonus").order_by(LedgerEntry.source)
        ).all()  # fmt: skip
        interactions = connection.scalars(select(Interaction.id).order_by(Interaction.id)).all()
    assert interactions == [f"survey:{ids[0]}", f"survey:{ids[1]}"]
    first_at = SENT_AT + timedelta(hours=2)
    assert [tuple(entry) for entry in entries] == [
        ("bonus", 20, f"interaction:survey:{ids[0]}", first_at),
        ("bonus", 20, f"interaction:survey:{ids[1]}", first_at),
    ]


def test_without_the_action_no_points_are_booked(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    plain = survey_settings(settings, loyalty={"actions": {"review": 50}})
    moment = sent(engine, shop.customer("ana"))
    assert answer(engine, plain, moment, 9).points_booked is False
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Interaction)) == 0
        assert connection.scalar(select(func.count()).select_from(LedgerEntry)) == 0


@pytest.mark.parametrize("status", ["queued", "failed", "skipped", None])
def test_a_moment_leal_never_sent_is_refused(
    engine: Engine, surveyed: Settings, shop: ShopFactory, status: str | None
) -> None:
    # given a moment planned but not sent (or not in the outbox at all)
    ana = shop.customer("ana")
    moment = SurveyMoment(ana, "nps", OCCASION)
    if status:
        sent(engine, ana, status=status)
    # then neither an answer nor a click is recorded
    with pytest.raises(UnknownMomentError):
        answer(engine, surveyed, moment, 9)
    with pytest.raises(UnknownMomentError), writer(engine).begin() as connection:
        record_click(connection, surveyed, moment, "score", 9, SENT_AT)
    with engine.connect() as connection:
        assert rows(connection, SurveyResponse) == rows(connection, SurveyClick) == []


@pytest.mark.parametrize("campaign", ["plain", "gone"])
def test_a_campaign_without_a_survey_takes_no_answer(
    engine: Engine, surveyed: Settings, shop: ShopFactory, campaign: str
) -> None:
    # given a sent message of a campaign that asks no survey (or is no longer configured)
    moment = sent(engine, shop.customer("ana"), campaign=campaign)
    with pytest.raises(SurveyClosedError):
        answer(engine, surveyed, moment, 9, kind="nps")


def test_an_erased_customer_s_moment_takes_no_answer(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    moment = sent(engine, shop.customer("ana"))
    with writer(engine).begin() as connection:
        erase_customer(connection, "ana", SENT_AT)
    with pytest.raises(ErasedCustomerError):
        answer(engine, surveyed, moment, 9)


@pytest.mark.parametrize(
    ("campaign", "score", "scores"),
    [
        ("nps", -1, None), ("nps", 11, None), ("csat", 0, None), ("csat", 6, None),
        ("ces", 0, None), ("ces", 8, None), ("nps", 9, {"nps": 8}), ("nps", True, None),
        ("cli", 9, None), ("cli", 9, {"recommend": 9, "buy_again": 8}),
        ("cli", 9, {"recommend": 9, "buy_again": 8, "try_other": 11}),
        ("cli", 9, {"recommend": 7, "buy_again": 8, "try_other": 6}),
        ("cli", 9, {"recommend": 9, "buy_again": 8, "try_other": 6, "extra": 1}),
    ],
)  # fmt: skip
def test_a_score_off_the_kind_s_scale_is_refused(
    engine: Engine, surveyed: Settings, shop: ShopFactory,
    campaign: str, score: int, scores: dict[str, int] | None,
) -> None:  # fmt: skip
    moment = sent(engine, shop.customer("ana"), campaign=campaign)
    with pytest.raises(ScoreError):
        answer(engine, surveyed, moment, score, scores=scores)
    with engine.connect() as connection:
        assert rows(connection, SurveyResponse) == []


def test_each_kind_takes_the_ends_of_its_scale(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    ana = shop.customer("ana")
    for campaign, low, high in (("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7)):
        for end in (low, high):
            moment = sent(engine, ana, campaign=campaign, occasion=f"survey:{campaign}{end}")
            assert answer(engine, surveyed, moment, end).scores == {campaign: end}
    cli = sent(engine, ana, campaign="cli")
    three = {"recommend": 10, "buy_again": 0, "try_other": 5}
    assert answer(engine, surveyed, cli, 10, scores=three).scores == three


def test_a_survey_of_another_kind_is_refused(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    moment = sent(engine, shop.customer("ana"), campaign="csat")
    with pytest.raises(ScoreError):
        answer(engine, surveyed, moment, 4, kind="nps")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Great coffee  ", "Great coffee"),
        ("line one\r\nline two\rthree", "line one\nline two\nthree"),
        ("nul\x00 esc\x1b[31m bell\x07 del\x7f c1\x85\x9b", "nul esc[31m bell del c1"),
        ("tab\tkept", "tab\tkept"),
        ("\x00\x01 \n ", None),
        ("", None),
        ("Emoji 👩‍👩‍👧 and RTL \u202eevil", "Emoji 👩‍👩‍👧 and RTL \u202eevil"),
        ("x" * MAX_COMMENT, "x" * MAX_COMMENT),
    ],
)  # fmt: skip
def test_a_comment_is_stored_as_text_without_control_characters(
    typed: str, stored: str | None
) -> None:
    assert clean_comment(typed) == stored


def test_a_comment_too_long_or_not_text_is_refused(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    moment = sent(engine, shop.customer("ana"))
    with pytest.raises(CommentTooLongError):
        answer(engine, surveyed, moment, 9, comment="x" * (MAX_COMMENT + 1))
    with pytest.raises(CommentNotTextError):
        answer(engine, surveyed, moment, 9, comment="half a pair \ud800")


def test_a_comment_is_dropped_where_the_campaign_offers_no_box(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    moment = sent(engine, shop.customer("ana"), campaign="quiet")
    assert answer(engine, surveyed, moment, 9, kind="nps", comment="hello").comment is None


def _click(
    engine: Engine, settings: Settings, moment: SurveyMoment, at: datetime, link: str = "score"
) -> tuple[str, int | None, int | None, bool]:
    with writer(engine).begin() as connection:
        click = record_click(connection, settings, moment, link, 9, at)  # type: ignore[arg-type]
    return click.link, click.score, click.seconds_after_send, click.suspect


def test_a_click_in_the_first_seconds_after_the_send_is_suspect(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    # given [surveys] scanner_seconds = 60 (the default) and a moment sent at 08:00:00
    moment = sent(engine, shop.customer("ana"))
    # when its link is opened 3 s, 59.9 s, 60 s and an hour after, and its honeypot late
    clicks = [
        _click(engine, surveyed, moment, SENT_AT + timedelta(seconds=3)),
        _click(engine, surveyed, moment, SENT_AT + timedelta(seconds=59.9)),
        _click(engine, surveyed, moment, SENT_AT + timedelta(seconds=60)),
        _click(engine, surveyed, moment, SENT_AT + timedelta(hours=1)),
        _click(engine, surveyed, moment, SENT_AT + timedelta(hours=2), "honeypot"),
    ]
    # then those under a minute and the honeypot are flagged; every click is stored
    assert clicks == [
        ("score", 9, 3, True), ("score", 9, 59, True), ("score", 9, 60, False),
        ("score", 9, 3600, False), ("honeypot", None, 7200, True),
    ]  # fmt: skip
    with engine.connect() as connection:
        stored = connection.execute(
            select(SurveyClick.link, SurveyClick.suspect).order_by(SurveyClick.id)
        ).all()
    assert [tuple(row) for row in stored] == [(link, flag) for link, _, _, flag in clicks]


def test_the_latest_send_before_the_click_is_the_one_it_came_from(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    # given the moment sent by email at 08:00 and by SMS at 09:00
    ana = shop.customer("ana")
    moment = sent(engine, ana)
    sent(engine, ana, at=SENT_AT + timedelta(hours=1), channel="sms")
    # then a click at 09:00:10 is 10 s after the SMS (suspect), one at 08:30 is 30 min after
    # the email, one before any send (a clock behind) is suspect and has no delay
    assert _click(engine, surveyed, moment, SENT_AT + timedelta(hours=1, seconds=10))[2:] == (
        10, True)  # fmt: skip
    assert _click(engine, surveyed, moment, SENT_AT + timedelta(minutes=30))[2:] == (1800, False)
    assert _click(engine, surveyed, moment, SENT_AT - timedelta(seconds=5))[2:] == (None, True)


def test_scanner_seconds_zero_flags_only_the_honeypot(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    trusting = survey_settings(settings, surveys={"scanner_seconds": 0})
    moment = sent(engine, shop.customer("ana"))
    assert _click(engine, trusting, moment, SENT_AT)[3] is False
    assert _click(engine, trusting, moment, SENT_AT, "honeypot")[3] is True


def test_the_export_holds_the_answers_of_the_period_oldest_first(
    engine: Engine, surveyed: Settings, shop: ShopFactory
) -> None:
    # given answers on three days, of two campaigns
    ana, bo = shop.customer("ana"), shop.customer("bo")
    day = timedelta(days=1)
    answer(engine, surveyed, sent(engine, bo, "csat"), 4, at=SENT_AT + 2 * day)
    answer(engine, surveyed, sent(engine, ana), 10, at=SENT_AT, comment="=HYPERLINK()")
    answer(engine, surveyed, sent(engine, ana, "csat"), 2, at=SENT_AT + day)
    with engine.connect() as connection:
        every = list(export_rows(connection, None, None, None))
        middle = list(export_rows(connection, SENT_AT + day, SENT_AT + 2 * day, None))
        nps = list(export_rows(connection, None, None, "nps"))
    # then all, the middle day's and one campaign's, each oldest first, values as stored
    assert [(row["campaign"], row["customer_id"]) for row in every] == [
        ("nps", "ana"), ("csat", "ana"), ("csat", "bo")]  # fmt: skip
    assert [row["score"] for row in middle] == [2]
    assert nps == [{
        "answered_at": SENT_AT, "updated_at": SENT_AT, "campaign": "nps", "customer_id": "ana",
        "occasion": OCCASION, "kind": "nps", "score": 10, "scores": {"nps": 10},
        "comment": "=HYPERLINK()", "locale": "ca",
    }]  # fmt: skip
