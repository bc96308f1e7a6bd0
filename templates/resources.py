"""Resources an email would load by itself (images, stylesheets, fonts, CSS `url()`), as
opposed to links the reader may click. Each one outside the shop's own hosts is a
third-party request from every reader who opens the email: `leal check` names them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Attributes that load (not `href` of a link or button), `<link>`/`<mj-font>` hrefs, and CSS.
RESOURCE = re.compile(
    r"""(?:\b(?:src|srcset|background|background-url|poster)\s*=\s*["']?"""
    r"""|url\(\s*["']?|@import\s+["']?"""
    r"""|<(?:link|mj-font)\b[^>]*?\bhref\s*=\s*["'])"""
    r"""\s*((?:https?:)?//[^\s"'()<>]+)""",
    re.I,
)


def external_resources(text: str, own_hosts: set[str]) -> list[tuple[int, str]]:
    """(line, URL) of each absolute resource URL in `text` whose host is not one of
    `own_hosts` (lowercase)."""
    found = []
    for match in RESOURCE.finditer(text):
        url = match.group(1)
        host = (urlsplit(url if "://" in url else f"https:{url}").hostname or "").lower()
        if host not in own_hosts:
            found.append((text.count("\n", 0, match.start()) + 1, url))
    return found
