"""The SMTP channel: one reused connection, STARTTLS or SSL, and honest outcomes.

A 4xx reply is temporary (retry later), a 5xx to the recipient is a hard bounce (failed,
and the address is suppressed by the deliverer). `smtplib.sendmail` does not raise when
only some recipients are refused: it returns them, so that dict is read too. A dropped
connection is a retry, and the next message opens a new one.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from typing import Literal

from workers.channels.base import Outcome, OutgoingEmail, OutgoingSms

PASSWORD_ENV = "LEAL_SMTP_PASSWORD"  # noqa: S105 (the variable's name, not a secret)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    envelope_from: str = ""  # the bounce address (MAIL FROM)
    timeout: float = 30.0


class SmtpChannel:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._connection: smtplib.SMTP | None = None

    def send_email(self, message: OutgoingEmail) -> Outcome:
        try:
            refused = self._connected().sendmail(
                self.server.envelope_from, [message.to], message.data
            )
        except smtplib.SMTPRecipientsRefused as error:
            refused = error.recipients
        except smtplib.SMTPResponseException as error:
            self._drop_if_closed(error)
            return _by_code(error.smtp_code, error.smtp_error)
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return Outcome("retry", "smtp_unavailable", type(error).__name__)
        if message.to in refused:
            code, text = refused[message.to]
            return _by_code(code, text)
        return Outcome("sent")

    def send_sms(self, message: OutgoingSms) -> Outcome:
        raise TypeError("the SMTP channel sends email only")

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
        server, context = self.server, ssl.create_default_context()
        connection: smtplib.SMTP
        if server.security == "ssl":
            connection = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout,
                                          context=context)  # fmt: skip
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
            if server.security == "starttls":
                connection.starttls(context=context)
        if server.username:
            connection.login(server.username, os.environ.get(PASSWORD_ENV, ""))
        return connection

    def _drop_if_closed(self, error: smtplib.SMTPResponseException) -> None:
        if error.smtp_code in (421, 451):  # the server is closing or overloaded
            self.close()


def _by_code(code: int, text: bytes | str) -> Outcome:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    detail = f"{code} {detail}"[:500]
    if 400 <= code < 500:
        return Outcome("retry", "smtp_temporary", detail)
    return Outcome("failed", "hard_bounce", detail)
