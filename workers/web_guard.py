"""What stands in front of every route of `leal serve`: a body limit and a redacted access log.

- `BodyLimit` (pure ASGI, outside the routes): a declared Content-Length over the limit is
  413 before the app runs; a body without one (chunked) is counted as it arrives and is
  413 as soon as it passes the limit, before anything parses it. Every webhook Leal
  answers fits in a few KB.
- `RedactTokens` (a logging filter on uvicorn's access log): the unsubscribe, card and survey
  paths hold a customer's token and a query string may hold anything, so neither reaches a
  log line.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 256 * 1024
MIN_BEARER_TOKEN = 16  # characters: a bearer token anyone can guess protects nothing
ACCESS_LOGGER = "uvicorn.access"
_TOKEN_PATH = re.compile(r"(/(?:unsubscribe|card|survey)/)[^?#\s\"]*")  # paths holding a token
_QUERY = re.compile(r"\?[^\s\"]*")


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"the request body is over {limit} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await _refuse(send, 400, "Content-Length is not a number")
            return
        if declared > self.max_bytes:
            await _refuse(send, 413, BodyTooLargeError(self.max_bytes).detail)
            return
        started, received = False, 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)  # the routes' handler answers 413
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLargeError as error:  # raised outside a route (none today): still 413
            if started:
                raise
            await _refuse(send, 413, error.detail)


def _content_length(scope: Scope) -> int | None:
    """The declared length (0 when absent), None when it is not a number."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return 0


async def _refuse(send: Send, status: int, detail: str) -> None:
    response = JSONResponse({"detail": detail}, status_code=status, headers={"Connection": "close"})
    await send({"type": "http.response.start", "status": status,
                "headers": response.raw_headers})  # fmt: skip
    await send({"type": "http.response.body", "body": response.body})


class RedactTokens(logging.Filter):
    """Rewrites the path in uvicorn's access records: `/unsubscribe/<token>`, `/card/<token>`,
    `/survey/<token>` (the score after the token goes too), no query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        return True


def _redacted(arg: Any) -> Any:
    if not isinstance(arg, str):
        return arg
    return _QUERY.sub("?<redacted>", _TOKEN_PATH.sub(r"\1<token>", arg))


def redact_access_log() -> None:
    """Install `RedactTokens` on uvicorn's access logger, once (filters survive uvicorn's
    own logging setup, which replaces handlers only)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactTokens) for existing in logger.filters):
        logger.addFilter(RedactTokens())


def bearer_problem(environ: Mapping[str, str], name: str) -> str | None:
    """Why the bearer token in `name` cannot protect anything, or None when it can."""
    token = environ.get(name, "")
    if not token:
        return f"{name} is not set"
    if len(token) < MIN_BEARER_TOKEN:
        return f"{name} must hold at least {MIN_BEARER_TOKEN} characters"
    return None


def check_bearer(authorization: str, environ: Mapping[str, str], name: str) -> None:
    """503 while the token in `name` is missing or too short (the routes are off), 403 for
    a wrong one. Called before any byte of the body is read."""
    problem = bearer_problem(environ, name)
    if problem:
        raise HTTPException(status_code=503, detail=f"this route is off: {problem}")
    expected = f"Bearer {environ[name]}".encode()
    # Bytes: compare_digest refuses non-ASCII str, and headers arrive as latin-1.
    given = authorization.encode("latin-1", "replace")
    if not hmac.compare_digest(given, expected):
        raise HTTPException(status_code=403, detail="a valid bearer token is required")
