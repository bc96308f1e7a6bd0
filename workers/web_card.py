"""GET /card/{token}: the customer's own loyalty card in `leal serve`, no login.

Every message carries the link (templates.links.card_url): a token signed under
LEAL_SECRET_KEY for the purpose `card`, naming the customer alone, so it opens no survey and
unsubscribes nobody, and no other purpose's token opens a card. The page (shop.card) shows
the points and what they buy, the tier and the way to the next, the reward codes, the points
expiring and when, the last orders and the points for interactions, in the customer's
language (their locale, else the shop's), in the workers.web_pages shell: no script, nothing
loaded from anywhere, `no-store`.

- a forged or altered token, or one made for another purpose: 403, the shell's neutral words;
- an unknown or erased customer: 404 with the words of any dead link, byte for byte the
  same whoever it named, in the shop's language: it reveals nothing, not even that the
  customer existed;
- no LEAL_SECRET_KEY: 503, like the unsubscribe routes (`route_status` says why).

The token is in the path: workers.web_guard keeps it out of the access log.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import Engine

from campaigns.config import Settings
from shop.card import Card, loyalty_card
from templates.links import open_card_token
from templates.sandbox import format_count, format_date, format_money, make_environment
from templates.tiers import tier_name
from templates.unsubscribe import BadTokenError, Signer
from workers.web_pages import link_problem, page, page_language, page_response, personal
from workers.web_words import POINTS

ACTIONS = ("review", "referral", "survey_answered")  # the actions WORDS names

# Noun forms by CLDR plural category (templates.sandbox.format_count): Romanian says
# "1 punct", "19 puncte", "20 de puncte".
NOUNS: dict[str, dict[str, dict[str, str]]] = {
    "en": {"points": POINTS["en"],
           "rewards": {"one": "reward", "other": "rewards"},
           "days": {"one": "day", "other": "days"}},
    "es": {"points": POINTS["es"],
           "rewards": {"one": "recompensa", "other": "recompensas"},
           "days": {"one": "día", "other": "días"}},
    "ca": {"points": POINTS["ca"],
           "rewards": {"one": "recompensa", "other": "recompenses"},
           "days": {"one": "dia", "other": "dies"}},
    "it": {"points": POINTS["it"],
           "rewards": {"one": "premio", "other": "premi"},
           "days": {"one": "giorno", "other": "giorni"}},
    "ro": {"points": POINTS["ro"],
           "rewards": {"one": "recompensă", "few": "recompense", "other": "de recompense"},
           "days": {"one": "zi", "few": "zile", "other": "de zile"}},
}  # fmt: skip

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your loyalty card", "hello": "Hello, {name}!", "balance": "Your points",
        "worth": "Worth {rewards} of {percent} off.",
        "next_reward": "{points} more for your next reward.",
        "rule": "Every {points}: {percent} off an order.",
        "tier": "Your level", "earned": "You earned {points} in the last {days}.",
        "to_next": "{points} more to reach {tier}.", "top": "You are at our highest level.",
        "rewards": "Your rewards", "off": "{percent} off", "until": "Valid until {date}",
        "use": "Enter the code at checkout.",
        "expiring": "Points expiring",
        "expiring_note": "We use your oldest points first. Use them before they expire.",
        "expires_on": "Expire on", "points": "Points", "date": "Date", "total": "Total",
        "what": "What", "orders": "Recent orders", "reversed": "reversed",
        "bonuses": "Points for what you did", "as_of": "Updated {date}.",
        "private": "This page is yours alone: please do not share its link.",
        "review": "Review", "referral": "Referral", "survey_answered": "Survey answered",
    },
    "es": {
        "title": "Tu tarjeta de fidelidad", "hello": "¡Hola, {name}!", "balance": "Tus puntos",
        "worth": "Valen {rewards} del {percent} de descuento.",
        "next_reward": "Te faltan {points} para la próxima recompensa.",
        "rule": "Cada {points}: un {percent} de descuento en un pedido.",
        "tier": "Tu nivel", "earned": "Has ganado {points} en los últimos {days}.",
        "to_next": "Te faltan {points} para llegar a {tier}.",
        "top": "Estás en nuestro nivel más alto.",
        "rewards": "Tus recompensas", "off": "{percent} de descuento",
        "until": "Válido hasta el {date}", "use": "Indica el código al pagar.",
        "expiring": "Puntos que caducan",
        "expiring_note": "Usamos primero tus puntos más antiguos. Úsalos antes de que caduquen.",
        "expires_on": "Caducan el", "points": "Puntos", "date": "Fecha", "total": "Total",
        "what": "Qué", "orders": "Pedidos recientes", "reversed": "anulados",
        "bonuses": "Puntos por lo que has hecho", "as_of": "Actualizado: {date}.",
        "private": "Esta página es solo para ti: no compartas su enlace.",
        "review": "Reseña", "referral": "Amigo invitado", "survey_answered": "Encuesta respondida",
    },
    "ca": {
        "title": "La teva targeta de fidelitat", "hello": "Hola, {name}!",
        "balance": "Els teus punts",
        "worth": "Valen {rewards} del {percent} de descompte.",
        "next_reward": "Et falten {points} per a la propera recompensa.",
        "rule": "Cada {points}: un {percent} de descompte en una comanda.",
        "tier": "El teu nivell", "earned": "Has guanyat {points} en els darrers {days}.",
        "to_next": "Et falten {points} per arribar a {tier}.",
        "top": "Ets al nostre nivell més alt.",
        "rewards": "Les teves recompenses", "off": "{percent} de descompte",
        "until": "Data límit: {date}", "use": "Indica el codi en pagar.",
        "expiring": "Punts que caduquen",
        "expiring_note": "Fem servir primer els teus punts més antics. "
                         "Fes-los servir abans que caduquin.",
        "expires_on": "Caduquen", "points": "Punts", "date": "Data", "total": "Total",
        "what": "Què", "orders": "Comandes recents", "reversed": "anul·lats",
        "bonuses": "Punts pel que has fet", "as_of": "Actualitzat: {date}.",
        "private": "Aquesta pàgina és només per a tu: no en comparteixis l'enllaç.",
        "review": "Ressenya", "referral": "Amic convidat", "survey_answered": "Enquesta resposta",
    },
    "it": {
        "title": "La tua carta fedeltà", "hello": "Ciao, {name}!", "balance": "I tuoi punti",
        "worth": "Valgono {rewards} del {percent} di sconto.",
        "next_reward": "Ti mancano {points} per il prossimo premio.",
        "rule": "Ogni {points}: il {percent} di sconto su un ordine.",
        "tier": "Il tuo livello", "earned": "Hai guadagnato {points} negli ultimi {days}.",
        "to_next": "Ti mancano {points} per arrivare a {tier}.",
        "top": "Sei al nostro livello più alto.",
        "rewards": "I tuoi premi", "off": "{percent} di sconto", "until": "Scadenza: {date}",
        "use": "Inserisci il codice alla cassa.",
        "expiring": "Punti in scadenza",
        "expiring_note": "Usiamo prima i tuoi punti più vecchi. Usali prima che scadano.",
        "expires_on": "Scadenza", "points": "Punti", "date": "Data", "total": "Totale",
        "what": "Cosa", "orders": "Ordini recenti", "reversed": "annullati",
        "bonuses": "Punti per ciò che hai fatto", "as_of": "Aggiornato: {date}.",
        "private": "Questa pagina è solo per te: non condividerne il link.",
        "review": "Recensione", "referral": "Amico invitato",
        "survey_answered": "Sondaggio completato",
    },
    "ro": {
        "title": "Cardul tău de fidelitate", "hello": "Bună, {name}!",
        "balance": "Punctele tale",
        "worth": "Îți ajung pentru {rewards} cu {percent} reducere.",
        "next_reward": "Îți mai lipsesc {points} până la următoarea recompensă.",
        "rule": "La fiecare {points}: {percent} reducere la o comandă.",
        "tier": "Nivelul tău", "earned": "Ai câștigat {points} în ultimele {days}.",
        "to_next": "Îți mai lipsesc {points} până la nivelul {tier}.",
        "top": "Ești la cel mai înalt nivel al nostru.",
        "rewards": "Recompensele tale", "off": "{percent} reducere",
        "until": "Valabil până la {date}", "use": "Introdu codul la plată.",
        "expiring": "Puncte care expiră",
        "expiring_note": "Folosim întâi punctele tale cele mai vechi. "
                         "Folosește-le înainte să expire.",
        "expires_on": "Expiră la", "points": "Puncte", "date": "Data", "total": "Total",
        "what": "Ce", "orders": "Comenzi recente", "reversed": "anulate",
        "bonuses": "Puncte pentru ce ai făcut", "as_of": "Actualizat: {date}.",
        "private": "Această pagină este doar pentru tine: nu îi distribui linkul.",
        "review": "Recenzie", "referral": "Prieten invitat", "survey_answered": "Sondaj completat",
    },
}  # fmt: skip

_BODY = make_environment(html=True).from_string(
    """<h1>{{ v.heading }}</h1>
