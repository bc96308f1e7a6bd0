"""GET /customers/{id}/export and POST /customers/{id}/erase for `leal serve`, behind the
LEAL_ADMIN_TOKEN bearer token: off (503) without it or with one under 16 characters, 403
with a wrong one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException
from sqlalchemy import Engine

from shop.db import writer
from shop.privacy import UnknownCustomerError, erase_customer, export_customer
from workers.web_guard import check_bearer

ADMIN_TOKEN_ENV = "LEAL_ADMIN_TOKEN"  # noqa: S105 (the variable's name, not a secret)


def privacy_router(engine: Engine, environ: Mapping[str, str]) -> APIRouter:
    """The data subject's rights over HTTP (see shop.privacy). The token is read per
    request and checked before anything else."""

    def require_admin(authorization: str = Header("")) -> None:
        check_bearer(authorization, environ, ADMIN_TOKEN_ENV)

    router = APIRouter(dependencies=[Depends(require_admin)])

    @router.get("/customers/{customer_id}/export")
    def export(customer_id: str) -> dict[str, Any]:
        try:
            with engine.connect() as connection:
                return export_customer(connection, customer_id)
        except UnknownCustomerError as error:
            raise HTTPException(status_code=404, detail=str(error)) from None

    @router.post("/customers/{customer_id}/erase")
    def erase(customer_id: str) -> dict[str, Any]:
        try:
            with writer(engine).begin() as connection:
                return erase_customer(connection, customer_id, datetime.now(UTC)).as_dict()
        except UnknownCustomerError as error:
            raise HTTPException(status_code=404, detail=str(error)) from None

    return router
