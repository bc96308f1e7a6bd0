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


# Every spelling a lenient base64 decoder would read as the same bytes.
_EXTRA = "=+/ \t\n.%"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _one_edit_spellings(token: str) -> set[str]:
    """Every token one deletion, insertion or substitution away from `token`."""
    spellings = set()
    for at in range(len(token) + 1):
        spellings.add(token[:at] + token[at + 1 :])
        for char in _ALPHABET + _EXTRA:
            spellings.add(token[:at] + char + token[at:])
            spellings.add(token[:at] + char + token[at + 1 :])
    spellings.discard(token)
    return spellings


@pytest.mark.parametrize("customer_id", ["C0042", "C1", "ß-ü", "a" * 40])
def test_no_other_spelling_of_a_valid_token_verifies(customer_id: str) -> None:
    # given a valid token (payload lengths with 0, 2 and 4 spare trailing bits)
    signer = Signer(KEY)
    token = signer.token(customer_id, "email")
    # when any single character is dropped, added or changed
    accepted = []
    for spelling in _one_edit_spellings(token):
        try:
            signer.verify(spelling)
        except BadTokenError:
            continue
        accepted.append(spelling)
    # then none verifies: a token has one spelling
    assert accepted == []


def _respellings(token: str) -> dict[str, str]:
    """Spellings of the same bytes that `base64.urlsafe_b64decode` would accept."""
    payload, mac = token.split(".")
    mac_bits = _ALPHABET.index(mac[-1])  # 16 bytes: the last character carries 4 spare bits
    return {
        "padded": f"{payload}{'=' * (-len(payload) % 4) or '=='}.{mac}==",
        "standard-alphabet": token.replace("-", "+").replace("_", "/"),
        "whitespace": f"{payload[:3]} {payload[3:]}.{mac}",
        "newline": f"{payload}.{mac}\n",
        "trailing-bits": f"{payload}.{mac[:-1]}{_ALPHABET[mac_bits ^ 1]}",
    }


def test_respelled_tokens_that_decode_to_the_same_bytes_are_refused() -> None:
    signer = Signer(KEY)
    # a customer whose token holds both URL-safe characters, so `+/` is a real respelling
    token = next(t for n in range(10_000) if {"-", "_"} <= set(t := signer.token(f"C{n}", "email")))
    for name, spelling in _respellings(token).items():
        assert spelling != token, name
        with pytest.raises(BadTokenError):
            signer.verify(spelling)
