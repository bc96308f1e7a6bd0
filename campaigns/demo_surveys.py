"""The demo's survey answers: the survey moments its past runs sent, answered as a good
café's customers would, recorded through shop.surveys as `leal serve` records them: the
clicks on the email's links (record_click), then the answer page's submit (record_answer,
which books `survey_answered` points where the program gives them).

A quarter answer, most within hours, a few days later; none after the demo's now. The
first survey sent in the day before now is answered, by a promoter: the review request
campaign then has a moment in today's run. Scores follow what a well-liked café hears: NPS
about 55 % promoters (9-10), 30 % passives and 15 % detractors (so NPS near +40); CSAT
about 82 % satisfied; CES mostly easy (about 5.6 of 7). Unhappy customers leave a comment
more often than happy ones. In about one email in twelve a link scanner opens the links
seconds after it arrives (the honeypot and a score link): the report counts those clicks
as suspect.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, Engine, func, select

from campaigns.config import Settings, Survey
from campaigns.loader import Config
from reports.kpis_surveys import UNHAPPY
from shop.models import Customer, OutboxMessage
from shop.surveys import HONEYPOT, SCORE, SENT, record_answer, record_click
from templates.surveys import SCALES
from triggers.post_purchase_survey import NAME as SURVEY_TRIGGER

RESPONSE_RATE = 0.25  # emailed post-purchase surveys get 10 to 30 %
SCANNED = 0.08  # emails whose links a security scanner opens on arrival
# weights per score, from the scale's lowest
WEIGHTS = {
    "nps": (1.0, 0.5, 1.0, 1.5, 2.0, 3.5, 5.5, 12.0, 18.0, 22.0, 33.0),
    "csat": (3.0, 5.0, 10.0, 35.0, 47.0),
    "ces": (2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 30.0),
}
COMMENT_SHARE = {"low": 0.6, "middle": 0.2, "high": 0.3}
COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "low": ("The beans arrived stale.", "My order took a week.", "Too expensive for me."),
        "middle": ("Good coffee, slow delivery.", "Fine, nothing special."),
        "high": ("Best flat white in town!", "Lovely beans, lovely people.", "Fast and fresh."),
    },
    "es": {
        "low": ("El café llegó rancio.", "Mi pedido tardó una semana.", "Demasiado caro."),
        "middle": ("Buen café, envío lento.", "Correcto, sin más."),
        "high": ("¡El mejor café del barrio!", "Granos buenísimos.", "Rápido y fresco."),
    },
    "ca": {
        "low": ("El cafè va arribar passat.", "La comanda va trigar una setmana."),
        "middle": ("Bon cafè, enviament lent.", "Correcte."),
        "high": ("El millor cafè del barri!", "Gra boníssim, gent encantadora."),
    },
    "it": {
        "low": ("Il caffè è arrivato vecchio.", "L'ordine ha tardato una settimana."),
        "middle": ("Buon caffè, consegna lenta.", "Nella media."),
        "high": ("Il miglior caffè della città!", "Chicchi ottimi, consegna rapida."),
    },
    "ro": {
        "low": ("Cafeaua a sosit veche.", "Comanda a întârziat o săptămână."),
        "middle": ("Cafea bună, livrare lentă.", "În regulă."),
        "high": ("Cea mai bună cafea din oraș!", "Boabe excelente, livrare rapidă."),
    },
}


class Moment(NamedTuple):
    campaign: str
    customer_id: str
    occasion: str
    sent_at: datetime
    locale: str | None


def answer_surveys(engine: Engine, config: Config, at: datetime, seed: int) -> int:
    """Record the clicks and answers of the survey moments sent before `at`; returns how
    many were answered."""
    rng = random.Random(f"surveys {seed}")
    settings = config.settings
    answered = 0
    sure = True  # the first survey sent in the day before `at` is answered, by a promoter
    with engine.begin() as connection:
        for moment in _sent(connection, at):
            setup = settings.campaigns.get(moment.campaign)
            if setup is None or setup.survey is None:
                continue
            if rng.random() < SCANNED:
                _scanned(connection, settings, moment, setup.survey, rng)
            recent = sure and moment.sent_at >= at - timedelta(days=1)
            if not recent and rng.random() >= RESPONSE_RATE:
                continue
            delay = timedelta(hours=rng.lognormvariate(1.5, 1.1))  # median 4.5 h
            if recent:
                sure = False
                delay = (at - moment.sent_at) * rng.uniform(0.1, 0.9)
            when = moment.sent_at + delay
            if when >= at:
                continue  # not answered yet
            _answer(connection, settings, moment, setup.survey, when, rng, promoter=recent)
            answered += 1
    return answered


def _scanned(
    connection: Connection, settings: Settings, moment: Moment, survey: Survey,
    rng: random.Random,
) -> None:  # fmt: skip
    """A scanner's visit seconds after delivery: the hidden honeypot link, then a score
    link (some scanners follow every link; two keep the demo quick)."""
    scale = SCALES[survey.kind]
    at = moment.sent_at + timedelta(seconds=rng.uniform(1, 15))
    record_click(connection, settings, moment, HONEYPOT, None, at)
    at += timedelta(seconds=rng.uniform(0.2, 2))
    record_click(connection, settings, moment, SCORE, rng.choice(scale.scores), at)


def _answer(
    connection: Connection, settings: Settings, moment: Moment, survey: Survey, when: datetime,
    rng: random.Random, *, promoter: bool,
) -> None:  # fmt: skip
    """The person's click on their score in the email, then the page's submit."""
    kind = survey.kind
    score, scores = _scores(rng, kind)
    if promoter:
        score = SCALES[kind].high
        scores = dict.fromkeys(scores, score)
    clicked = max(moment.sent_at, when - timedelta(seconds=rng.uniform(20, 300)))
    record_click(connection, settings, moment, SCORE, score, clicked)
    record_answer(
        connection,
        settings,
        campaign=moment.campaign,
        customer_id=moment.customer_id,
        occasion=moment.occasion,
        kind=kind,
        score=score,
        scores=scores,
        comment=_comment(rng, kind, score, moment.locale) if survey.comment else None,
        locale=moment.locale,
        at=when,
    )


def _sent(connection: Connection, at: datetime) -> list[Moment]:
    """Survey moments with a message sent before `at`, when first sent, in that order."""
    outbox = OutboxMessage
    query = (
        select(
            outbox.campaign,
            outbox.customer_id,
            outbox.occasion,
            func.min(outbox.sent_at),
            Customer.locale,
        )
        .join(Customer, Customer.id == outbox.customer_id)
        .where(outbox.trigger == SURVEY_TRIGGER, outbox.status == SENT, outbox.sent_at < at)
        .group_by(outbox.campaign, outbox.customer_id, outbox.occasion, Customer.locale)
        .order_by(func.min(outbox.sent_at), outbox.campaign, outbox.customer_id)
    )
    return [
        Moment(campaign, customer_id, occasion, sent_at, locale)
        for campaign, customer_id, occasion, sent_at, locale in connection.execute(query)
        if sent_at is not None
    ]


def _scores(rng: random.Random, kind: str) -> tuple[int, dict[str, int]]:
    """The answer, and every question's: the loyalty index's other two follow the first
    (who recommends mostly buys again; trying other products is a step further)."""
    if kind != "cli":
        score = SCALES[kind].low + _draw(rng, WEIGHTS[kind])
        return score, {kind: score}
    recommend = _draw(rng, WEIGHTS["nps"])
    again = min(10, max(0, recommend + rng.choice((-1, 0, 0, 1))))
    other = min(10, max(0, recommend + rng.choice((-3, -2, -1, 0, 0, 1))))
    return recommend, {"recommend": recommend, "buy_again": again, "try_other": other}


def _draw(rng: random.Random, weights: tuple[float, ...]) -> int:
    return rng.choices(range(len(weights)), weights)[0]


def _comment(rng: random.Random, kind: str, score: int, locale: str | None) -> str | None:
    mood = _mood(kind, score)
    if rng.random() >= COMMENT_SHARE[mood]:
        return None
    language = (locale or "en").replace("-", "_").split("_")[0]
    return rng.choice(COMMENTS.get(language, COMMENTS["en"])[mood])


def _mood(kind: str, score: int) -> str:
    """Unhappy, in between or happy, by the kind's lines (docs/kpis.md)."""
    high = {"nps": 9, "cli": 9, "csat": 4, "ces": 6}[kind]
    return "low" if score <= UNHAPPY[kind] else "high" if score >= high else "middle"
