"""One SMTP mail transaction on an open `smtplib.SMTP` connection, cheaper than `sendmail`.

`smtplib.sendmail` re-parses both addresses with `email.utils` and runs a regex over the
whole message for dot-stuffing; here the addresses are only checked for characters that
could end a command line, the message (built by `templates.mime`, CRLF line ends) is
dot-stuffed only when a line starts with a dot, and when the server offers PIPELINING
(RFC 2920, as Postfix, Exim and the big providers do) MAIL, RCPT and DATA go in one write:
two round trips per message instead of four. The replies are read in order either way,
so every refusal is seen at its own stage, and a refusal already read is never lost to
the server hanging up afterwards: the reply says the connection cannot be reused.
"""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass, replace
from typing import Literal

Stage = Literal["mail", "rcpt", "data", "sent"]
_LINE_BREAKERS = re.compile(r"[\r\n<>\x00]")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_STEPS: tuple[tuple[Stage, tuple[int, ...]], ...] = (
    ("mail", (250,)),
    ("rcpt", (250, 251)),
    ("data", (354,)),
)


class UnsendableAddressError(ValueError):
    """An address that cannot go on an SMTP command line (or needs SMTPUTF8 the server
    lacks); nothing was sent and the connection stays clean. `sender` says whose."""

    def __init__(self, message: str, *, sender: bool) -> None:
        super().__init__(message)
        self.sender = sender


@dataclass(frozen=True)
class Reply:
    stage: Stage  # where the transaction ended: "sent", or the command refused
    code: int
    text: bytes
    reusable: bool = True  # False: the server hung up or would not reset; reconnect


def transact(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> Reply:
    """Send `data` from `sender` to one `recipient`; the reply that ended the transaction.

    Raises `smtplib.SMTPServerDisconnected` or `OSError` when the connection fails before
    any reply says what became of the message.
    """
    smtp.ehlo_or_helo_if_needed()
    commands = _commands(smtp, sender, recipient)
    pipelined = smtp.has_extn("pipelining")
    if pipelined:
        smtp.send(b"".join(commands))
    refusal: Reply | None = None  # the first command refused
    for (stage, accepted), command in zip(_STEPS, commands, strict=True):
        if not pipelined:
            smtp.send(command)
        try:
            code, text = smtp.getreply()
        except (smtplib.SMTPException, OSError):
            if refusal is not None:  # read before the server hung up: it stands
                return replace(refusal, reusable=False)
            raise
        if refusal is None and code not in accepted:
            refusal = Reply(stage, code, text)
            if not pipelined:
                break
    if refusal is not None:  # refused at MAIL, RCPT or DATA
        return replace(refusal, reusable=_abandon(smtp, after_354=code == 354))
    smtp.send(_stuffed(data) + b".\r\n")
    code, text = smtp.getreply()
    return Reply("sent" if code == 250 else "data", code, text)


def _commands(smtp: smtplib.SMTP, sender: str, recipient: str) -> tuple[bytes, bytes, bytes]:
    for address, is_sender in ((sender, True), (recipient, False)):
        if _LINE_BREAKERS.search(address):
            raise UnsendableAddressError(
                "an address holds a line break, a NUL or an angle bracket", sender=is_sender
            )
    options = ""
    if not (sender.isascii() and recipient.isascii()):
        if not smtp.has_extn("smtputf8"):
            raise UnsendableAddressError(
                "a non-ASCII address and a server without SMTPUTF8", sender=not sender.isascii()
            )
        options = " SMTPUTF8"
    mail = f"MAIL FROM:<{sender}>{options}\r\n".encode()
    return mail, f"RCPT TO:<{recipient}>\r\n".encode(), b"DATA\r\n"


def _abandon(smtp: smtplib.SMTP, *, after_354: bool) -> bool:
    """End a refused transaction; whether the connection can carry the next one."""
    try:
        if after_354:  # a server that took DATA with no recipient: an empty message ends it
            smtp.send(b".\r\n")
            smtp.getreply()
        return smtp.rset()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _stuffed(data: bytes) -> bytes:
    """The message as DATA needs it: leading dots doubled (RFC 5321 4.5.2), CRLF-ended."""
    if _has_leading_dot(data):
        data = _LEADING_DOT.sub(b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _has_leading_dot(data: bytes) -> bool:
    """Whether a line starts with a dot. Dots are rare in a built message (base64 has
    none), so looking at each one (a memchr) beats searching for "\\n." (~20 µs on an
    email); a body full of dots falls back to the regex."""
    at = data.find(b".")
    for _ in range(64):
        if at == -1:
            return False
        if at == 0 or data[at - 1] == 0x0A:
            return True
        at = data.find(b".", at + 1)
    return _LEADING_DOT.search(data) is not None
