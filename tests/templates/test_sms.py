"""SMS encoding and segments at their edges."""

from __future__ import annotations

import pytest

from templates.sms import GSM7, UCS2, SmsTooLongError, check_sms, gsm_offenders, sms_parts


@pytest.mark.parametrize(
    ("length", "segments"), [(160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_segments_at_the_edges(length: int, segments: int) -> None:
    parts = sms_parts("a" * length)
    assert (parts.encoding, parts.units, parts.segments) == (GSM7, length, segments)


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_segments_at_the_edges(length: int, segments: int) -> None:
    parts = sms_parts("ș" * length)
    assert (parts.encoding, parts.segments) == (UCS2, segments)


def test_gsm_accents_stay_gsm7_but_spanish_acute_vowels_do_not() -> None:
    assert sms_parts("Cafè Leal: è é ù ì ò à Ç Ñ ñ ü ¿¡ £ ¥ Δ").encoding == GSM7
    assert sms_parts("Hola, José").encoding == GSM7  # é is in the basic set
    assert sms_parts("Feliç aniversari, Maria").encoding == UCS2  # ç is not (only Ç is)


def test_one_curly_quote_switches_the_whole_message() -> None:
    text = "a" * 99 + "’"
    parts = sms_parts(text)
    assert (parts.encoding, parts.units, parts.segments) == (UCS2, 100, 2)
    assert gsm_offenders(text) == [(99, "’")]


def test_an_emoji_outside_the_bmp_counts_two_units() -> None:
    assert sms_parts("🎂").units == 2
    assert sms_parts("🎂" * 35).segments == 1
    assert sms_parts("🎂" * 36).segments == 2


def test_extension_characters_cost_two_septets() -> None:
    assert sms_parts("€" * 80).units == 160
    assert sms_parts("€" * 80).segments == 1
    assert sms_parts("€" * 81).segments == 2


def test_an_escape_pair_never_straddles_two_parts() -> None:
    # 152 septets then a euro (2 septets): the euro moves to part 2, which fills with 151
    # more letters, and the last letter needs part 3; split anywhere, 306 septets fit two
    text = "a" * 152 + "€" + "a" * 152
    parts = sms_parts(text)
    assert parts.units == 306
    assert parts.segments == 3


def test_a_surrogate_pair_never_straddles_two_parts() -> None:
    text = "ș" * 66 + "🎂" + "ș" * 66  # 134 units, but the cake cannot split at 67
    parts = sms_parts(text)
    assert parts.units == 134
    assert parts.segments == 3


def test_the_budget_error_names_the_character_that_forced_ucs2() -> None:
    text = "Hola Maria, t'esperem a Cafè Leal amb un 15% de descompte al teu aniversari. " * 2
    text = text.replace("t'esperem", "t’esperem", 1)
    with pytest.raises(
        SmsTooLongError, match=r"3 segments \(UCS-2.*'’' \(U\+2019\) at position 13"
    ):
        check_sms(text, max_segments=2)
    assert check_sms(text.replace("’", "'"), max_segments=2).encoding == GSM7


def test_the_1600_character_limit_holds_whatever_the_budget() -> None:
    assert check_sms("a" * 1600, max_segments=20).characters == 1600
    with pytest.raises(SmsTooLongError, match="1601 characters"):
        check_sms("a" * 1601, max_segments=20)


def test_an_empty_text_has_no_segments() -> None:
    assert sms_parts("").segments == 0
