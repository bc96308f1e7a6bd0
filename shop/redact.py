"""Personal data out of free text before it is stored or logged: ledger details, skip reasons.

Provider replies and error messages quote what they were given: an SMTP server's
`550 <ana@example.com>: unknown user`, Twilio's `The 'To' number +34600000000 is not
valid`, email-validator and Leal's own header checks. Leal keeps those words for the
operator but not the address, number or name in them. Known values (the recipient's) are
replaced first, then anything shaped like an address or a phone number: the patterns are
deliberately broad, as a detail that loses a date to `<number>` costs nothing and one that
keeps an address is a leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ADDRESS = "<address>"
NUMBER = "<number>"
NAME = "<name>"
# anything@anything, a quoted local part included: no attempt to be exact
_ADDRESS = re.compile(r"(?:\"[^\"\r\n]*\"|[^\s<>()\[\]{},;:\"'`]*)@[^\s<>()\[\]{},;:\"'`]+")
# 7 or more digits, optionally after +, with single spaces, dots, dashes or brackets between
_NUMBER = re.compile(r"\+?\(?\d(?:[ .()-]?\d){6,}")
_SHORTEST_NAME = 2  # a one-letter name would blank out every occurrence of that letter


def redact(text: str, names: Iterable[str | None] = (), known: Iterable[str | None] = ()) -> str:
    """`text` without `known` values (addresses, numbers), `names`, nor anything shaped
    like an address or a phone number."""
    for value in known:
        if value:
            text = text.replace(value, ADDRESS if "@" in value else NUMBER)
    for name in names:
        if name and len(name.strip()) >= _SHORTEST_NAME:
            text = text.replace(name.strip(), NAME)
    text = _ADDRESS.sub(ADDRESS, text)
    return _NUMBER.sub(NUMBER, text)
