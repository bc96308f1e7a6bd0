"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.recipients: list[str] = []
        self.sessions = 0
        self.replies: dict[str, str] = {}  # recipient -> RCPT reply, e.g. "550 5.1.1 no such user"
        self.hold: str | None = None  # the first RCPT to this address waits (a slow server)
        self.holding = threading.Event()
        self.pipelining = False  # advertise PIPELINING (aiosmtpd reads commands in order)
        self.mail_reply: str | None = None  # e.g. "550 5.7.1 sender refused"
        self.data_reply: str | None = None  # the reply to the message, e.g. "554 5.6.0 spam"

    async def handle_EHLO(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address == self.hold:
            self.hold = None
            self.holding.set()
            await asyncio.sleep(30)  # the client is killed meanwhile
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.messages.append(envelope.original_content or envelope.content)
        self.recipients += envelope.rcpt_tos
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_sink(*, smtputf8: bool = False) -> Iterator[tuple[Sink, int]]:
    sink, port = Sink(), _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
