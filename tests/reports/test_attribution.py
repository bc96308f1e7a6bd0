"""Attribution: each moment's group, and the orders in (run instant, + attribution_days]."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select, update

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.holdout import HoldoutDraw
from campaigns.loader import Config
from reports.attribution import campaign_outcomes
from shop.models import Coupon, Order, OutboxMessage
from tests.factories import ShopFactory, local

AT = local("2026-06-15 09:00")
BIRTHDAY = date(1990, 6, 15)
DAY = date(2026, 6, 15)
IDS = [f"c{n:03d}" for n in range(40)]


def _config(settings: Settings, measurement: Any = None, **birthday: Any) -> Config:
    campaign = {"trigger": "birthday", "channels": ["email", "sms"], "template": "birthday"}
    data = settings.model_dump() | {
        "campaigns": {"birthday": campaign | {"holdout_percent": 50} | birthday},
        "measurement": measurement or {},
    }
    return Config(Settings(**data), None)


def _groups(config: Config) -> tuple[list[str], list[str]]:
    draw = HoldoutDraw(config.settings.measurement, {"birthday": Decimal(50)})
    held = draw.held_out("birthday", IDS)
    return [c for c in IDS if c not in held], [c for c in IDS if c in held]


def test_orders_in_the_window_convert_in_either_group(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 40 birthday customers, half held out, and the day's run
    for customer in IDS:
        shop.customer(customer, birth_date=BIRTHDAY)
    config = _config(settings)
    daily_run(engine, config, AT)
    treated, held = _groups(config)
    # and orders: at the run instant (too early), at the window's last instant (counts),
    # one second later (too late), and two in the window for one customer
    shop.order(treated[0], AT, 1_000)
    shop.order(treated[1], AT + timedelta(days=7), 2_000)
    shop.order(treated[2], AT + timedelta(days=7, seconds=1), 4_000)
    shop.order(treated[3], AT + timedelta(hours=1), 500)
    shop.order(treated[3], AT + timedelta(days=2), 700)
    shop.order(held[0], AT + timedelta(days=3), 9_900)
    # when the campaign's outcomes are read
    with engine.connect() as connection:
        found = campaign_outcomes(connection, "birthday", DAY, DAY, 7)
    # then every moment is in its group, with its conversion and revenue
    assert (found.treated.n, found.holdout.n) == (len(treated), len(held))
    assert (found.treated.conversions, found.holdout.conversions) == (2, 1)
    assert (found.treated.revenue_cents_total, found.holdout.revenue_cents_total) == (3_200, 9_900)
    assert [(d.day, d.treated, d.holdout, d.attributed_revenue_cents) for d in found.days] == [
        (DAY, len(treated), len(held), 3_200)
    ]
    # and a shorter window leaves out the order of day 7
    with engine.connect() as connection:
        short = campaign_outcomes(connection, "birthday", DAY, DAY, 3)
    assert short.treated.revenue_cents_total == 1_200 and short.holdout.conversions == 1


def test_a_failed_delivery_stays_treated_and_other_days_are_outside_the_period(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    for customer in IDS:
        shop.customer(customer, birth_date=BIRTHDAY)
    config = _config(settings)
    daily_run(engine, config, AT)
    treated, held = _groups(config)
    with engine.begin() as connection:
        connection.execute(
            update(OutboxMessage)
            .where(OutboxMessage.customer_id == treated[0])
            .values(status="failed", reason="invalid_address")
        )
    with engine.connect() as connection:
        found = campaign_outcomes(connection, "birthday", DAY, DAY, 7)
        before = campaign_outcomes(
            connection, "birthday", DAY - timedelta(days=30), DAY - timedelta(days=1), 7
        )
    assert (found.treated.n, found.holdout.n) == (len(treated), len(held))
    assert (before.treated.n, before.holdout.n, before.days) == (0, 0, [])


def test_redeemed_coupons_of_treated_moments_and_their_discounts(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    for customer in IDS:
        shop.customer(customer, birth_date=BIRTHDAY)
    config = _config(settings, offer={"percent_off": 10})
    daily_run(engine, config, AT)
    treated, _ = _groups(config)
    order = shop.order(treated[0], AT + timedelta(days=1), 5_000)
    with engine.begin() as connection:
        code = connection.scalar(select(Coupon.code).where(Coupon.customer_id == treated[0]))
        connection.execute(update(Order).where(Order.id == order).values(discount_cents=550))
        connection.execute(
            update(Coupon)
            .where(Coupon.code == code)
            .values(redeemed_at=AT + timedelta(days=1), redeemed_order_id=order)
        )
    with engine.connect() as connection:
        found = campaign_outcomes(connection, "birthday", DAY, DAY, 7)
    assert (found.coupons_redeemed, found.discounts_cents) == (1, 550)


def test_global_holdout_moments_are_left_out_of_the_campaign_comparison(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    for customer in IDS:
        shop.customer(customer, birth_date=BIRTHDAY)
    config = _config(settings, holdout_percent=0, measurement={"global_holdout_percent": 50})
    daily_run(engine, config, AT)
    with engine.connect() as connection:
        found = campaign_outcomes(connection, "birthday", DAY, DAY, 7)
    assert found.holdout.n == 0 and 5 < found.global_holdout < 35
    assert found.treated.n + found.global_holdout == len(IDS)


def test_cancelled_and_refunded_orders_are_no_conversion(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given the day's run, and in the window: a placed order, a cancelled one, and a
    # customer with a refunded order beside a placed one
    for customer in IDS:
        shop.customer(customer, birth_date=BIRTHDAY)
    config = _config(settings)
    daily_run(engine, config, AT)
    treated, _ = _groups(config)
    shop.order(treated[0], AT + timedelta(days=1), 1_000)
    cancelled = shop.order(treated[1], AT + timedelta(days=1), 2_000)
    refunded = shop.order(treated[2], AT + timedelta(days=1), 4_000)
    shop.order(treated[2], AT + timedelta(days=2), 300)
    with engine.begin() as connection:
        for order_id, status in ((cancelled, "cancelled"), (refunded, "refunded")):
            connection.execute(update(Order).where(Order.id == order_id).values(status=status))
    # when the campaign's outcomes are read
    with engine.connect() as connection:
        found = campaign_outcomes(connection, "birthday", DAY, DAY, 7)
    # then only the placed orders convert, with their revenue
    assert found.treated.conversions == 2
    assert found.treated.revenue_cents_total == 1_300