<section class="card">
<h2>{{ w.balance }}</h2>
<p class="big">{{ v.balance }}</p>
{% if v.worth %}<p>{{ v.worth }}</p>{% endif %}
<div class="bar" role="progressbar" aria-label="{{ v.next_reward }}" aria-valuemin="0" \
aria-valuemax="{{ v.reward_points }}" aria-valuenow="{{ v.toward_reward }}">\
<i style="width:{{ v.reward_percent }}%"></i></div>
<p>{{ v.next_reward }}</p>
<p class="muted">{{ v.rule }}</p>
</section>
<section class="card">
<h2>{{ w.tier }}</h2>
<p class="big">{{ v.tier }}</p>
<p>{{ v.earned }}</p>
{% if v.next_tier %}
<div class="bar" role="progressbar" aria-label="{{ v.next_tier }}" aria-valuemin="0" \
aria-valuemax="{{ v.tier_threshold }}" aria-valuenow="{{ v.tier_points }}">\
<i style="width:{{ v.tier_percent }}%"></i></div>
<p>{{ v.next_tier }}</p>
{% else %}
<p>{{ w.top }}</p>
{% endif %}
</section>
{% if v.rewards %}
<section class="card">
<h2>{{ w.rewards }}</h2>
{% for reward in v.rewards %}
<p><code class="big">{{ reward.code }}</code><br>{{ reward.off }} · \
<span class="muted">{{ reward.until }}</span></p>
{% endfor %}
<p class="muted">{{ w.use }}</p>
</section>
{% endif %}
{% if v.expiring %}
<section class="card">
<h2>{{ w.expiring }}</h2>
<table>
<tr><th>{{ w.expires_on }}</th><th class="num">{{ w.points }}</th></tr>
{% for lot in v.expiring %}
<tr><td>{{ lot.date }}</td><td class="num">{{ lot.points }}</td></tr>
{% endfor %}
</table>
<p class="muted">{{ w.expiring_note }}</p>
</section>
{% endif %}
{% if v.orders %}
<section class="card">
<h2>{{ w.orders }}</h2>
<table>
<tr><th>{{ w.date }}</th><th class="num">{{ w.total }}</th><th class="num">{{ w.points }}</th></tr>
{% for order in v.orders %}
<tr><td>{{ order.date }}</td><td class="num">{{ order.total }}</td><td class="num">\
{% if order.reversed %}<s>{{ order.points }}</s> <span class="muted">{{ w.reversed }}</span>\
{% else %}{{ order.points }}{% endif %}</td></tr>
{% endfor %}
</table>
</section>
{% endif %}
{% if v.bonuses %}
<section class="card">
<h2>{{ w.bonuses }}</h2>
<table>
<tr><th>{{ w.date }}</th><th>{{ w.what }}</th><th class="num">{{ w.points }}</th></tr>
{% for bonus in v.bonuses %}
<tr><td>{{ bonus.date }}</td><td>{{ bonus.what }}</td><td class="num">{{ bonus.points }}</td></tr>
{% endfor %}
</table>
</section>
{% endif %}
<p class="muted">{{ v.as_of }} {{ w.private }}</p>
"""
)


def card_router(
    settings: Settings, engine: Engine, signer: Signer | None, off: str | None
) -> APIRouter:
    """The card route; `signer` None (no LEAL_SECRET_KEY, `off` says why) answers 503."""
    router = APIRouter()
    shop = settings.shop

    @router.get("/card/{token}", response_class=HTMLResponse)
    def card(token: str) -> HTMLResponse:
        if signer is None:
            raise HTTPException(status_code=503, detail=f"the loyalty card is off: {off}")
        try:
            customer_id = open_card_token(signer, token)
        except BadTokenError:
            return personal(link_problem(shop, shop.default_locale, 403))
        today = datetime.now(shop.tz).date()
        with engine.connect() as connection:
            found = loyalty_card(connection, settings, customer_id, today)
        if found is None:  # the shop's language: the customer's would tell they existed
            return personal(link_problem(shop, shop.default_locale, 404))
        return personal(page_response(render_card(found, settings)))

    return router


def render_card(card: Card, settings: Settings) -> str:
    """The whole page of `card`, in the customer's language."""
    lang = page_language(card.locale, settings.shop.default_locale)
    w = WORDS[lang]
    body = Markup(_BODY.render(w=w, v=_view(card, settings, lang)))  # noqa: S704 (autoescaped)
    return page(settings.shop, lang, w["title"], body)


