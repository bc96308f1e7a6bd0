"""One SMTP transaction (`workers.channels.smtp_transaction`) against aiosmtpd on loopback,
with and without PIPELINING: what arrives, where a refusal is reported, and that the
connection carries the next message after any refusal."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.workers.scripted_smtp import OK, Script, scripted_smtp
from tests.workers.smtp_sink import Sink, smtp_sink
from workers.channels.base import OutgoingEmail
from workers.channels.smtp import SmtpChannel, SmtpServer
from workers.channels.smtp_transaction import Reply, UnsendableAddressError, transact

FROM = "bounces@cafe.example"
MESSAGE = b"From: hola@cafe.example\r\nSubject: hi\r\n\r\nHello\r\n.hidden line\r\n..two\r\n"


class Counted(smtplib.SMTP):
    """smtplib.SMTP counting its writes: one write per round trip of commands."""

    writes = 0

    def send(self, s: Any) -> None:
        self.writes += 1
        super().send(s)


@pytest.fixture(params=[False, True], ids=["lockstep", "pipelining"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Sink, Counted]]:
    with smtp_sink() as (sink, port):
        sink.pipelining = request.param
        with Counted("127.0.0.1", port, timeout=10) as connection:
            yield sink, connection


def test_the_message_arrives_as_built_with_its_leading_dots(
    server: tuple[Sink, Counted],
) -> None:
    sink, connection = server
    reply = transact(connection, FROM, "ana@example.com", MESSAGE)
    assert reply == Reply("sent", 250, b"Message accepted")
    assert sink.messages == [MESSAGE]  # dot-stuffed on the wire, unstuffed by the server
    assert sink.recipients == ["ana@example.com"]


@pytest.mark.parametrize(
    "body",
    [b"no dot starts a line. Not. One.\r\n", b"a. " * 100 + b"\r\n.after a hundred dots\r\n",
     b"a. " * 100 + b"\r\n"],
    ids=["dots inside lines", "a leading dot after many dots", "many dots, none leading"],
)  # fmt: skip
def test_dots_arrive_as_written_wherever_they_are(
    server: tuple[Sink, Counted], body: bytes
) -> None:
    sink, connection = server
    message = b"Subject: dots\r\n\r\n" + body
    assert transact(connection, FROM, "ana@example.com", message).stage == "sent"
    assert sink.messages == [message]


def test_pipelining_takes_two_round_trips_and_lockstep_four(
    server: tuple[Sink, Counted],
) -> None:
    sink, connection = server
    connection.ehlo()
    before = connection.writes
    transact(connection, FROM, "ana@example.com", MESSAGE)
    assert connection.writes - before == (2 if sink.pipelining else 4)


@pytest.mark.parametrize(
    ("refusal", "stage", "code"),
    [
        ({"mail_reply": "550 5.7.1 sender refused"}, "mail", 550),
        ({"replies": {"ana@example.com": "450 4.2.1 mailbox busy"}}, "rcpt", 450),
        ({"replies": {"ana@example.com": "550 5.1.1 no such user"}}, "rcpt", 550),
        ({"data_reply": "554 5.6.0 message refused"}, "data", 554),
    ],
)
def test_a_refusal_names_its_stage_and_the_connection_carries_the_next_message(
    server: tuple[Sink, Counted], refusal: dict[str, object], stage: str, code: int
) -> None:
    sink, connection = server
    for name, value in refusal.items():
        setattr(sink, name, value)
    reply = transact(connection, FROM, "ana@example.com", MESSAGE)
    assert (reply.stage, reply.code) == (stage, code)
    sink.mail_reply, sink.data_reply, sink.replies = None, None, {}
    assert transact(connection, FROM, "bo@example.com", MESSAGE).stage == "sent"
    assert sink.recipients == ["bo@example.com"]


@pytest.mark.parametrize("address", ["ana@example.com\r\nRCPT TO:<x@evil.example>",
                                     "ana@example.com>", "a\x00@example.com"])  # fmt: skip
def test_an_address_that_could_end_the_command_line_is_never_sent(
    server: tuple[Sink, Counted], address: str
) -> None:
    sink, connection = server
    with pytest.raises(UnsendableAddressError):
        transact(connection, FROM, address, MESSAGE)
    assert transact(connection, FROM, "bo@example.com", MESSAGE).stage == "sent"
    assert sink.recipients == ["bo@example.com"]


def test_a_non_ascii_address_needs_a_server_with_smtputf8() -> None:
    with (
        smtp_sink() as (_, port),
        smtplib.SMTP("127.0.0.1", port, timeout=10) as connection,
        pytest.raises(UnsendableAddressError, match="SMTPUTF8"),
    ):
        transact(connection, FROM, "josé@example.com", MESSAGE)
    with smtp_sink(smtputf8=True) as (sink, port):
        connection = smtplib.SMTP("127.0.0.1", port, timeout=10)
        assert transact(connection, FROM, "josé@example.com", MESSAGE).stage == "sent"
        connection.quit()
    assert sink.recipients == ["josé@example.com"]


@pytest.mark.parametrize("pipelining", [False, True], ids=["lockstep", "pipelining"])
@pytest.mark.parametrize(
    ("replies", "hang_up_after", "outcome", "sessions"),
    [
        ({"RCPT": "550 5.1.1 no such user"}, "RCPT", ("failed", "hard_bounce"), (2, 2)),
        ({"RCPT": "550 5.1.1 no such user", "DATA": "421 4.7.0 too many errors"}, "DATA",
         ("failed", "hard_bounce"), (1, 2)),  # lockstep never sends DATA: RSET, reused
        ({"MAIL": "554 5.7.1 your IP is blocked"}, "MAIL", ("failed", "smtp_rejected"), (2, 2)),
        ({"RCPT": "550 5.1.1 no such user", "RSET": "421 4.7.0 closing"}, "RSET",
         ("failed", "hard_bounce"), (2, 2)),
        ({"RCPT": "550 5.1.1 no such user", "DATA": "354 go on"}, "", ("failed", "hard_bounce"),
         (1, 1)),  # DATA taken with no recipient: an empty message, RSET, reused
    ],
    ids=["refuse-rcpt-then-hang-up", "refuse-rcpt-421-data", "refuse-mail-then-hang-up",
         "rset-421", "354-with-no-recipient"],
)  # fmt: skip
def test_a_refusal_stands_when_the_server_hangs_up_and_the_next_message_reconnects(
    pipelining: bool,
    replies: dict[str, str],
    hang_up_after: str,
    outcome: tuple[str, str],
    sessions: tuple[int, int],
) -> None:
    script = Script(pipelining=pipelining, replies=replies, hang_up_after=hang_up_after)
    with scripted_smtp(script) as port:
        channel = SmtpChannel(SmtpServer("127.0.0.1", port, "none", envelope_from=FROM))
        refused = channel.send_email(OutgoingEmail(1, "gone@example.com", MESSAGE))
        script.replies, script.hang_up_after = dict(OK), ""  # fine again for the next one
        sent = channel.send_email(OutgoingEmail(2, "ana@example.com", MESSAGE))
        channel.close()
    assert (refused.verdict, refused.reason) == outcome
    assert sent.verdict == "sent" and script.delivered == 1
    assert script.sessions == sessions[pipelining]  # a hung-up connection is never reused


def test_a_sender_that_cannot_go_on_the_command_line_is_ours_to_fix_not_a_bad_address() -> None:
    with smtp_sink() as (sink, port):
        channel = SmtpChannel(SmtpServer("127.0.0.1", port, "none", envelope_from="Shop <b@x.io>"))
        outcome = channel.send_email(OutgoingEmail(1, "ana@example.com", MESSAGE))
        channel.close()
    assert (outcome.verdict, outcome.reason) == ("retry", "smtp_sender")
    assert sink.recipients == []
