"""Template contexts of the loyalty moments: each trigger's columns parsed into typed values,
a moment that does not parse failing its message alone, the card link every message carries,
and a survey campaign's signed links, one per score, with the honeypot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from campaigns.config import Campaign, Settings, Survey
from campaigns.offers import IssuedCoupon
from shop.models import OrderItem
from templates.context import Built, ContextFailure, MessageRef, Personal, build_contexts
from templates.links import SurveyMoment, open_card_token, open_survey_token
from templates.unsubscribe import BadTokenError, Signer
from tests.factories import ShopFactory, local

SIGNER = Signer(b"s" * 32)
ON = date(2026, 12, 24)  # the day the messages are built (sent)
PUBLIC = "https://leal.shop.example"


def with_campaigns(settings: Settings, **campaigns: Campaign) -> Settings:
    """The test settings with these campaigns, the example shop's actions and public URL."""
    loyalty = settings.loyalty.model_copy(
        update={"actions": {"review": 50, "referral": 200, "survey_answered": 20}}
    )
    web = settings.web.model_copy(update={"public_url": PUBLIC})
    return settings.model_copy(update={"campaigns": campaigns, "loyalty": loyalty, "web": web})


def campaign(trigger: str, **fields: Any) -> Campaign:
    return Campaign(trigger=trigger, channels=["email"], template=trigger, **fields)


def built(
    engine: Engine, settings: Settings, refs: list[MessageRef], personal: Personal | None = None
) -> list[Built]:
    with engine.connect() as connection:
        return build_contexts(connection, settings, refs, ON, SIGNER, personal or Personal())


def context_of(
    engine: Engine, settings: Settings, ref: MessageRef, personal: Personal | None = None
) -> dict[str, Any]:
    [context] = built(engine, settings, [ref], personal)
    assert isinstance(context, dict), context
    return context


def ref(name: str, trigger: str, customer: str, occasion: str, **moment: Any) -> MessageRef:
    return MessageRef(name, trigger, customer, "email", occasion, moment)


def order_with_lines(shop: ShopFactory, customer: str, at: datetime) -> str:
    """An order of two mugs (paid 11.00 each, listed at 12.50 today) and a tea."""
    shop.product("mug", price_cents=1250)
    shop.product("tea", price_cents=450)
    order = shop.order(customer, at, total_cents=2650)
    with shop.engine.begin() as connection:
        connection.execute(
            insert(OrderItem),
            [
                {"order_id": order, "sku": "mug", "quantity": 2, "unit_price_cents": 1100},
                {"order_id": order, "sku": "tea", "quantity": 1, "unit_price_cents": 450},
            ],
        )
    return order


