"""A ledger of queued win-back messages, one per customer, for the delivery benchmarks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, update

from shop.db import make_engine, migrate
from shop.models import Customer, OutboxMessage


def plan_win_back(url: str, customers: list[dict[str, Any]], channel: str, due: datetime) -> None:
    """A migrated database at `url` holding `customers` and one queued message each."""
    engine = make_engine(url)
    migrate(engine)
    rows = [
        {"campaign": "win_back", "trigger": "win_back", "customer_id": c["id"], "channel": channel,
         "occasion": "win_back:2026-03-01", "status": "queued",
         "context": {"last_order_on": "2026-03-01"}, "run_date": date(2026, 6, 15),
         "due_at": due, "created_at": due, "updated_at": due, "attempts": 0, "priority": 0}
        for c in customers
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Customer), customers)
        connection.execute(insert(OutboxMessage), rows)


def requeue(url: str) -> None:
    """Every message queued again, as if never attempted."""
    with make_engine(url).begin() as connection:
        connection.execute(update(OutboxMessage).values(status="queued", attempts=0))
