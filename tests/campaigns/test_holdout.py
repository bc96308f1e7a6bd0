"""Holdouts: drawn by the plan among what would be sent, kept in the ledger, never delivered."""

import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from campaigns.config import MeasurementSettings, Settings
from campaigns.daily import daily_run
from campaigns.holdout import BUCKETS, GLOBAL_HOLDOUT, HoldoutDraw, bucket
from campaigns.loader import Config
from campaigns.report import write_jsonl
from shop.models import Coupon, OutboxMessage
from templates.unsubscribe import Signer
from tests.factories import ShopFactory, local
from workers.run import deliver_due

AT = local("2026-06-15 09:00")
BIRTHDAY = date(1990, 6, 15)


def _config(
    settings: Settings,
    measurement: dict[str, Any] | None = None,
    per_day: int = 2,
    **campaigns: Any,
) -> Config:
    data = settings.model_dump() | {
        "campaigns": campaigns,
        "policy": {"max_messages_per_day": per_day},
        "measurement": measurement or {},
    }
    return Config(Settings(**data), None)


def _draw(percent: str, salt: str = "leal", global_percent: str = "0") -> HoldoutDraw:
    measurement = MeasurementSettings(
        holdout_salt=salt, global_holdout_percent=Decimal(global_percent)
    )
    return HoldoutDraw(measurement, {"a": Decimal(percent), "b": Decimal(percent)})


IDS = [f"C{n:06d}" for n in range(40_000)]


def test_the_share_held_out_is_the_percent_and_campaigns_draw_independently() -> None:
    draw = _draw("10")
    a = set(draw.held_out("a", IDS))
    b = set(draw.held_out("b", IDS))
    # 10 % of 40,000 is 4,000 with a standard deviation of 60: 5 sigma either side
    assert 3_700 < len(a) < 4_300 and 3_700 < len(b) < 4_300
    # independent draws overlap on ~1 % of customers, not on ~10 % as one shared draw would
    assert 250 < len(a & b) < 550


def test_a_customer_keeps_their_group_and_a_new_salt_draws_again() -> None:
    first = _draw("10").held_out("a", IDS)
    assert _draw("10").held_out("a", IDS) == first
    resalted = _draw("10", salt="2027").held_out("a", IDS)
    assert 250 < len(set(first) & set(resalted)) < 550


def test_buckets_are_exact_at_two_decimals_and_zero_holds_out_nobody() -> None:
    assert all(0 <= bucket("leal", "a", i) < BUCKETS for i in IDS[:1000])
    assert _draw("0").held_out("a", IDS) == {}
    quarter = sum(bucket("leal", "a", i) < 25 for i in IDS)  # 0.25 % → buckets 0..24
    assert set(_draw("0.25").held_out("a", IDS)) == {i for i in IDS if bucket("leal", "a", i) < 25}
    assert 40 < quarter < 170


def test_the_global_holdout_gets_no_campaign() -> None:
    draw = _draw("0", global_percent="5")
    a, b = draw.held_out("a", IDS), draw.held_out("b", IDS)
    assert a == b and set(a.values()) == {GLOBAL_HOLDOUT}
    assert 1_700 < len(a) < 2_300


def _birthday(**extra: Any) -> dict[str, Any]:
    return {"trigger": "birthday", "channels": ["email", "sms"], "template": "birthday"} | extra


def _customers(shop: ShopFactory, count: int) -> None:
    for n in range(count):
        shop.customer(f"c{n:03d}", birth_date=BIRTHDAY)


def test_a_held_out_moment_is_in_the_ledger_for_both_channels_and_never_delivered(
    engine: Engine, settings: Settings, shop: ShopFactory, tmp_path: Any
) -> None:
    # given 60 birthday customers and a campaign holding out half, with a coupon
    _customers(shop, 60)
    offer = {"percent_off": 10}
    config = _config(settings, birthday=_birthday(holdout_percent=50, offer=offer))
    data = config.settings.model_dump() | {"delivery": {"folder": tmp_path}}
    config = Config(Settings(**data), None)
    # when the day runs and everything due is delivered
    result = daily_run(engine, config, AT)
    deliver_due(engine, config, signer=Signer(b"k" * 32), clock=lambda: AT)
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxMessage.customer_id, OutboxMessage.channel, OutboxMessage.status)
        ).all()
        coupons = set(connection.scalars(select(Coupon.customer_id)))
    held = {c for c, _, status in rows if status == "holdout"}
    sent = {c for c, _, status in rows if status == "sent"}
    # then each customer is in exactly one group, both channels alike
    expected = set(HoldoutDraw(config.settings.measurement, {"birthday": Decimal(50)})
                   .held_out("birthday", [f"c{n:03d}" for n in range(60)]))  # fmt: skip
    assert held == expected and 15 < len(held) < 45
    assert held.isdisjoint(sent) and held | sent == {f"c{n:03d}" for n in range(60)}
    assert sum(1 for _, _, s in rows if s == "holdout") == 2 * len(held)
    # and only treated moments hold a coupon
    assert coupons == sent and result.coupons == len(sent)
    # and a re-run adds nothing: the held-out moments are already in the ledger
    again = daily_run(engine, config, AT)
    assert again.plan.recorded == [] and {m.reason for m in again.plan.messages} == {
        "already_in_outbox"
    }


def test_a_held_out_moment_keeps_its_budget_slot(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given two campaigns for the same customers, one message a day, the first all held out
    _customers(shop, 10)
    config = _config(
        settings,
        per_day=1,
        first=_birthday(channels=["email"], priority=10, holdout_percent=50),
        second=_birthday(channels=["email"], priority=1, holdout_percent=0),
    )
    # when the plan is made
    plan = daily_run(engine, config, AT, dry_run=True).plan
    # then the second campaign is skipped for every customer the first one reached or held
    first = {m.customer_id: m.status for m in plan.messages if m.campaign == "first"}
    second = {m.customer_id: m.reason for m in plan.messages if m.campaign == "second"}
    assert "holdout" in first.values() and "planned" in first.values()
    assert set(second.values()) == {"contact_budget"}


def test_jsonl_shows_held_out_messages(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    _customers(shop, 30)
    config = _config(settings, birthday=_birthday(holdout_percent=50))
    out = io.StringIO()
    write_jsonl(daily_run(engine, config, AT, dry_run=True).plan, out)
    statuses = {json.loads(line)["status"] for line in out.getvalue().splitlines()}
    assert statuses == {"planned", "holdout"}


def test_the_global_holdout_holds_moments_of_campaigns_without_their_own(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    _customers(shop, 40)
    config = _config(
        settings, measurement={"global_holdout_percent": 50}, birthday=_birthday(holdout_percent=0)
    )
    plan = daily_run(engine, config, AT, dry_run=True).plan
    held = {m.customer_id for m in plan.messages if m.status == "holdout"}
    assert {m.reason for m in plan.messages if m.status == "holdout"} == {GLOBAL_HOLDOUT}
    expected = HoldoutDraw(config.settings.measurement, {}).held_out("any", sorted(held))
    assert 5 < len(held) < 35 and set(expected) == held
