"""The SMTP channel over STARTTLS with authentication, against aiosmtpd with a real certificate."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from campaigns.loader import load_config
from tests.workers.smtp_sink import Sink, _free_port
from workers.channels import make_channel
from workers.channels.base import OutgoingEmail
from workers.channels.smtp import PASSWORD_ENV, SmtpChannel, SmtpServer

MESSAGE = b"From: a@cafe.example\r\nTo: b@example.com\r\nSubject: tls\r\n\r\nhola\r\n"


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class Users:
    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"leal", b"s3cret")
        return AuthResult(success=ok, handled=False)


def test_starttls_and_login_then_the_message_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    sink, port = Sink(), _free_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, tls_context=tls, require_starttls=True,
        auth_required=True, authenticator=Users(),
    )  # fmt: skip
    controller.start()
    try:
        monkeypatch.setenv(PASSWORD_ENV, "s3cret")
        (tmp_path / "leal.toml").write_text(
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nusername = "leal"\n'
            f'ca_file = "{cert.name}"\n[delivery]\nemail = "smtp"\n',
            encoding="utf-8",
        )  # the relay's CA named in the settings, beside them
        channel = make_channel(load_config(tmp_path / "leal.toml")).email
        assert isinstance(channel, SmtpChannel)
        server = channel.server
        sent = channel.send_email(OutgoingEmail(1, "b@example.com", MESSAGE))
        # a wrong password is a refusal the deliverer retries, never a crash
        monkeypatch.setenv(PASSWORD_ENV, "wrong")
        refused = SmtpChannel(server).send_email(OutgoingEmail(2, "b@example.com", MESSAGE))
        # and a server whose certificate we cannot verify is not sent to
        unverified = SmtpChannel(SmtpServer("127.0.0.1", port, "starttls", "leal"))
        untrusted = unverified.send_email(OutgoingEmail(3, "b@example.com", MESSAGE))
        channel.close()
    finally:
        controller.stop()
    assert sent.verdict == "sent"
    assert sink.recipients == ["b@example.com"]
    assert (refused.verdict, refused.reason) == ("retry", "smtp_auth")  # never a "bounce"
    assert untrusted.verdict == "retry" and untrusted.reason == "smtp_unavailable"
