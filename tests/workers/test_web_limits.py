"""`leal serve` in front of its routes: a body limit applied before parsing (also to chunked
bodies, on a real uvicorn), the bearer token checked before the body is read, and an
access log without tokens."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from campaigns.config import Settings
from campaigns.loader import Config
from templates.unsubscribe import SECRET_ENV, Signer
from tests.factories import ShopFactory
from workers.channels.twilio_sms import TOKEN_ENV
from workers.web import EVENTS_TOKEN_ENV, create_app
from workers.web_guard import ACCESS_LOGGER, MAX_BODY_BYTES

SECRETS = {SECRET_ENV: "s" * 32, EVENTS_TOKEN_ENV: "e" * 24, TOKEN_ENV: "twilio-token"}
BEARER = {"Authorization": f"Bearer {'e' * 24}"}
SIGNER = Signer(b"s" * 32)
BEARER_RAW = [(b"authorization", BEARER["Authorization"].encode())]


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An ASGI request as uvicorn hands it over, before any of the body."""
    return {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "scheme": "http", "http_version": "1.1",
            "headers": headers}  # fmt: skip


@pytest.fixture
def app(engine: Engine, settings: Settings) -> FastAPI:
    return create_app(Config(settings, None), engine, environ=SECRETS)


@pytest.mark.parametrize("path", ["/events/product", "/twilio/inbound", "/unsubscribe/x.y"])
def test_a_declared_body_over_the_limit_is_413_before_the_app_reads_it(
    app: FastAPI, path: str
) -> None:
    # given a request that declares a body over the limit, and counts what is read of it
    read: list[int] = []

    async def receive() -> dict[str, Any]:
        read.append(1)
        return {"type": "http.request", "body": b"x", "more_body": False}

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = _scope(path, [(b"content-length", str(MAX_BODY_BYTES + 1).encode()), *BEARER_RAW])
    # when the app gets it
    asyncio.run(app(scope, receive, send))
    # then it answers 413 without reading a byte
    assert sent[0]["status"] == 413 and read == []


def _chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"a" * min(size, total - start)


@pytest.mark.parametrize("path", ["/events/product", "/twilio/inbound"])
def test_a_chunked_body_over_the_limit_is_413(app: FastAPI, path: str) -> None:
    form = "application/x-www-form-urlencoded"
    kind = "application/json" if path.startswith("/events") else form
    headers = BEARER | {"X-Twilio-Signature": "x", "Content-Type": kind}
    answer = TestClient(app).post(path, content=_chunks(MAX_BODY_BYTES + 1), headers=headers)
    assert answer.status_code == 413


def test_a_body_at_the_limit_is_parsed(app: FastAPI) -> None:
    body = b'{"sku": "' + b"a" * (MAX_BODY_BYTES - 11) + b'"}'
    assert len(body) == MAX_BODY_BYTES
    answer = TestClient(app).post("/events/product", content=body, headers=BEARER)
    assert answer.status_code == 422  # parsed and refused by the importer, not 413


def test_events_check_the_token_before_reading_the_body(app: FastAPI) -> None:
    # given a request without the token whose body would be read only on demand
    read: list[int] = []

    async def receive() -> dict[str, Any]:
        read.append(1)
        return {"type": "http.request", "body": b"{}", "more_body": False}

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = _scope("/events/order", [(b"content-length", b"2")])
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 403 and read == []


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # in a thread: the test runner keeps them
        pass


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The app on a real uvicorn at 127.0.0.1, with uvicorn's own access log."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, access_log=True))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_on_uvicorn_a_chunked_body_over_the_limit_is_413(served: str) -> None:
    with httpx.Client(base_url=served) as http:
        answer = http.post("/events/product", content=_chunks(4 * MAX_BODY_BYTES), headers=BEARER)
    assert answer.status_code == 413


def test_the_access_log_holds_no_token(
    served: str, shop: ShopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # given uvicorn's access log captured as its own handlers would write it
    token = SIGNER.token(shop.customer("ana"), "email")
    access = logging.getLogger(ACCESS_LOGGER)
    access.addHandler(caplog.handler)
    try:
        # when the link is opened, also with a query string
        with httpx.Client(base_url=served) as http:
            assert http.get(f"/unsubscribe/{token}").status_code == 200
            assert http.get(f"/unsubscribe/{token}?utm=secret-ish").status_code == 200
    finally:
        access.removeHandler(caplog.handler)
    # then the lines were logged, without the token or the query
    lines = [record.getMessage() for record in caplog.records if record.name == ACCESS_LOGGER]
    assert len(lines) == 2
    assert all("/unsubscribe/<token>" in line for line in lines)
    assert not any(token in line or token.split(".")[1] in line for line in lines)
    assert not any("secret-ish" in line for line in lines)
