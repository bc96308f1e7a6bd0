"""Unsubscribe tokens: round trip, forgery, tampering, the key's source."""

from __future__ import annotations

import pytest

from templates.unsubscribe import SECRET_ENV, BadTokenError, MissingSecretError, Signer, Unsubscribe

KEY = b"k" * 32


def test_a_token_names_its_customer_and_channel() -> None:
    signer = Signer(KEY)
    token = signer.token("C0042", "email")
    assert signer.verify(token) == Unsubscribe("C0042", "email")
    assert token != signer.token("C0042", "sms")  # one per channel


def test_a_token_signed_with_another_key_is_refused() -> None:
    forged = Signer(b"x" * 32).token("C0042", "email")
    with pytest.raises(BadTokenError, match="bad signature"):
        Signer(KEY).verify(forged)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(t.split(".")[0], Signer(KEY).token("C0043", "email").split(".")[0]),
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: "ünï.côdé",
        lambda t: t + "%",
    ],
    ids=["other-customer-payload", "changed-mac", "no-mac", "empty", "non-ascii", "junk"],
)
def test_a_tampered_token_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    token = Signer(KEY).token("C0042", "email")
    with pytest.raises(BadTokenError):
        Signer(KEY).verify(tamper(token))


def test_tokens_of_neighbouring_customers_share_no_guessable_part() -> None:
    signer = Signer(KEY)
    macs = {signer.token(f"C{n:04d}", "email").split(".")[1] for n in range(1000)}
    assert len(macs) == 1000


def test_the_key_comes_only_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.raises(MissingSecretError):
        Signer.from_env()
    throwaway = Signer.from_env(ephemeral_ok=True)
    monkeypatch.setenv(SECRET_ENV, KEY.decode())
    token = Signer.from_env().token("C1", "sms")
    assert Signer(KEY).verify(token) == Unsubscribe("C1", "sms")
    with pytest.raises(BadTokenError):
        throwaway.verify(token)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(MissingSecretError, match="16 bytes"):
        Signer(b"short")
