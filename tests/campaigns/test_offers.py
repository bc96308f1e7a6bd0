"""Coupons: unique per moment, idempotent, valid for the offer's days."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from campaigns.config import Offer, Settings
from campaigns.loader import Config, ConfigError, load_config
from campaigns.offers import ALPHABET, find_coupons, issue_coupons, issue_for_plan
from campaigns.plan import Message, Plan
from shop.models import Coupon
from tests.factories import MADRID, ShopFactory, local
from triggers.base import RunContext

DAY = date(2026, 12, 24)


def test_each_moment_gets_its_own_code_valid_for_the_offers_days(
    engine: Engine, shop: ShopFactory
) -> None:
    # given two customers with a birthday moment and an offer of 15 % for 30 days
    ana, bo = shop.customer("ana"), shop.customer("bo")
    moments = [("birthday", ana, "birthday:2026"), ("birthday", bo, "birthday:2026")]
    # when coupons are issued on 24 December
    with engine.begin() as connection:
        coupons = issue_coupons(connection, Offer(percent_off=15, valid_days=30), moments, DAY)
    # then each has a distinct, well-formed code, 15 % off, valid through 22 January
    codes = [coupons[m].code for m in moments]
    assert len(set(codes)) == 2
    assert all(len(c) == 11 and c[5] == "-" and set(c) - {"-"} <= set(ALPHABET) for c in codes)
    assert {(c.percent_off, c.expires_on) for c in coupons.values()} == {(15, date(2027, 1, 22))}


def test_issuing_again_keeps_the_codes(engine: Engine, shop: ShopFactory) -> None:
    # given a coupon issued for a moment
    moment = ("win_back", shop.customer("ana"), "win_back:2026-08-01")
    offer = Offer(percent_off=10, valid_days=14)
    with engine.begin() as connection:
        first = issue_coupons(connection, offer, [moment], DAY)
    # when the same moment asks again, with another moment beside it
    other = ("win_back", shop.customer("bo"), "win_back:2026-08-02")
    with engine.begin() as connection:
        again = issue_coupons(connection, offer, [moment, other, moment], DAY)
        stored = connection.scalar(select(func.count()).select_from(Coupon))
    # then the first keeps its code and only one new coupon is stored
    assert again[moment] == first[moment]
    assert again[other].code != first[moment].code
    assert stored == 2


def _reward_config(settings: Settings, **campaign: object) -> Config:
    """Settings with a reward_available campaign (and a birthday one with its offer)."""
    campaigns = {
        "reward": {"trigger": "reward_available", "channels": ["email", "sms"],
                   "template": "birthday", **campaign},
        "birthday": {"trigger": "birthday", "channels": ["email"], "template": "birthday",
                     "offer": {"percent_off": 15, "valid_days": 14}},
    }  # fmt: skip
    loyalty = {"reward_points": 200, "reward_percent_off": 12}
    return Config(Settings(database=settings.database, loyalty=loyalty, campaigns=campaigns), None)


def _planned(run: RunContext, *moments: tuple[str, str, str]) -> Plan:
    messages = [
        Message(campaign, "t", customer, channel, occasion, 0)
        for campaign, customer, occasion in moments
        for channel in ("email", "sms")
    ]
    return Plan(run, messages)


def test_reward_moments_get_the_programs_reward_without_an_offer(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a reward_available campaign valid 20 days, no offer, beside a birthday offer
    config = _reward_config(settings, params={"valid_days": 20})
    rewarded = ("reward", shop.customer("ana"), "reward:2026-12-24")
    celebrated = ("birthday", shop.customer("bo"), "birthday:2026")
    run = RunContext(at=local("2026-12-24 09:00"), tz=MADRID, loyalty=config.settings.loyalty)
    # when the run issues the coupons of its plan (a moment on two channels)
    with engine.begin() as connection:
        issued = issue_for_plan(connection, config, _planned(run, rewarded, celebrated))
        coupons = find_coupons(connection, [rewarded, celebrated])
    # then the reward is 12 % off for 20 days and costs 200 points; the offer costs none
    reward, birthday = coupons[rewarded], coupons[celebrated]
    assert issued == 2
    assert (reward.percent_off, reward.expires_on, reward.points_cost) == (
        12, date(2027, 1, 12), 200,
    )  # fmt: skip
    assert (birthday.percent_off, birthday.points_cost) == (15, None)


def test_a_reward_campaign_with_an_offer_of_its_own_is_refused(tmp_path: Path) -> None:
    # given a reward_available campaign with an offer, and a 365-day warning of points
    # that live 365 days
    path = tmp_path / "settings.toml"
    path.write_text(
        """\
[campaigns.reward]
trigger = "reward_available"
channels = ["email"]
template = "birthday"
offer = { percent_off = 20 }

[campaigns.expiring]
trigger = "points_expiring"
channels = ["email"]
template = "birthday"
params = { days_before = 365 }
""",
        encoding="utf-8",
    )
    # when the file is loaded
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    # then both are problems on their own lines
    problems = [str(problem) for problem in raised.value.problems]
    assert any(p.startswith(f"{path}:5: campaigns.reward.offer:") for p in problems), problems
    assert any(
        p.startswith(f"{path}:11: campaigns.expiring.params.days_before:") for p in problems
    ), problems