def _view(card: Card, settings: Settings, lang: str) -> dict[str, Any]:
    """Every value the page shows, as text in `lang` (the template escapes it)."""
    w, nouns, currency = WORDS[lang], NOUNS[lang], settings.shop.currency

    def count(number: int, noun: str) -> str:
        return format_count(number, lang, **nouns[noun])

    percent = _percent(card.reward_percent_off, lang)
    toward_reward = card.reward_points - card.points_to_next_reward
    tier = tier_name(card.tier, lang) or card.tier
    next_tier = tier_name(card.next_tier, lang)
    threshold = card.next_tier_threshold
    return {
        "heading": w["hello"].format(name=card.first_name) if card.first_name else w["title"],
        "balance": count(card.balance, "points"),
        "worth": w["worth"].format(rewards=count(card.rewards_affordable, "rewards"),
                                   percent=percent) if card.rewards_affordable else None,
        "next_reward": w["next_reward"].format(points=count(card.points_to_next_reward, "points")),
        "reward_points": card.reward_points,
        "toward_reward": toward_reward,
        "reward_percent": 100 * toward_reward // card.reward_points,
        "rule": w["rule"].format(points=count(card.reward_points, "points"), percent=percent),
        "tier": tier,
        "earned": w["earned"].format(points=count(card.tier_points, "points"),
                                     days=count(card.window_days, "days")),
        "next_tier": w["to_next"].format(points=count(card.points_to_next_tier, "points"),
                                         tier=next_tier) if next_tier else None,
        "tier_points": card.tier_points,
        "tier_threshold": threshold,
        "tier_percent": min(100 * card.tier_points // threshold, 100) if threshold else 100,
        "rewards": [
            {"code": reward.code,
             "off": w["off"].format(percent=_percent(reward.percent_off, lang))
             if reward.percent_off else format_money(reward.amount_off_cents or 0, currency, lang),
             "until": w["until"].format(date=format_date(reward.expires_on, "long", lang))}
            for reward in card.rewards
        ],
        "expiring": [{"date": format_date(lot.expires_on, "medium", lang),
                      "points": _number(lot.points, lang)} for lot in card.expiring],
        "orders": [{"date": format_date(order.on, "medium", lang),
                    "total": format_money(order.total_cents, currency, lang),
                    "points": _signed(order.points, lang), "reversed": order.reversed}
                   for order in card.orders],
        "bonuses": [{"date": format_date(bonus.on, "medium", lang),
                     "what": _action(bonus.action, w), "points": _signed(bonus.points, lang)}
                    for bonus in card.bonuses],
        "as_of": w["as_of"].format(date=format_date(card.on, "long", lang)),
    }  # fmt: skip


def _percent(percent: int, lang: str) -> str:
    return str(format_percent(Decimal(percent).scaleb(-2), locale=lang))


def _number(number: int, lang: str) -> str:
    return str(format_decimal(number, locale=lang))


def _signed(points: int, lang: str) -> str:
    return f"+{_number(points, lang)}" if points > 0 else _number(points, lang)


def _action(action: str | None, w: dict[str, str]) -> str:
    """An interaction's action in words: Leal's own names translated, a shop's as written."""
    if action in ACTIONS:
        return w[action]
    return (action or "").replace("_", " ").capitalize()
