"""A raw SMTP server on loopback that answers from a script and may hang up after any
reply: what aiosmtpd cannot be made to do (refuse, then close the connection)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

OK = {"MAIL": "250 ok", "RCPT": "250 ok", "DATA": "354 go on", "END": "250 queued",
      "RSET": "250 reset"}  # fmt: skip


class Script:
    def __init__(
        self, *, pipelining: bool, replies: dict[str, str], hang_up_after: str = ""
    ) -> None:
        self.pipelining = pipelining
        self.replies = {**OK, **replies}  # per verb; "END" is the reply to the message
        self.hang_up_after = hang_up_after  # the verb after whose reply the server closes
        self.sessions = 0
        self.delivered = 0


def _session(connection: socket.socket, script: Script) -> None:
    script.sessions += 1
    stream = connection.makefile("rb")
    connection.sendall(b"220 scripted ESMTP\r\n")
    in_data, recipients = False, 0
    for raw in stream:
        if in_data:
            if raw != b".\r\n":
                continue
            in_data, verb = False, "END"
        else:
            verb = raw[:4].decode().upper()
        if verb == "EHLO":
            connection.sendall(b"250-scripted\r\n" + (b"250-PIPELINING\r\n" if script.pipelining
                                                       else b"") + b"250 8BITMIME\r\n")  # fmt: skip
            continue
        if verb == "QUIT":
            connection.sendall(b"221 bye\r\n")
            break
        reply = script.replies[verb]
        if verb == "DATA" and not recipients and reply == OK["DATA"]:
            reply = "554 5.5.1 no valid recipients"
        recipients += verb == "RCPT" and reply.startswith("25")
        in_data = verb == "DATA" and reply.startswith("354")
        script.delivered += verb == "END" and reply.startswith("250") and recipients > 0
        if verb in ("END", "RSET"):  # the transaction is over
            recipients = 0
        connection.sendall(reply.encode() + b"\r\n")
        if verb == script.hang_up_after:
            break
    stream.close()
    connection.close()


@contextmanager
def scripted_smtp(script: Script) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_session, args=(connection, script), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield port
    finally:
        listener.close()
