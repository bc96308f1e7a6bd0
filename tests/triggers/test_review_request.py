from datetime import datetime, timedelta

from sqlalchemy import Engine, insert

from shop.models import SurveyResponse
from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches

RUN = local("2026-09-30 09:00")


def _answer(
    engine: Engine, customer_id: str, kind: str, score: int, at: datetime, occasion: str = "o"
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(SurveyResponse),
            {"campaign": "survey", "customer_id": customer_id, "occasion": f"survey:{occasion}",
             "kind": kind, "score": score, "scores": {}, "answered_at": at, "updated_at": at},
        )  # fmt: skip


def test_promoters_answered_since_the_previous_run(engine: Engine, shop: ShopFactory) -> None:
    # given answers of 10, 9 and 8 since yesterday's run, and a 10 before it
    for customer_id, score, at in (
        ("ten", 10, RUN - timedelta(hours=1)),
        ("nine", 9, RUN),  # exactly at the run instant: this run's
        ("eight", 8, RUN - timedelta(hours=2)),
        ("old", 10, RUN - timedelta(days=1)),  # exactly at the previous run: that run's
    ):
        _answer(engine, shop.customer(customer_id), "nps", score, at)
    # when review_request runs with the default promoter score
    found = matches(engine, "review_request", shop.run(RUN))
    # then the promoters of this run's window are asked, once per answer
    assert set(found) == {"ten", "nine"}
    assert found["ten"]["occasion"].startswith("review:")
    assert found["ten"]["survey_occasion"] == "survey:o"
    assert found["ten"]["score"] == 10


def test_kinds_and_min_score_are_params(engine: Engine, shop: ShopFactory) -> None:
    # given a CSAT 5 and an NPS 10
    _answer(engine, shop.customer("csat"), "csat", 5, RUN - timedelta(hours=1))
    _answer(engine, shop.customer("nps"), "nps", 10, RUN - timedelta(hours=1))
    # when the campaign asks CSAT answers of at least 5
    found = matches(engine, "review_request", shop.run(RUN), kinds=["csat"], min_score=5)
    # then only the CSAT promoter is found
    assert set(found) == {"csat"}