def test_points_expiring_says_how_many_when_and_what_they_are_worth(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a warning moment as the outbox stores it: 250 points expiring on 23 January
    ana = shop.customer("ana", locale="ca")
    moment = {"points": 250, "expires_on": "2027-01-23"}
    # when its context is built on 24 December
    context = context_of(
        engine, settings, ref("points_expiring_warning", "points_expiring", ana,
                              "expiring:2027-01-23", **moment)
    )  # fmt: skip
    # then the moment holds a date, the days left and the rewards those points buy
    assert context["moment"] == {
        "points": 250,
        "expires_on": date(2027, 1, 23),
        "days_left": 30,
        "worth": {"rewards": 2, "percent_off": 10, "reward_points": 100},
    }
    # and a campaign without a survey has none
    assert context["survey"] is None


def test_the_last_chance_counts_the_days_left_from_the_day_it_is_sent(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a 7-day moment planned on 17 December, sent late (the SMS window) on the 24th
    bo = shop.customer("bo")
    moment = {"points": "60", "expires_on": "2026-12-24"}
    context = context_of(
        engine, settings, ref("last", "points_expiring", bo, "expiring:2026-12-24", **moment)
    )
    # then it says the points expire today, and 60 points buy no whole reward
    assert context["moment"]["days_left"] == 0
    assert context["moment"]["points"] == 60
    assert context["moment"]["worth"]["rewards"] == 0


def test_milestone_and_reward_available_moments_are_numbers(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a milestone (its columns as JSON text may carry them) and a reward moment
    cy = shop.customer("cy")
    milestone = ref("milestone", "milestone", cy, "milestone:1000",
                    threshold="1000", points_earned=1040)  # fmt: skip
    reward = ref("reward_available", "reward_available", cy, "reward:2026-12-24",
                 points_balance=130, rewards=1)  # fmt: skip
    # and the reward coupon the plan issued for the reward moment
    coupon = IssuedCoupon("RWD12-34567", 10, None, False, ON + timedelta(days=29), 100)
    personal = Personal({reward.moment_key: coupon})
    # when both contexts are built
    first, second = built(engine, settings, [milestone, reward], personal)
    # then the milestone's threshold and points earned are integers
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["moment"] == {"threshold": 1000, "points_earned": 1040}
    assert first["offer"] is None
    # and the reward says what is left after it, and its offer is the reward coupon
    assert second["moment"] == {"points_balance": 130, "rewards": 1, "points_after_reward": 30}
    assert second["offer"]["code"] == "RWD12-34567"
    assert second["offer"]["percent_off"] == 10
    # and the program's rules are there to explain the reward
    assert (second["loyalty"]["reward_points"], second["loyalty"]["reward_percent_off"]) == (
        100,
        10,
    )


def test_welcome_knows_its_step_in_the_series_and_the_local_day_they_joined(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a welcome series of three steps, and a customer who joined at 00:30 Madrid time
    # on 22 December (23:30 UTC on the 21st)
    settings = with_campaigns(
        settings, welcome=campaign("welcome", params={"days_after": [0, 2, 5]})
    )
    dee = shop.customer("dee")
    moment = {"step": 2, "joined_at": "2026-12-21T23:30:00Z"}
    # when the step-2 message is built
    context = context_of(engine, settings, ref("welcome", "welcome", dee, "welcome:2", **moment))
    # then it is the second of three, and the day they joined is the shop's
    assert context["moment"] == {
        "step": 2,
        "joined_at": datetime(2026, 12, 21, 23, 30, tzinfo=UTC),
        "joined_on": date(2026, 12, 22),
        "position": 2,
        "series_length": 3,
    }
    # and the tiers are listed for the series' last step
    assert [tier["name"] for tier in context["loyalty"]["tiers"]] == ["bronze", "silver", "gold"]


def test_at_risk_recounts_the_silence_and_rounds_the_rhythm(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a lapse planned on a day when the last order was 52 days old, rhythm 24.5 days
    eve = shop.customer("eve")
    moment = {"last_order_on": "2026-11-02", "mean_gap_days": 24.5, "days_since_last_order": 50}
    # when it is built on 24 December
    context = context_of(
        engine, settings, ref("at_risk", "at_risk", eve, "at_risk:2026-11-02", **moment)
    )
    # then the days since the last order count to the day it is sent, and the usual gap is
    # the rhythm rounded half up to whole days
    assert context["moment"] == {
        "last_order_on": date(2026, 11, 2),
        "mean_gap_days": 24.5,
        "usual_gap_days": 25,
        "days_since_last_order": 52,
    }


def test_a_survey_moment_carries_its_order_and_one_signed_link_per_score(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given an NPS survey campaign and a Catalan customer's delivered order
    survey = Survey(kind="nps", comment=True)
    settings = with_campaigns(
        settings, post_purchase_survey=campaign("post_purchase_survey", survey=survey)
    )
    fe = shop.customer("fe", locale="ca")
    order = order_with_lines(shop, fe, local("2026-12-18 11:15"))
    moment = {"order_id": order, "ordered_at": "2026-12-18T10:15:00Z",
              "delivered_at": "2026-12-21T12:30:00Z"}  # fmt: skip
    occasion = f"survey:{order}"
    # when the survey message is built
    context = context_of(
        engine, settings, ref("post_purchase_survey", "post_purchase_survey", fe, occasion,
                              **moment)
    )  # fmt: skip
    # then the moment holds the instants, their local days, the total and the lines as paid
    found = context["moment"]
    assert found["ordered_at"] == datetime(2026, 12, 18, 10, 15, tzinfo=UTC)
    assert (found["ordered_on"], found["delivered_on"]) == (date(2026, 12, 18), date(2026, 12, 21))
    assert found["order_total"] == "26,50\xa0€"
    assert [(line["sku"], line["quantity"], line["price"]) for line in found["lines"]] == [
        ("mug", 2, "11,00\xa0€"),
        ("tea", 1, "4,50\xa0€"),
    ]
    # and the survey asks in Catalan, with what the ends of the scale mean
    survey_context = context["survey"]
    assert survey_context["kind"] == "nps" and survey_context["comment"] is True
    assert survey_context["question"].startswith("Amb quina probabilitat recomanaries")
    assert survey_context["labels"] == {"low": "Gens probable", "high": "Molt probable"}
    assert survey_context["points"] == 20  # [loyalty.actions] survey_answered
    # and has one link per score, 0 to 10, each carrying its score and a token bound to
    # this customer, campaign and occasion
    links = survey_context["links"]
    assert [link["score"] for link in links] == list(range(11))
    expected = SurveyMoment(fe, "post_purchase_survey", occasion)
    for link in links:
        prefix, token, score = link["url"].rsplit("/", 2)
        assert prefix == f"{PUBLIC}/survey" and score == str(link["score"])
        assert open_survey_token(SIGNER, token) == expected
    # and the honeypot is the same token's `h` link
    assert survey_context["honeypot_url"] == links[0]["url"].rsplit("/", 1)[0] + "/h"


def test_each_survey_kind_has_its_scale_and_a_campaign_may_word_its_question(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a CSAT campaign with its own Spanish question, and a customer in Spanish
    survey = Survey(kind="csat", question={"es": "¿Qué tal tu café?"}, comment=False)
    settings = with_campaigns(settings, csat=campaign("post_purchase_survey", survey=survey))
    gil = shop.customer("gil", locale="es")
    moment = {"order_id": "gone", "ordered_at": "2026-12-18T10:15:00Z", "delivered_at": None}
    # when the message is built (about an order that is no longer there)
    context = context_of(
        engine, settings, ref("csat", "post_purchase_survey", gil, "survey:gone", **moment)
    )
    # then the scale is 1 to 5, the question is the campaign's, the labels Leal's
    assert [link["score"] for link in context["survey"]["links"]] == [1, 2, 3, 4, 5]
    assert context["survey"]["question"] == "¿Qué tal tu café?"
    assert context["survey"]["labels"] == {"low": "Muy insatisfecho", "high": "Muy satisfecho"}
    # and the order shows no total and no lines, and no delivery day
    assert (context["moment"]["order_total"], context["moment"]["lines"]) == (None, [])
    assert context["moment"]["delivered_on"] is None


def test_a_survey_in_a_language_leal_does_not_word_speaks_the_shops(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a Spanish shop and a Portuguese customer (who reads the Spanish templates)
    settings = with_campaigns(
        settings, nps=campaign("post_purchase_survey", survey=Survey(kind="nps"))
    )
    settings = settings.model_copy(
        update={"shop": settings.shop.model_copy(update={"default_locale": "es"})}
    )
    hal = shop.customer("hal", locale="pt-BR")
    moment = {"order_id": "o1", "ordered_at": "2026-12-18T10:15:00Z"}
    context = context_of(
        engine, settings, ref("nps", "post_purchase_survey", hal, "survey:o1", **moment)
    )
    # then the question and labels are Spanish, not English
    assert context["survey"]["question"].startswith("¿Qué probabilidad hay")
    assert context["survey"]["labels"]["low"] == "Nada probable"


def test_a_review_request_lists_the_surveyed_order_and_what_a_review_earns(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a promoter's answer to the survey about their order
    settings = with_campaigns(settings)
    ivy = shop.customer("ivy", locale="en")
    order = order_with_lines(shop, ivy, local("2026-12-10 18:00"))
    moment = {"survey_campaign": "post_purchase_survey", "survey_occasion": f"survey:{order}",
              "score": 10}  # fmt: skip
    # when the review request is built
    context = context_of(
        engine, settings, ref("review_request", "review_request", ivy, "review:7", **moment)
    )
    # then it names the order and its products to review, and the points a review earns
    assert context["moment"]["score"] == 10
    assert context["moment"]["order_id"] == order
    assert [line["sku"] for line in context["moment"]["lines"]] == ["mug", "tea"]
    assert context["moment"]["review_points"] == 50


def test_a_moment_never_shows_another_customers_order(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a review request whose moment names someone else's order
    settings = with_campaigns(settings)
    jo, kim = shop.customer("jo"), shop.customer("kim")
    order = order_with_lines(shop, kim, local("2026-12-10 18:00"))
    moment = {"survey_campaign": "s", "survey_occasion": f"survey:{order}", "score": 9}
    context = context_of(
        engine, settings, ref("review_request", "review_request", jo, "review:8", **moment)
    )
    # then no line and no total of that order reach the message
    assert (context["moment"]["lines"], context["moment"]["order_total"]) == ([], None)


def test_a_moment_that_does_not_parse_fails_that_message_alone(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a batch of four loyalty moments, three of them corrupted after planning
    settings = with_campaigns(settings, welcome=campaign("welcome", params={"days_after": [0]}))
    ana = shop.customer("ana", first_name="Anabel")
    refs = [
        ref("warning", "points_expiring", ana, "expiring:2027-01-23",
            points=250, expires_on="2027-01-23"),
        ref("last", "points_expiring", ana, "expiring:2027-01-24",
            points=250, expires_on="Anabel"),
        ref("welcome", "welcome", ana, "welcome:0", step=0),
        ref("milestone", "milestone", ana, "milestone:1000", threshold=1000.5, points_earned=1),
    ]  # fmt: skip
    # when they are built in one batch
    good, *bad = built(engine, settings, refs)
    # then the good one is built, and each bad one is a failure that says which column and
    # quotes no value (here, the customer's name)
    assert isinstance(good, dict) and good["moment"]["days_left"] == 30
    assert [failure.detail for failure in bad if isinstance(failure, ContextFailure)] == [
        "expires_on is not a date",
        "the moment has no joined_at",
        "threshold is not a whole number",
    ]


@pytest.mark.parametrize(
    ("trigger", "moment"),
    [
        ("birthday", {"birthday_on": "2026-12-24"}),
        ("points_expiring", {"points": 5, "expires_on": "2027-01-01"}),
        ("at_risk", {"last_order_on": "2026-11-02", "mean_gap_days": 10.0}),
    ],
)
def test_every_message_carries_a_card_link_that_opens_this_customers_card_only(
    engine: Engine, settings: Settings, shop: ShopFactory, trigger: str, moment: dict[str, Any]
) -> None:
    # given a message of any campaign
    settings = with_campaigns(settings)
    lu = shop.customer("lu")
    context = context_of(engine, settings, ref(trigger, trigger, lu, f"{trigger}:x", **moment))
    # then its card link is the public URL's /card/<token>, a token for this customer
    prefix, token = context["card_url"].rsplit("/", 1)
    assert prefix == f"{PUBLIC}/card"
    assert open_card_token(SIGNER, token) == lu
    # and that token opens no survey, and is no unsubscribe token
    with pytest.raises(BadTokenError):
        open_survey_token(SIGNER, token)
    with pytest.raises(BadTokenError):
        SIGNER.verify(token)
