"""Factories that write a small shop straight into the database under test."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, literal, select

from campaigns.config import Settings
from shop.carts import refresh_carts
from shop.loyalty import earn_entry
from shop.models import CartEvent, Customer, LedgerEntry, Order, Product
from shop.stats import refresh_customer_stats
from triggers.base import RunContext

MADRID = ZoneInfo("Europe/Madrid")


def local(text: str, tz: ZoneInfo = MADRID) -> datetime:
    """'2026-03-29 09:00' in the shop's zone, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


class ShopFactory:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._ids = itertools.count(1)

    def run(self, at: datetime) -> RunContext:
        return RunContext(at=at, tz=self.settings.shop.tz, loyalty=self.settings.loyalty)

    def customer(self, customer_id: str | None = None, **fields: Any) -> str:
        customer_id = customer_id or f"c{next(self._ids)}"
        birth: date | None = fields.get("birth_date")
        row = {
            "id": customer_id,
            "email": f"{customer_id}@example.com",
            "phone": "+34600000000",
            "first_name": "Ana",
            "last_name": "Pérez",
            "locale": "es",
            "email_opt_in": True,
            "sms_opt_in": True,
            "created_at": datetime(2024, 1, 1, tzinfo=UTC),
            "birth_mmdd": birth.month * 100 + birth.day if birth else None,
        } | fields
        with self.engine.begin() as connection:
            connection.execute(insert(Customer), row)
        return customer_id

    def product(self, sku: str = "sku-1", price_cents: int = 1990) -> str:
        with self.engine.begin() as connection:
            connection.execute(
                insert(Product),
                {"sku": sku, "name": sku, "category": "c", "price_cents": price_cents},
            )
        return sku

    def order(self, customer_id: str, at: datetime, total_cents: int = 1000) -> str:
        order_id = f"o{next(self._ids)}"
        local_date = at.astimezone(self.settings.shop.tz).date()
        with self.engine.begin() as connection:
            connection.execute(
                insert(Order),
                {
                    "id": order_id,
                    "customer_id": customer_id,
                    "ordered_at": at,
                    "local_date": local_date,
                    "total_cents": total_cents,
                },
            )
            entry = earn_entry(
                order_id, customer_id, at, local_date, total_cents, self.settings.loyalty
            )
            connection.execute(insert(LedgerEntry), entry)
        return order_id

    def cart(self, cart_id: str, customer_id: str, sku: str, quantity: int, at: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                insert(CartEvent),
                {
                    "cart_id": cart_id,
                    "customer_id": customer_id,
                    "sku": sku,
                    "quantity": quantity,
                    "at": at,
                },
            )
            refresh_carts(connection, select(literal(cart_id)))  # as the import would

    def refresh_stats(self, on: date) -> None:
        with self.engine.begin() as connection:
            refresh_customer_stats(connection, self.settings.loyalty, on)
