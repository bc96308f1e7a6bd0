"""Ledger entries the loyalty triggers read, written as the import and the daily run book
them (bonus lots, redemptions, reversals learned later, expiries)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from campaigns.config import Settings
from shop.expiry import write_expiries
from shop.models import LedgerEntry, Order


def book(
    engine: Engine,
    settings: Settings,
    customer_id: str,
    kind: str,
    points: int,
    at: datetime,
    on_date: date | None = None,
) -> None:
    """One entry at the instant `at`, dated its shop-local day unless `on_date` says; a
    positive one is a lot expiring points_expire_days later."""
    day = on_date or at.astimezone(settings.shop.tz).date()
    expires_on = day + timedelta(days=settings.loyalty.points_expire_days) if points > 0 else None
    with engine.begin() as connection:
        connection.execute(
            insert(LedgerEntry),
            {"customer_id": customer_id, "kind": kind, "points": points, "on_date": day,
             "at": at, "expires_on": expires_on},
        )  # fmt: skip


def cancel(engine: Engine, settings: Settings, order_id: str, learned_at: datetime) -> None:
    """The order cancelled, learned at `learned_at`: its points taken back on its own date."""
    with engine.begin() as connection:
        connection.execute(update(Order).where(Order.id == order_id).values(status="cancelled"))
        earned = connection.execute(
            select(LedgerEntry.customer_id, LedgerEntry.points, LedgerEntry.on_date).where(
                LedgerEntry.order_id == order_id
            )
        ).one()
        connection.execute(
            insert(LedgerEntry),
            {"customer_id": earned.customer_id, "kind": "reverse", "points": -earned.points,
             "on_date": earned.on_date, "at": learned_at, "source": f"reverse:{order_id}"},
        )  # fmt: skip


def expire_through(engine: Engine, settings: Settings, day: date) -> None:
    """The expiries the daily run of `day` books before it plans."""
    with engine.begin() as connection:
        write_expiries(connection, day, settings.shop.tz, settings.loyalty)
