"""A local HTTP server that answers like Twilio's Messages API (the edge we cannot reach)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

# Destination numbers that provoke each of Twilio's answers; any other is accepted.
ERRORS = {
    "+34600000002": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "+34600000003": (400, 21211, "Invalid 'To' Phone Number"),
    "+34600000004": (429, 20429, "Too Many Requests"),
    "+34600000005": (401, 20003, "Authenticate"),
}


class FakeTwilio:
    def __init__(self) -> None:
        self.requests: list[tuple[float, str, dict[str, str]]] = []  # (when, path, form)


def _handler(state: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            state.requests.append((time.monotonic(), self.path, form))
            status, body = self._answer(form)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # the account, as the channel's probe fetches it
            state.requests.append((time.monotonic(), self.path, {}))
            sid = self.path.rsplit("/", 1)[-1].removesuffix(".json")
            data = json.dumps({"sid": sid, "status": "active"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, form: dict[str, str]) -> tuple[int, dict[str, object]]:
            if form["To"] in ERRORS:
                status, code, message = ERRORS[form["To"]]
                info = f"https://www.twilio.com/docs/errors/{code}"
                return status, {
                    "code": code,
                    "message": message,
                    "status": status,
                    "more_info": info,
                }
            sid = f"SM{len(state.requests):032d}"
            return 201, {"sid": sid, "status": "queued", "to": form["To"], "body": form["Body"]}

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet tests

    return Handler


@contextmanager
def fake_twilio() -> Iterator[tuple[FakeTwilio, str]]:
    state = FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
