"""The shop's loyalty events: an interaction earns its points once, an order redeems points
within the balance, and the same order sent again cancelled takes its points back once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from campaigns.config import Settings
from campaigns.loader import Config
from shop.models import Interaction, LedgerEntry, Order
from templates.unsubscribe import SECRET_ENV
from tests.factories import ShopFactory
from workers.web import EVENTS_TOKEN_ENV, create_app

BEARER = {"Authorization": f"Bearer {'e' * 24}"}
ORDER = {"order_id": "o1", "customer_id": "ana", "ordered_at": "2026-06-01T10:00:00Z",
         "total": "600.00", "items": []}  # fmt: skip
REVIEW = {"id": "r1", "customer_id": "ana", "action": "review", "at": "2026-06-02T10:00:00Z"}


@pytest.fixture
def client(engine: Engine, settings: Settings, shop: ShopFactory) -> TestClient:
    shop.customer("ana")
    loyal = Settings(**settings.model_dump() | {"loyalty": {"actions": {"review": 50}}})
    environ = {EVENTS_TOKEN_ENV: "e" * 24, SECRET_ENV: "s" * 32}
    return TestClient(create_app(Config(loyal, None), engine, environ=environ))


def _ledger(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(LedgerEntry.kind, LedgerEntry.points, LedgerEntry.on_date, LedgerEntry.source)
            .order_by(LedgerEntry.id)
        )  # fmt: skip
        return [tuple(row) for row in rows]


def test_an_interaction_event_books_its_points_once(client: TestClient, engine: Engine) -> None:
    # when the shop posts Ana's review twice (a retry)
    answers = [client.post("/events/interaction", json=REVIEW, headers=BEARER) for _ in "ab"]
    # then both apply, and the review and its points are stored once
    assert [answer.status_code for answer in answers] == [200, 200], answers[0].text
    assert _ledger(engine) == [("bonus", 50, date(2026, 6, 2), "interaction:r1")]
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Interaction)) == 1


def test_an_interaction_event_with_an_unknown_action_is_422(
    client: TestClient, engine: Engine
) -> None:
    answer = client.post("/events/interaction", json=REVIEW | {"action": "like"}, headers=BEARER)
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        "interactions: action 'like' is not one of [loyalty] actions (review)"
    ]
    assert _ledger(engine) == []


def test_an_order_event_sent_again_cancelled_takes_its_points_back_once(
    client: TestClient, engine: Engine
) -> None:
    # given an order placed
    assert client.post("/events/order", json=ORDER, headers=BEARER).status_code == 200
    # when the shop sends it again cancelled and delivered, twice, then placed
    cancelled = ORDER | {"status": "cancelled", "delivered_at": "2026-06-03T10:00:00Z"}
    answers = [client.post("/events/order", json=event, headers=BEARER)
               for event in (cancelled, cancelled, ORDER)]  # fmt: skip
    # then each applies, and its points are taken back once, and it stays cancelled
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert _ledger(engine) == [
        ("earn", 600, date(2026, 6, 1), None),
        ("reverse", -600, date(2026, 6, 1), "reverse:o1"),
    ]
    with engine.connect() as connection:
        stored = connection.execute(select(Order.status, Order.delivered_at)).one()
    assert tuple(stored) == ("cancelled", datetime(2026, 6, 3, 10, tzinfo=UTC))


def test_an_order_event_redeeming_points_within_the_balance_applies_and_beyond_is_422(
    client: TestClient, engine: Engine
) -> None:
    # given Ana's 600 points
    assert client.post("/events/order", json=ORDER, headers=BEARER).status_code == 200
    # when she redeems 601, then 600
    second = ORDER | {"order_id": "o2", "ordered_at": "2026-06-05T10:00:00Z", "total": "1"}
    refused = client.post("/events/order", json=second | {"points_redeemed": 601}, headers=BEARER)
    applied = client.post("/events/order", json=second | {"points_redeemed": 600}, headers=BEARER)
    # then the first is refused with the amounts, writing nothing, and the second applies
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        "orders: order 'o2' redeems 601 points, more than the 600 customer 'ana' had then: "
        "not written"
    ]
    assert applied.status_code == 200, applied.text
    assert _ledger(engine)[1:] == [
        ("earn", 1, date(2026, 6, 5), None),
        ("redeem", -600, date(2026, 6, 5), "redeem:o2"),
    ]
