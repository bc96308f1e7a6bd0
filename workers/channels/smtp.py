"""The SMTP channel: one reused connection, STARTTLS or SSL, and honest outcomes.

A 4xx reply is temporary (retry later); a 5xx to RCPT is a hard bounce (failed, and the
address is suppressed by the deliverer); a 5xx to MAIL FROM or DATA is the server refusing
us, not the recipient (failed, nobody suppressed); a refused login is retried.
Each message is one transaction (`smtp_transaction`): every reply is read at its own
stage, so a refused RCPT is never mistaken for a refused sender. A dropped connection (or
a certificate we cannot verify) is a retry, and the next message opens a new connection.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from typing import Literal

from shop.redact import redact
from workers.channels.base import Outcome, OutgoingEmail, OutgoingSms
from workers.channels.smtp_transaction import UnsendableAddressError, transact

PASSWORD_ENV = "LEAL_SMTP_PASSWORD"  # noqa: S105 (the variable's name, not a secret)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    envelope_from: str = ""  # the bounce address (MAIL FROM)
    timeout: float = 30.0
    ca_file: str | None = None  # verify the server against this CA instead of the system's


class SmtpChannel:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._connection: smtplib.SMTP | None = None
        self._context: ssl.SSLContext | None = None

    def send_email(self, message: OutgoingEmail) -> Outcome:
        try:
            reply = transact(self._connected(), self.server.envelope_from, message.to, message.data)
        except UnsendableAddressError as error:
            if error.sender:  # our configuration, not the customer: retried, and it pauses
                return Outcome("retry", "smtp_sender", str(error))
            return Outcome("failed", "bad_address", str(error))
        except smtplib.SMTPAuthenticationError as error:
            self.close()
            return Outcome("retry", "smtp_auth", _detail(error.smtp_code, error.smtp_error))
        except (smtplib.SMTPException, OSError) as error:  # incl. a certificate we cannot trust
            self.close()
            return Outcome("retry", "smtp_unavailable", type(error).__name__)
        if reply.stage == "sent":
            return Outcome("sent")
        if not reply.reusable or reply.code in (421, 451):  # hung up, closing or overloaded
            self.close()
        if reply.code == 421:  # the service is shutting down (RFC 5321 3.8): the relay's state
            return Outcome("retry", "smtp_unavailable", _detail(reply.code, reply.text))
        if reply.stage == "rcpt":
            return _recipient_refusal(reply.code, reply.text)
        return _server_refusal(reply.code, reply.text)

    def send_sms(self, message: OutgoingSms) -> Outcome:
        raise TypeError("the SMTP channel sends email only")

    def probe(self) -> str | None:
        """Connect, greet (TLS and login as configured) and NOOP on a connection of its own."""
        try:
            connection = self._open()
            try:
                connection.ehlo_or_helo_if_needed()
                code, text = connection.noop()
            finally:
                connection.close()
        except smtplib.SMTPAuthenticationError as error:
            return _detail(error.smtp_code, error.smtp_error)
        except (smtplib.SMTPException, OSError) as error:
            return f"{self.server.host}:{self.server.port}: {type(error).__name__}"
        return None if code == 250 else _detail(code, text)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None

    def _connected(self) -> smtplib.SMTP:
        if self._connection is None:
            self._connection = self._open()
        return self._connection

    def _open(self) -> smtplib.SMTP:
        server = self.server
        connection: smtplib.SMTP
        if server.security == "ssl":
            connection = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout,
                                          context=self._tls())  # fmt: skip
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
            if server.security == "starttls":
                connection.starttls(context=self._tls())
        if server.username:
            connection.login(server.username, os.environ.get(PASSWORD_ENV, ""))
        return connection

    def _tls(self) -> ssl.SSLContext:
        """Built on first use (loading the system's CAs takes ~25 ms), then reused."""
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.server.ca_file)  # host, chain
        return self._context


def _detail(code: int, text: bytes | str) -> str:
    """The server's reply for the ledger, without the address servers often quote
    (`550 5.1.1 <ana@example.com>: Recipient address rejected`)."""
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return redact(f"{code} {words}")[:500]


def _recipient_refusal(code: int, text: bytes | str) -> Outcome:
    """RCPT refused: 4xx later, 5xx the address does not exist (suppressed)."""
    if 400 <= code < 500:
        return Outcome("retry", "smtp_temporary", _detail(code, text))
    return Outcome("failed", "hard_bounce", _detail(code, text))


def _server_refusal(code: int, text: bytes | str) -> Outcome:
    """The server refused the sender or the message, not the recipient: never a bounce."""
    if 400 <= code < 500:
        return Outcome("retry", "smtp_temporary", _detail(code, text))
    return Outcome("failed", "smtp_rejected", _detail(code, text))
