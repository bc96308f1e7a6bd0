"""What a real delivery needs: every missing or unsafe setting, named by file:line or by
its environment variable, in `leal check` too."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from campaigns.cli import main
from campaigns.loader import load_config
from campaigns.readiness import delivery_problems

READY = """\
[shop]
url = "https://cafe-leal.es"
postal_address = "Carrer de la Pau 1, 08001 Barcelona"

[web]
public_url = "https://leal.cafe-leal.es"

[email]
from_address = "hola@cafe-leal.es"

[delivery]
email = "smtp"
sms = "twilio"

[smtp]
host = "smtp.cafe-leal.es"
username = "leal"

[twilio]
account_sid = "AC0123456789abcdef0123456789abcdef"
from_number = "+34612345678"
status_callback = "https://leal.cafe-leal.es/twilio/status"

[campaigns.birthday]
trigger = "birthday"
channels = ["email", "sms"]
template = "birthday"
"""

FILES_ONLY = '[campaigns.b]\ntrigger = "birthday"\nchannels = ["email"]\ntemplate = "birthday"\n'

SECRETS = {
    "LEAL_SECRET_KEY": "k" * 32,
    "LEAL_SMTP_PASSWORD": "relay password",
    "LEAL_TWILIO_AUTH_TOKEN": "twilio token",
}


def _problems(tmp_path: Path, text: str, environ: dict[str, str] = SECRETS) -> list[str]:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return [str(problem) for problem in delivery_problems(load_config(path), environ)]


def _at(tmp_path: Path, text: str, key_line: str) -> str:
    """`file:line` of the line of `text` that starts with `key_line`."""
    number = next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(key_line))
    return f"{tmp_path / 'settings.toml'}:{number}: "


def test_a_ready_configuration_has_no_problem(tmp_path: Path) -> None:
    assert _problems(tmp_path, READY) == []


def test_the_file_channels_need_no_public_url_nor_secret(tmp_path: Path) -> None:
    # given the defaults: files only, http://localhost, shop.example, no secret
    text = FILES_ONLY
    # then development needs nothing more
    assert _problems(tmp_path, text, environ={}) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('public_url = "https://leal', 'public_url = "http://leal', "is not https"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://localhost:8443"',
         "localhost is a reserved name"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://127.0.0.5"',
         "loopback, private or reserved address"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://[::1]:8000"',
         "loopback, private or reserved address"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://10.0.0.7"',
         "loopback, private or reserved address"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://leal.localhost"',
         "reserved name"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://leal.shop.example"',
         "reserved name"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://leal.test"',
         "reserved name"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://leal.invalid"',
         "reserved name"),
        ('public_url = "https://leal.cafe-leal.es"', 'public_url = "https://leal.local"',
         "reserved name"),
    ],
)  # fmt: skip
def test_public_url_must_be_https_on_a_host_customers_reach(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    # given a real channel and an unsafe public_url
    text = READY.replace(old, new)
    # when readiness is checked
    problems = _problems(tmp_path, text)
    # then the problem names the line of public_url
    where = _at(tmp_path, text, "public_url")
    assert any(p.startswith(where + "web.public_url") and expected in p for p in problems), problems


def test_the_shop_url_must_be_reachable_too(tmp_path: Path) -> None:
    text = READY.replace("https://cafe-leal.es", "https://shop.example")
    problems = _problems(tmp_path, text)
    assert [p for p in problems if p.startswith(_at(tmp_path, text, "url ="))], problems


def test_secret_key_is_required_with_a_real_channel(tmp_path: Path) -> None:
    environ = {k: v for k, v in SECRETS.items() if k != "LEAL_SECRET_KEY"}
    problems = _problems(tmp_path, READY, environ)
    assert [p for p in problems if p.startswith("environment LEAL_SECRET_KEY: not set")], problems


def test_a_short_secret_key_is_an_error_even_with_the_file_channels(tmp_path: Path) -> None:
    # given the file channels and a 10-byte key that the signer refuses
    text = FILES_ONLY
    problems = _problems(tmp_path, text, {"LEAL_SECRET_KEY": "0123456789"})
    # then it is named
    assert problems == [
        "environment LEAL_SECRET_KEY: too short: LEAL_SECRET_KEY must hold at least 16 bytes"
    ]


@pytest.mark.parametrize(
    ("old", "new", "environ", "key_line", "expected"),
    [
        ("", "", {"LEAL_SMTP_PASSWORD": ""}, "username", "LEAL_SMTP_PASSWORD is not"),
        ('username = "leal"\n', "", {}, "[smtp]", "would never be used"),
        ('host = "smtp.cafe-leal.es"', 'host = "smtp.cafe-leal.es"\nsecurity = "none"', {},
         "security", "clear text"),
        ('username = "leal"', 'username = "leal"\nca_file = "missing.pem"', {}, "ca_file",
         "no file"),
        ('postal_address = "Carrer de la Pau 1, 08001 Barcelona"', 'postal_address = "  "', {},
         "postal_address", "must give the sender's address"),
        ('from_address = "hola@cafe-leal.es"', 'from_address = "hola@shop.example"', {},
         "from_address", "reserved name"),
        ('from_address = "hola@cafe-leal.es"',
         'from_address = "hola@cafe-leal.es"\nreply_to = "a@example.org"', {}, "reply_to",
         "reserved name"),
        ('username = "leal"', 'username = "leal"\nenvelope_from = "b@example.com"', {},
         "envelope_from", "reserved name"),
    ],
)  # fmt: skip
def test_smtp_needs_its_password_tls_and_real_addresses(
    tmp_path: Path, old: str, new: str, environ: dict[str, str], key_line: str, expected: str
) -> None:
    # given a ready configuration with one SMTP setting missing or unsafe
    text = READY.replace(old, new) if old else READY
    secrets = {k: v for k, v in (SECRETS | environ).items() if v}
    # when readiness is checked
    problems = _problems(tmp_path, text, secrets)
    # then that one setting is named, with its line
    where = _at(tmp_path, text, key_line)
    assert [p for p in problems if p.startswith(where) and expected in p], problems


def test_security_none_is_fine_to_a_relay_on_this_machine(tmp_path: Path) -> None:
    text = READY.replace('host = "smtp.cafe-leal.es"', 'host = "127.0.0.1"\nsecurity = "none"')
    assert _problems(tmp_path, text) == []


@pytest.mark.parametrize(
    ("old", "new", "where", "expected"),
    [
        ('account_sid = "AC0123456789abcdef0123456789abcdef"', 'account_sid = ""',
         "account_sid", "not an account SID"),
        ('from_number = "+34612345678"\n', "", "[twilio]", "set from_number"),
        ('from_number = "+34612345678"', 'from_number = "612 34 56 78"', "from_number",
         "not a number in E.164"),
        ('from_number = "+34612345678"', 'messaging_service_sid = "service"',
         "messaging_service_sid", "not a Messaging Service SID"),
        ("https://leal.cafe-leal.es/twilio/status", "http://leal.cafe-leal.es/twilio/status",
         "status_callback", "is not https"),
        ("https://leal.cafe-leal.es/twilio/status", "https://other.cafe-leal.es/twilio/status",
         "status_callback", "would refuse every callback's signature"),
        ("[twilio]\n", "[twilio]\nrate_per_second = 0.5\n", "[delivery]", "claim_timeout"),
    ],
)  # fmt: skip
def test_twilio_needs_its_account_sender_and_callback(
    tmp_path: Path, old: str, new: str, where: str, expected: str
) -> None:
    # given a ready configuration with one Twilio setting missing or unsafe
    text = READY.replace(old, new)
    # when readiness is checked
    problems = _problems(tmp_path, text)
    # then that setting is named, with its line (the table's when the key is not written)
    at = _at(tmp_path, text, where)
    assert [p for p in problems if p.startswith(at) and expected in p], problems


def test_twilio_needs_its_auth_token(tmp_path: Path) -> None:
    environ = {k: v for k, v in SECRETS.items() if k != "LEAL_TWILIO_AUTH_TOKEN"}
    problems = _problems(tmp_path, READY, environ)
    assert [p for p in problems if p.startswith("environment LEAL_TWILIO_AUTH_TOKEN: not set")]


def test_leal_check_lists_every_delivery_problem_and_exits_1(tmp_path: Path) -> None:
    # given real channels on the default public_url, without any secret
    text = READY.replace("https://leal.cafe-leal.es", "http://localhost:8000")
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    unset: dict[str, str | None] = dict.fromkeys(SECRETS)
    # when `leal check` runs
    result = CliRunner().invoke(main, ["--settings", str(path), "check"], env=unset)
    # then each problem is a line and the exit code says so
    assert result.exit_code == 1, result.output
    for expected in (
        f"{path}:6: web.public_url 'http://localhost:8000' is not https",
        f"{path}:6: web.public_url 'http://localhost:8000' cannot be reached",
        "environment LEAL_SECRET_KEY: not set",
        f"{path}:17: smtp.username is set but LEAL_SMTP_PASSWORD is not",
        "environment LEAL_TWILIO_AUTH_TOKEN: not set",
        f"{path}:22: twilio.status_callback",
    ):
        assert expected in result.output, expected
    assert ": OK (" not in result.output


def test_leal_check_says_a_ready_configuration_is_ready(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(READY, encoding="utf-8")
    result = CliRunner().invoke(main, ["--settings", str(path), "check"], env=SECRETS)
    assert result.exit_code == 0, result.output
    assert "OK (1 campaigns)" in result.output
    assert "delivery: ready for smtp and twilio" in result.output


def test_leal_check_without_a_settings_file_is_not_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a folder without settings.toml (the defaults have no campaign)
    monkeypatch.chdir(tmp_path)
    # when `leal check` runs there
    result = CliRunner().invoke(main, ["check"], env={"LEAL_SETTINGS": None})
    # then it says so and fails
    assert result.exit_code == 1
    assert (
        "settings.toml: not found here; give --settings PATH or set LEAL_SETTINGS" in result.output
    )
