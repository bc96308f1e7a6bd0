"""SMS length: encoding, segments and the limits a campaign may not cross.

GSM 03.38 packs 160 septets in one SMS and 153 in each part of a longer one (the rest
carries the concatenation header); the extension table (`^{}\\[~]|€` and form feed) costs
two septets, and an escape pair never straddles two parts. One character outside GSM-7
(a curly quote, an emoji, a Romanian ș) switches the whole message to UCS-2: 70 UTF-16
units, 67 per part, a surrogate pair never split. Twilio refuses bodies over 1,600
characters.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7, UCS2 = "GSM-7", "UCS-2"
MAX_CHARACTERS = 1600
_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENSION = frozenset("^{}\\[~]|€\f")
_SINGLE = {GSM7: 160, UCS2: 70}
_PART = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SmsParts:
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    characters: int


class SmsTooLongError(ValueError):
    """The text needs more segments than the campaign allows, or more than 1,600 characters."""


def gsm_offenders(text: str) -> list[tuple[int, str]]:
    """(position, character) of every character outside GSM-7."""
    return [(i, c) for i, c in enumerate(text) if c not in _BASIC and c not in _EXTENSION]


def sms_parts(text: str) -> SmsParts:
    costs = _gsm_costs(text)
    encoding = GSM7 if costs is not None else UCS2
    if costs is None:
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]  # a surrogate pair is 2 units
    units = sum(costs)
    segments = 1 if units <= _SINGLE[encoding] else _pack(costs, _PART[encoding])
    return SmsParts(encoding, units, segments if text else 0, len(text))


def check_sms(text: str, max_segments: int) -> SmsParts:
    """The text's parts; SmsTooLongError when it is over budget or over 1,600 characters."""
    parts = sms_parts(text)
    if parts.characters > MAX_CHARACTERS:
        raise SmsTooLongError(
            f"{parts.characters} characters, over the {MAX_CHARACTERS}-character limit"
        )
    if parts.segments > max_segments:
        raise SmsTooLongError(
            f"{parts.segments} segments ({parts.encoding}, {parts.units} units) over the "
            f"budget of {max_segments}{_why_ucs2(text, parts)}"
        )
    return parts


def _gsm_costs(text: str) -> list[int] | None:
    """Septets per character, or None when a character is outside GSM-7."""
    costs = []
    for character in text:
        if character in _BASIC:
            costs.append(1)
        elif character in _EXTENSION:
            costs.append(2)
        else:
            return None
    return costs


def _pack(costs: list[int], per_part: int) -> int:
    """Parts needed when no character (escape pair, surrogate pair) may be split."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return parts


def _why_ucs2(text: str, parts: SmsParts) -> str:
    if parts.encoding == GSM7:
        return ""
    position, character = gsm_offenders(text)[0]
    return (
        f"; {character!r} (U+{ord(character):04X}) at position {position} is not in GSM-7 "
        "and makes the whole message UCS-2"
    )
