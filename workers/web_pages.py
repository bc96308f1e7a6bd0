"""The pages a customer sees in `leal serve` (survey, thank-you, loyalty card, unsubscribe):
one shell, in the customer's language, with the shop's name, fast on a phone.

Every page is rendered by the sandboxed Jinja environment with autoescape (templates.sandbox):
customer data is a value, never markup. The shell loads nothing from anywhere (CSS inline, no
script, no font, no image from a third party) and says so in its Content-Security-Policy,
which `page_response` also sends as a header.

Pages keep their words in a dict per language, like `WORDS` below; `words(table, locale)`
picks the customer's language, else English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import HTMLResponse
from markupsafe import Markup

from campaigns.config import ShopSettings
from templates.sandbox import make_environment

LANGUAGES = ("en", "es", "ca", "it", "ro")
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The page's own copy (a saved page keeps it) without frame-ancestors, which browsers
# honour only as a header and report as an error in a <meta>.
META_CSP = CSP.removesuffix("; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",  # the path holds a token
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
NOT_INDEXED = {"X-Robots-Tag": "noindex, nofollow"}  # a personal page, never in a search engine

WORDS: dict[str, dict[str, str]] = {
    "en": {"invalid": "This link is not valid.", "gone": "This link is no longer valid."},
    "es": {"invalid": "Este enlace no es válido.", "gone": "Este enlace ya no es válido."},
    "ca": {"invalid": "Aquest enllaç no és vàlid.", "gone": "Aquest enllaç ja no és vàlid."},
    "it": {"invalid": "Questo link non è valido.", "gone": "Questo link non è più valido."},
    "ro": {"invalid": "Acest link nu este valid.", "gone": "Acest link nu mai este valid."},
}

_SHELL = make_environment(html=True).from_string(
    """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{{ title }} · {{ shop }}</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#2b2521;background:#f6f1ec}
header{background:#3b2f2a;color:#fff;padding:14px 20px;font-weight:600}
header a{color:#fff;text-decoration:none}
main{max-width:34rem;margin:0 auto;padding:20px}
.card{background:#fff;border-radius:12px;padding:20px;margin:0 0 16px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:0 0 12px}
h2{font-size:1.1rem;margin:0 0 8px}
.muted{color:#7b6f66;font-size:.9rem}
button,.button{display:inline-block;background:#b5542c;color:#fff;border:0;border-radius:8px;
padding:12px 18px;font-size:1rem;cursor:pointer;text-decoration:none}
textarea{width:100%;min-height:6rem;font:inherit;padding:8px;border:1px solid #d8cdc3;
border-radius:8px}
table{width:100%;border-collapse:collapse}
td,th{padding:6px 4px;text-align:left;border-bottom:1px solid #eee3da}
.scale{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.scale label{flex:1 0 2.4rem;text-align:center}
.scale input{position:absolute;opacity:0}
.scale span{display:block;padding:10px 0;border:1px solid #d8cdc3;border-radius:8px;
background:#fff}
.scale input:checked+span{background:#b5542c;color:#fff;border-color:#b5542c}
.scale input:focus-visible+span{outline:2px solid #3b2f2a}
.ends{display:flex;justify-content:space-between}
.bar{height:10px;background:#eee3da;border-radius:5px;overflow:hidden}
.bar>i{display:block;height:100%;background:#b5542c}
.big{font-size:1.6rem;font-weight:700;line-height:1.2;margin:4px 0 8px;overflow-wrap:anywhere}
.num{text-align:right;white-space:nowrap}
</style>
</head>
<body>
<header><a href="{{ shop_url }}">{{ shop }}</a></header>
<main>{{ body }}</main>
</body>
</html>
"""
)


def language_code(locale: str) -> str:
    """A locale's language: `ca_ES`, `ca-ES` and `CA` are all `ca`."""
    return locale.replace("-", "_").split("_")[0].lower()


def language(locale: str | None) -> str:
    """The shipped language closest to `locale`: its language, else English."""
    return page_language(locale, "en")


def page_language(customer_locale: str | None, default_locale: str) -> str:
    """The customer's language when Leal speaks it, else the shop's, else English."""
    for locale in (customer_locale, default_locale):
        code = language_code(locale or "")
        if code in LANGUAGES:
            return code
    return "en"


def words(table: Mapping[str, Mapping[str, str]], locale: str | None) -> Mapping[str, str]:
    return table.get(language(locale)) or table["en"]


def page(shop: ShopSettings, locale: str | None, title: str, body: Markup | str) -> str:
    """The whole page: `body` is trusted markup (render it with `render_body`), anything
    else is escaped."""
    return _SHELL.render(
        lang=language(locale), csp=META_CSP, title=title, shop=shop.name, shop_url=shop.url,
        body=body,
    )  # fmt: skip


def render_body(source: str, **values: Any) -> Markup:
    """A page body from a template string, values escaped (the sandbox, autoescape)."""
    return Markup(make_environment(html=True).from_string(source).render(**values))  # noqa: S704 (rendered with autoescape)


def page_response(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def personal(response: HTMLResponse) -> HTMLResponse:
    """`response`, marked as a personal page no search engine may index."""
    response.headers.update(NOT_INDEXED)
    return response


def link_problem(shop: ShopSettings, locale: str | None, status_code: int) -> HTMLResponse:
    """A page for a link that is forged (403) or names nothing any more (404, 410): the
    same words whoever asks, revealing nothing about a customer."""
    said = words(WORDS, locale)["gone" if status_code in (404, 410) else "invalid"]
    return page_response(page(shop, locale, said, render_body("<h1>{{ t }}</h1>", t=said)),
                         status_code)  # fmt: skip
