"""The unsubscribe pages of `leal serve` (the routes are in workers.web): the confirmation a
GET shows (a link scanner's GET changes nothing) and the page after the one-click POST, in
the customer's language (their locale, else the shop's), with the shop's name, in the
workers.web_pages shell."""

from __future__ import annotations

from markupsafe import Markup

from campaigns.config import ShopSettings
from templates.sandbox import make_environment
from workers.web_pages import page, page_language
from workers.web_words import UNSUBSCRIBE

_CONFIRM = make_environment(html=True).from_string(
    """<section class="card">
<h1>{{ ask }}</h1>
<p>{{ w.keep }}</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">\
<button type="submit">{{ w.button }}</button></form>
</section>
"""
)
_DONE = make_environment(html=True).from_string(
    """<section class="card">
<h1>{{ w.done }}</h1>
<p>{{ said }}</p>
<p class="muted">{{ w.keep }}</p>
</section>
"""
)


def confirm_page(shop: ShopSettings, locale: str | None, channel: str) -> str:
    """ "Stop emails (or text messages) from <shop>?" and the one-click form."""
    lang = page_language(locale, shop.default_locale)
    w = UNSUBSCRIBE[lang]
    ask = w["ask_email" if channel == "email" else "ask_sms"].format(shop=shop.name)
    body = Markup(_CONFIRM.render(w=w, ask=ask))  # noqa: S704 (autoescaped)
    return page(shop, lang, w["button"], body)


def done_page(shop: ShopSettings, locale: str | None, channel: str) -> str:
    """The page after the unsubscribe was committed."""
    lang = page_language(locale, shop.default_locale)
    w = UNSUBSCRIBE[lang]
    said = w["done_email" if channel == "email" else "done_sms"]
    body = Markup(_DONE.render(w=w, said=said))  # noqa: S704 (autoescaped)
    return page(shop, lang, w["done"], body)
