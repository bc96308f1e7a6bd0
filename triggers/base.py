"""The trigger protocol: a typed params model and a set-based candidate query.

A trigger is `candidates(params, run) -> Select` returning one row per moment with the
columns `customer_id`, `occasion` (the dedupe key, unique per moment) and any context
columns the message needs. The query runs over the whole shop, parameterized by the run
instant: no per-customer Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Date, Integer, Select, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from campaigns.config import LoyaltySettings

# What a trigger returns: customer_id, occasion, then context columns.
CandidateQuery = Select[*tuple[Any, ...]]


class Params(BaseModel):
    """Base of every trigger's params: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class RunContext:
    """What a trigger may depend on: the run instant, the shop's zone, the loyalty rules."""

    at: datetime  # aware; kept in UTC
    tz: ZoneInfo
    loyalty: LoyaltySettings = field(default_factory=LoyaltySettings)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("the run instant must be timezone-aware")
        # In UTC, `at - timedelta(hours=h)` is h elapsed hours; on a zoned datetime Python
        # subtracts wall-clock time, one hour off across a DST change.
        object.__setattr__(self, "at", self.at.astimezone(UTC))

    @property
    def run_date(self) -> date:
        """The shop-local calendar date of the run."""
        return self.at.astimezone(self.tz).date()

    def start_of(self, day: date) -> datetime:
        """The UTC instant the shop-local `day` begins (DST-aware)."""
        return datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def previous_run_at(self) -> datetime:
        """The same local wall-clock time one calendar day earlier (23 or 25 h across DST)."""
        return self.wall_clock_days_ago(1)

    def wall_clock_days_ago(self, days: int) -> datetime:
        """The same local wall-clock time `days` calendar days earlier, as a UTC instant."""
        local = self.at.astimezone(self.tz)
        earlier = datetime.combine(local.date() - timedelta(days=days), local.time(), self.tz)
        return earlier.astimezone(UTC)

    def days_ago(self, days: int) -> date:
        return self.run_date - timedelta(days=days)


@dataclass(frozen=True)
class Trigger:
    name: str
    params: type[Params]
    candidates: Callable[[Any, RunContext], CandidateQuery]
    summary: str


class iso_text(FunctionElement[str]):  # noqa: N801 - reads like the SQL function it is
    """A date or UTC timestamp column as ISO 8601 text, identical on SQLite and PostgreSQL.

    Occasion keys are built from it, so the same moment gets the same key on both.
    """

    type = String()
    inherit_cache = True


@compiles(iso_text, "sqlite")
def _iso_text_sqlite(element: iso_text, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    if isinstance(column.type, Date):
        return str(compiler.process(column, **kw))
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {compiler.process(column, **kw)})"


@compiles(iso_text, "postgresql")
def _iso_text_postgresql(element: iso_text, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    pattern = "YYYY-MM-DD" if isinstance(column.type, Date) else 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
    return f"to_char({compiler.process(column, **kw)}, '{pattern}')"


class clamp(FunctionElement[int]):  # noqa: N801 - reads like the SQL function it is
    """clamp(x, low, high): x, or the nearer bound; x is written once (SQLite computes
    every occurrence of an expression again)."""

    type = Integer()
    inherit_cache = True


@compiles(clamp, "sqlite")
def _clamp_sqlite(element: clamp, compiler: SQLCompiler, **kw: Any) -> str:
    value, low, high = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"max({low}, min({high}, {value}))"


@compiles(clamp, "postgresql")
def _clamp_postgresql(element: clamp, compiler: SQLCompiler, **kw: Any) -> str:
    value, low, high = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"greatest({low}, least({high}, {value}))"
