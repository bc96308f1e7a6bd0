"""Survey kinds: their scales, and Leal's wording of each question in the shipped locales.

A campaign's `survey.question` overrides the main question per locale; a locale Leal has no
wording for falls back to English. The email shows the scale as links (templates.links), the
answer page in `leal serve` asks the same question with the score the link chose.
"""

from __future__ import annotations

from dataclasses import dataclass

from campaigns.config import Survey, SurveyKind


@dataclass(frozen=True)
class Scale:
    low: int
    high: int

    @property
    def scores(self) -> range:
        return range(self.low, self.high + 1)


SCALES: dict[str, Scale] = {
    "nps": Scale(0, 10),
    "csat": Scale(1, 5),
    "ces": Scale(1, 7),
    "cli": Scale(0, 10),
}
# The Customer Loyalty Index asks three 0-10 questions; the email's links answer the first.
CLI_QUESTIONS = ("recommend", "buy_again", "try_other")

_WORDING: dict[str, dict[str, str]] = {
    "en": {
        "nps": "How likely are you to recommend {shop} to a friend or colleague?",
        "csat": "How satisfied are you with your recent purchase?",
        "ces": "How easy was it to buy from {shop}?",
        "recommend": "How likely are you to recommend {shop} to a friend or colleague?",
        "buy_again": "How likely are you to buy from {shop} again?",
        "try_other": "How likely are you to try other products of {shop}?",
        "low_nps": "Not at all likely",
        "high_nps": "Extremely likely",
        "low_csat": "Very unsatisfied",
        "high_csat": "Very satisfied",
        "low_ces": "Very difficult",
        "high_ces": "Very easy",
    },
    "es": {
        "nps": "¿Qué probabilidad hay de que recomiendes {shop} a un amigo o colega?",
        "csat": "¿Qué tan satisfecho estás con tu compra reciente?",
        "ces": "¿Qué tan fácil te resultó comprar en {shop}?",
        "recommend": "¿Qué probabilidad hay de que recomiendes {shop} a un amigo o colega?",
        "buy_again": "¿Qué probabilidad hay de que vuelvas a comprar en {shop}?",
        "try_other": "¿Qué probabilidad hay de que pruebes otros productos de {shop}?",
        "low_nps": "Nada probable",
        "high_nps": "Muy probable",
        "low_csat": "Muy insatisfecho",
        "high_csat": "Muy satisfecho",
        "low_ces": "Muy difícil",
        "high_ces": "Muy fácil",
    },
    "ca": {
        "nps": "Amb quina probabilitat recomanaries {shop} a un amic o col·lega?",
        "csat": "Fins a quin punt estàs satisfet amb la teva compra recent?",
        "ces": "Ha estat fàcil comprar a {shop}?",
        "recommend": "Amb quina probabilitat recomanaries {shop} a un amic o col·lega?",
        "buy_again": "Amb quina probabilitat tornaries a comprar a {shop}?",
        "try_other": "Amb quina probabilitat provaries altres productes de {shop}?",
        "low_nps": "Gens probable",
        "high_nps": "Molt probable",
        "low_csat": "Molt insatisfet",
        "high_csat": "Molt satisfet",
        "low_ces": "Molt difícil",
        "high_ces": "Molt fàcil",
    },
    "it": {
        "nps": "Quanto è probabile che consiglieresti {shop} a un amico o collega?",
        "csat": "Quanto sei soddisfatto del tuo acquisto recente?",
        "ces": "Quanto è stato facile acquistare da {shop}?",
        "recommend": "Quanto è probabile che consiglieresti {shop} a un amico o collega?",
        "buy_again": "Quanto è probabile che acquisterai di nuovo da {shop}?",
        "try_other": "Quanto è probabile che proverai altri prodotti di {shop}?",
        "low_nps": "Per niente probabile",
        "high_nps": "Estremamente probabile",
        "low_csat": "Per niente soddisfatto",
        "high_csat": "Molto soddisfatto",
        "low_ces": "Molto difficile",
        "high_ces": "Molto facile",
    },
    "ro": {
        "nps": "Cât de probabil este să recomanzi {shop} unui prieten sau coleg?",
        "csat": "Cât de mulțumit ești de achiziția ta recentă?",
        "ces": "Cât de ușor a fost să cumperi de la {shop}?",
        "recommend": "Cât de probabil este să recomanzi {shop} unui prieten sau coleg?",
        "buy_again": "Cât de probabil este să cumperi din nou de la {shop}?",
        "try_other": "Cât de probabil este să încerci și alte produse {shop}?",
        "low_nps": "Deloc probabil",
        "high_nps": "Foarte probabil",
        "low_csat": "Foarte nemulțumit",
        "high_csat": "Foarte mulțumit",
        "low_ces": "Foarte dificil",
        "high_ces": "Foarte ușor",
    },
}

# The languages the questions and labels are worded in; a customer in another gets the
# shop's default language, the one the templates fall back to.
LANGUAGES = frozenset(_WORDING)


def _words(locale: str) -> dict[str, str]:
    language = locale.replace("-", "_").split("_")[0]
    return _WORDING.get(language, _WORDING["en"])


def question(survey: Survey, locale: str, shop_name: str) -> str:
    """The main question: the campaign's own wording for the locale (or its language),
    else Leal's for the kind. Plain text: the caller escapes it."""
    language = locale.replace("-", "_").split("_")[0]
    own = survey.question.get(locale) or survey.question.get(language)
    if own:
        return own
    key = "recommend" if survey.kind == "cli" else survey.kind
    return _words(locale)[key].format(shop=shop_name)


def cli_questions(locale: str, shop_name: str) -> list[tuple[str, str]]:
    """The Customer Loyalty Index's three questions, (key, text)."""
    words = _words(locale)
    return [(key, words[key].format(shop=shop_name)) for key in CLI_QUESTIONS]


def scale_labels(kind: SurveyKind, locale: str) -> tuple[str, str]:
    """What the lowest and the highest score mean, in the customer's language."""
    words = _words(locale)
    key = "nps" if kind == "cli" else kind
    return words[f"low_{key}"], words[f"high_{key}"]
