"""Survey KPIs on small shops computed by hand: NPS, CSAT, CES and the Customer Loyalty
Index with their intervals, response rates, suspect clicks, the answers to follow up, and
the period's edges in the shop's zone."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import Engine, insert
from statsmodels.stats.proportion import proportion_confint

from campaigns.config import Settings
from reports.kpis import loyalty_kpis
from reports.kpis_surveys import SURVEY_TRIGGER
from shop.models import OutboxMessage, SurveyClick, SurveyResponse
from tests.factories import MADRID, ShopFactory, local

START, END = date(2026, 11, 1), date(2026, 11, 30)
IN_PERIOD = local("2026-11-10 12:00")
KINDS = {"nps_after": "nps", "csat_after": "csat", "ces_after": "ces", "cli_after": "cli"}
_numbers = itertools.count(1)


def surveys(engine: Engine, settings: Settings, kinds: dict[str, str] = KINDS) -> Any:
    with engine.connect() as connection:
        found = loyalty_kpis(
            connection, settings.loyalty, START, END, gross_margin=Decimal("0.4"), tz=MADRID,
            survey_kinds=kinds,
        )  # fmt: skip
    return found.as_json()["surveys"]


def answer(
    engine: Engine,
    shop: ShopFactory,
    kind: str,
    score: int,
    *,
    at: datetime = IN_PERIOD,
    scores: dict[str, int] | None = None,
    comment: str | None = None,
    campaign: str | None = None,
) -> str:
    customer = shop.customer()
    with engine.begin() as connection:
        connection.execute(
            insert(SurveyResponse),
            {
                "campaign": campaign or f"{kind}_after",
                "customer_id": customer,
                "occasion": f"survey:o{next(_numbers)}",
                "kind": kind,
                "score": score,
                "scores": scores or {kind: score},
                "comment": comment,
                "locale": "es",
                "answered_at": at,
                "updated_at": at,
            },
        )
    return customer


def cli(recommend: int, buy_again: int, try_other: int) -> dict[str, int]:
    return {"recommend": recommend, "buy_again": buy_again, "try_other": try_other}


def sent(
    engine: Engine,
    customer: str,
    *,
    campaign: str = "nps_after",
    channel: str = "email",
    status: str = "sent",
    run_date: date = date(2026, 11, 5),
    occasion: str = "survey:o1",
    trigger: str = SURVEY_TRIGGER,
) -> None:
    at = local(f"{run_date} 09:00")
    with engine.begin() as connection:
        connection.execute(
            insert(OutboxMessage),
            {
                "campaign": campaign, "trigger": trigger, "customer_id": customer,
                "channel": channel, "occasion": occasion, "status": status, "context": {},
                "run_date": run_date, "due_at": at, "created_at": at, "updated_at": at,
                "sent_at": at if status == "sent" else None,
            },
        )  # fmt: skip


def test_nps_counts_and_its_adjusted_wald_interval(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given ten NPS answers: five promoters (9-10), two passives (7-8), three detractors (0-6)
    for score in (10, 10, 9, 9, 9, 8, 7, 6, 3, 0):
        answer(engine, shop, "nps", score)
    # when the period's KPIs are read
    nps = surveys(engine, settings)["nps"]
    # then NPS = 50 % - 30 % = 20, and the interval is Rocks' adjusted Wald: n + 3, ¾ added
    # to promoters and detractors, the variance of their difference
    p, d = 5.75 / 13, 3.75 / 13
    half = 1.959964 * math.sqrt((p + d - (p - d) ** 2) / 13)
    assert nps["score"] == 20.0
    assert nps["ci95"] == pytest.approx([100 * (p - d - half), 100 * (p - d + half)], abs=0.01)
    assert nps["ci95"] == [-30.33, 61.1]
    assert (nps["promoters"], nps["passives"], nps["detractors"], nps["responses"]) == (5, 2, 3, 10)
    assert nps["distribution"] == {
        "0": 1, "1": 0, "2": 0, "3": 1, "4": 0, "5": 0, "6": 1, "7": 1, "8": 1, "9": 3, "10": 2,
    }  # fmt: skip


def test_an_nps_interval_never_leaves_minus_100_to_100(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given two promoters only
    answer(engine, shop, "nps", 10)
    answer(engine, shop, "nps", 9)
    nps = surveys(engine, settings)["nps"]
    # then the score is 100 and the interval, wide at n = 2, stops at 100
    assert nps["score"] == 100.0
    low, high = nps["ci95"]
    assert -100 <= low < 100 and high == 100.0


def test_csat_is_the_share_of_4_and_5_with_a_wilson_interval(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    for score in (5, 5, 4, 4, 3, 2, 1, 5):
        answer(engine, shop, "csat", score)
    csat = surveys(engine, settings)["csat"]
    # 5 of 8 satisfied; the interval agrees with statsmodels' Wilson interval
    assert (csat["score"], csat["satisfied"], csat["responses"]) == (0.625, 5, 8)
    expected = proportion_confint(5, 8, alpha=0.05, method="wilson")
    assert csat["ci95"] == pytest.approx(list(expected), abs=1e-4)
    assert csat["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 2, "5": 3}


def test_ces_is_the_mean_with_a_student_t_interval(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    scores = [7, 6, 6, 5, 4, 2]
    for score in scores:
        answer(engine, shop, "ces", score)
    ces = surveys(engine, settings)["ces"]
    values = np.array(scores, dtype=float)
    expected = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert ces["score"] == 5.0
    assert ces["ci95"] == pytest.approx(list(expected), abs=1e-4)


def test_one_ces_answer_has_a_mean_and_no_interval(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    answer(engine, shop, "ces", 6)
    ces = surveys(engine, settings)["ces"]
    assert (ces["score"], ces["ci95"], ces["responses"]) == (6.0, None, 1)


def test_the_loyalty_index_averages_three_nps_style_scores(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given three respondents answering recommend, buy again, try other products
    for first, again, other in ((10, 9, 8), (6, 9, 10), (7, 7, 7)):
        answer(engine, shop, "cli", first, scores=cli(first, again, other))
    index = surveys(engine, settings)["customer_loyalty_index"]
    # then each question's NPS: recommend (1 - 1) / 3 = 0, buy again 2/3, try other 1/3,
    # and the index is their mean, 33.33
    assert index["questions"] == {
        "recommend": {"nps": 0.0, "mean": 7.6667},
        "buy_again": {"nps": 66.67, "mean": 8.3333},
        "try_other": {"nps": 33.33, "mean": 8.3333},
    }
    assert (index["score"], index["responses"]) == (33.33, 3)
    # and its interval is Student's t over each person's mean of +1 / 0 / -1 (2/3, 1/3, 0),
    # kept inside -100..100 (at n = 3 it reaches past it)
    people = np.array([2 / 3, 1 / 3, 0.0])
    low, high = stats.t.interval(0.95, 2, loc=people.mean(), scale=stats.sem(people))
    assert high > 1
    assert index["ci95"] == pytest.approx([100 * low, 100.0], abs=0.01)


def test_answers_count_by_the_shop_local_days_of_the_period(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # Madrid is UTC+1 in November: 00:10 local on 11-01 is still 10-31 in UTC
    for at in ("2026-10-31 23:50", "2026-11-01 00:10", "2026-11-30 23:50", "2026-12-01 00:10"):
        answer(engine, shop, "nps", 10, at=local(at))
    assert surveys(engine, settings)["nps"]["responses"] == 2


def test_response_rate_divides_answers_by_the_survey_moments_sent(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given survey moments of the period's run dates: one sent by email and SMS (one
    # moment), two by email, one held out, one failed, one sent before the period
    ana, bea, cai, dan, eva, fer = (shop.customer() for _ in range(6))
    sent(engine, ana)
    sent(engine, ana, channel="sms")
    sent(engine, bea, occasion="survey:o2")
    sent(engine, cai, occasion="survey:o3", run_date=END)
    sent(engine, dan, status="holdout")
    sent(engine, eva, status="failed")
    sent(engine, fer, run_date=date(2026, 10, 31))
    # and a birthday message, no survey; and a CSAT survey campaign's moment
    sent(engine, ana, campaign="birthday", trigger="birthday", occasion="birthday:2026")
    sent(engine, bea, campaign="csat_after", occasion="survey:o9")
    # when two NPS answers come in
    answer(engine, shop, "nps", 10)
    answer(engine, shop, "nps", 3)
    found = surveys(engine, settings)
    # then NPS asked 3 moments and got 2 answers; CSAT asked one and got none
    assert (found["nps"]["sent"], found["nps"]["response_rate"]) == (3, 0.6667)
    assert found["csat"] == {
        "responses": 0, "score": None, "ci95": None, "satisfied": 0,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}, "sent": 1,
        "response_rate": 0.0,
    }  # fmt: skip
    assert (found["sent"], found["responses"], found["response_rate"]) == (4, 2, 0.5)
    assert found["ces"] is None and found["customer_loyalty_index"] is None


def test_suspect_clicks_are_counted(engine: Engine, settings: Settings, shop: ShopFactory) -> None:
    customer = shop.customer()
    clicks = [(IN_PERIOD, True), (IN_PERIOD, False), (IN_PERIOD, True),
              (local("2026-12-01 00:10"), True)]  # fmt: skip
    with engine.begin() as connection:
        for at, suspect in clicks:
            connection.execute(
                insert(SurveyClick),
                {"campaign": "nps_after", "customer_id": customer, "occasion": "survey:o1",
                 "at": at, "link": "honeypot" if suspect else "score", "score": None,
                 "seconds_after_send": 3, "suspect": suspect},
            )  # fmt: skip
    found = surveys(engine, settings)
    assert (found["clicks"], found["suspect_clicks"]) == (3, 2)


def test_unhappy_answers_are_listed_for_follow_up_in_time_order(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given answers on both sides of each kind's line
    at = [local(f"2026-11-{day:02d} 10:00") for day in range(2, 12)]
    nps_six = answer(engine, shop, "nps", 6, at=at[3], comment="Slow delivery")
    answer(engine, shop, "nps", 7, at=at[0])
    csat_two = answer(engine, shop, "csat", 2, at=at[1])
    answer(engine, shop, "csat", 3, at=at[2])
    ces_three = answer(engine, shop, "ces", 3, at=at[4])
    answer(engine, shop, "ces", 4, at=at[5])
    cli_six = answer(engine, shop, "cli", 6, at=at[6], scores=cli(6, 10, 10))
    answer(engine, shop, "cli", 7, at=at[7], scores=cli(7, 0, 0))  # recommends: no follow-up
    # when the period is reported
    detractors = surveys(engine, settings)["detractors"]
    # then the unhappy ones come in the order they answered, with what they wrote
    assert [(d["customer_id"], d["kind"], d["score"]) for d in detractors] == [
        (csat_two, "csat", 2), (nps_six, "nps", 6), (ces_three, "ces", 3), (cli_six, "cli", 6),
    ]  # fmt: skip
    assert detractors[1] == {
        "customer_id": nps_six,
        "campaign": "nps_after",
        "kind": "nps",
        "score": 6,
        "answered_at": "2026-11-05T09:00:00+00:00",
        "comment": "Slow delivery",
    }


def test_a_period_without_surveys_keeps_every_kind_null(engine: Engine, settings: Settings) -> None:
    assert surveys(engine, settings) == {
        "nps": None,
        "csat": None,
        "ces": None,
        "customer_loyalty_index": None,
        "responses": 0,
        "sent": 0,
        "response_rate": None,
        "clicks": 0,
        "suspect_clicks": 0,
        "detractors": [],
    }


def test_answers_of_campaigns_no_longer_configured_still_count(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given an answer to a campaign the settings no longer hold
    answer(engine, shop, "nps", 9, campaign="retired")
    found = surveys(engine, settings, kinds={})
    # then it counts by its own kind; with nothing sent, no response rate
    assert (found["nps"]["responses"], found["nps"]["response_rate"]) == (1, None)
