"""The signed links a message carries to `leal serve`: a survey moment's answer page and the
customer's loyalty card. Tokens come from `templates.unsubscribe.Signer` (HMAC under
LEAL_SECRET_KEY), one purpose each, so a card link never opens a survey or unsubscribes.

- survey: `/survey/<token>/<score>` opens the answer page with that score chosen (a GET
  never records an answer: link scanners open every link); `/survey/<token>/h` is the
  honeypot, a link no person sees. The token binds customer, campaign and occasion.
- card: `/card/<token>`, bound to the customer alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from templates.unsubscribe import Signer

SURVEY, CARD = "survey", "card"
HONEYPOT = "h"


@dataclass(frozen=True)
class SurveyMoment:
    customer_id: str
    campaign: str
    occasion: str


def survey_token(signer: Signer, moment: SurveyMoment) -> str:
    return signer.sign(SURVEY, moment.customer_id, moment.campaign, moment.occasion)


def open_survey_token(signer: Signer, token: str) -> SurveyMoment:
    """The moment a survey token names; BadTokenError otherwise."""
    customer_id, campaign, occasion = signer.open(SURVEY, token, 3)
    return SurveyMoment(customer_id, campaign, occasion)


def survey_url(public_url: str, token: str, score: int | str) -> str:
    return f"{public_url.rstrip('/')}/survey/{token}/{score}"


def card_token(signer: Signer, customer_id: str) -> str:
    return signer.sign(CARD, customer_id)


def open_card_token(signer: Signer, token: str) -> str:
    """The customer a card token names; BadTokenError otherwise."""
    (customer_id,) = signer.open(CARD, token, 1)
    return customer_id


def card_url(public_url: str, signer: Signer, customer_id: str) -> str:
    return f"{public_url.rstrip('/')}/card/{card_token(signer, customer_id)}"
