from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from triggers import TRIGGERS
from triggers.base import RunContext


def matches(engine: Engine, trigger: str, run: RunContext, **params: Any) -> dict[str, Any]:
    """customer_id -> candidate row, for one trigger evaluated at `run`."""
    spec = TRIGGERS[trigger]
    query = spec.candidates(spec.params(**params), run)
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    by_customer = {row["customer_id"]: row for row in rows}
    assert len(by_customer) == len(rows), "one moment per customer expected"
    return by_customer
