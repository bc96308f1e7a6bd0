"""Policies, the contact budget and the outbox ledger."""

from datetime import date
from typing import Any

from sqlalchemy import Engine, func, insert, select

from campaigns.config import Settings
from campaigns.daily import daily_run
from campaigns.loader import Config
from shop.models import Coupon, CustomerStats, OrderItem, OutboxMessage, Run
from shop.purchases import rebuild_purchases
from shop.suppressions import suppress
from tests.factories import ShopFactory, local

AT = local("2026-06-15 09:00")
BIRTHDAY = date(1990, 6, 15)


def _config(settings: Settings, max_per_day: int = 2, **campaigns: dict[str, Any]) -> Config:
    campaigns = campaigns or {
        "birthday": {
            "trigger": "birthday",
            "channels": ["email", "sms"],
            "template": "birthday",
            "holdout_percent": 0,
        }
    }
    data = settings.model_dump() | {
        "campaigns": campaigns,
        "policy": {"max_messages_per_day": max_per_day},
    }
    return Config(Settings(**data), None)


def _statuses(result: Any) -> dict[tuple[str, str, str], str]:
    return {
        (m.campaign, m.customer_id, m.channel): m.reason or m.status for m in result.plan.messages
    }


def test_consent_address_and_suppression_per_channel(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given birthday customers with different consents, addresses and suppressions
    shop.customer("ok", birth_date=BIRTHDAY)
    shop.customer("no-sms-consent", birth_date=BIRTHDAY, sms_opt_in=False)
    shop.customer("no-phone", birth_date=BIRTHDAY, phone=None)
    shop.customer("bad-phone", birth_date=BIRTHDAY, phone="600 000 000")
    shop.customer("bounced", birth_date=BIRTHDAY, email="bounced@example.com")
    with engine.begin() as connection:
        suppress(connection, "email", "bounced@example.com", "hard_bounce", AT)
    # when the plan is made without writing
    result = daily_run(engine, _config(settings), AT, dry_run=True)
    # then each message carries its own verdict
    assert _statuses(result) == {
        ("birthday", "ok", "email"): "planned",
        ("birthday", "ok", "sms"): "planned",
        ("birthday", "no-sms-consent", "email"): "planned",
        ("birthday", "no-sms-consent", "sms"): "no_consent",
        ("birthday", "no-phone", "email"): "planned",
        ("birthday", "no-phone", "sms"): "no_address",
        ("birthday", "bad-phone", "email"): "planned",
        ("birthday", "bad-phone", "sms"): "invalid_address",
        ("birthday", "bounced", "email"): "suppressed",
        ("birthday", "bounced", "sms"): "planned",
    }
    assert result.run_id is None
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert connection.scalar(select(func.count()).select_from(Run)) == 0


def test_contact_budget_goes_to_the_higher_priority(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a customer matched by two campaigns and a budget of one message a day
    shop.customer("both", birth_date=BIRTHDAY)
    birthday = {
        "trigger": "birthday",
        "channels": ["email"],
        "template": "birthday",
        "holdout_percent": 0,
    }
    config = _config(
        settings,
        max_per_day=1,
        birthday_low=birthday | {"priority": 1},
        birthday_high=birthday | {"priority": 9},
    )
    # when the plan is made
    result = daily_run(engine, config, AT, dry_run=True)
    # then the higher priority campaign gets the slot
    assert _statuses(result) == {
        ("birthday_high", "both", "email"): "planned",
        ("birthday_low", "both", "email"): "contact_budget",
    }


def test_running_the_same_date_twice_adds_nothing(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a birthday customer and a first run that wrote the ledger
    shop.customer("ana", birth_date=BIRTHDAY)
    config = _config(settings)
    first = daily_run(engine, config, AT)
    # when the same date runs again
    second = daily_run(engine, config, AT)
    # then the ledger holds each message once, queued, and the re-run reports them
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxMessage.channel, OutboxMessage.status, OutboxMessage.occasion)
        ).all()
    assert sorted(rows) == [
        ("email", "queued", "birthday:2026"),
        ("sms", "queued", "birthday:2026"),
    ]
    assert {m.status for m in first.plan.messages} == {"planned"}
    assert {m.reason for m in second.plan.messages} == {"already_in_outbox"}
    assert first.run_id is not None and second.run_id == first.run_id + 1


def test_messages_already_sent_today_count_towards_the_budget(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a customer who already got one message today from another campaign's run
    shop.customer("ana", birth_date=BIRTHDAY)
    email_only = {
        "trigger": "birthday",
        "channels": ["email"],
        "template": "birthday",
        "holdout_percent": 0,
    }
    daily_run(engine, _config(settings, max_per_day=1, first=email_only), AT)
    # when a second campaign plans for the same day
    result = daily_run(engine, _config(settings, max_per_day=1, second=email_only), AT)
    # then the budget is spent
    assert _statuses(result) == {("second", "ana", "email"): "contact_budget"}


def test_context_columns_reach_the_ledger(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    shop.customer("ana", birth_date=BIRTHDAY)
    daily_run(engine, _config(settings), AT)
    with engine.connect() as connection:
        contexts = connection.scalars(select(OutboxMessage.context)).all()
    # the trigger's columns, and the products picked for the email (none: no products yet)
    assert contexts == [{"birthday_on": "2026-06-15", "recommendations": []}] * 2


def test_planned_emails_carry_the_products_picked_for_them(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given Ana (birthday) who bought beans, and Bo who bought beans with a filter
    for sku in ("beans", "filter", "mug"):
        shop.product(sku)
    ana, bo = shop.customer("ana", birth_date=BIRTHDAY), shop.customer("bo")
    orders = {shop.order(ana, local("2026-06-01 10:00")): ["beans"],
              shop.order(bo, local("2026-06-01 10:00")): ["beans", "filter"]}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(OrderItem), [
            {"order_id": order, "sku": sku, "quantity": 1, "unit_price_cents": 100}
            for order, skus in orders.items() for sku in skus
        ])  # fmt: skip
        rebuild_purchases(connection)  # what an import of these lines does
    birthday = {"trigger": "birthday", "channels": ["email"], "template": "birthday",
                "holdout_percent": 0, "recommendations": 2}  # fmt: skip
    # when the birthday campaign runs
    result = daily_run(engine, _config(settings, birthday=birthday), AT)
    # then Ana's email carries the filter first (bought with beans), never the beans
    [message] = result.plan.planned
    assert message.context["recommendations"] == ["filter", "mug"]


def test_the_run_refreshes_the_summaries_of_customers_whose_points_moved(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given summaries computed a day earlier, then a 600 EUR order before today's run,
    # and a customer whose 500 points of last June leave the window today
    buyer, fading = shop.customer("buyer"), shop.customer("fading")
    shop.order(fading, local("2025-06-15 12:00"), total_cents=50_000)
    shop.refresh_stats(date(2026, 6, 14))
    shop.order(buyer, local("2026-06-15 08:00"), total_cents=60_000)
    # when today's run happens
    daily_run(engine, _config(settings), AT)
    # then both summaries are as of today, and nobody else's row was written
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                CustomerStats.customer_id,
                CustomerStats.points_window,
                CustomerStats.tier,
                CustomerStats.computed_on,
            ).order_by(CustomerStats.customer_id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("buyer", 600, "silver", date(2026, 6, 15)),
        ("fading", 0, "bronze", date(2026, 6, 15)),
    ]


def test_a_run_issues_one_coupon_per_moment_and_a_rerun_keeps_it(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a birthday campaign with an offer, on email and SMS, and a dry run first
    shop.customer("ana", birth_date=BIRTHDAY)
    birthday = {"trigger": "birthday", "channels": ["email", "sms"], "template": "birthday",
                "holdout_percent": 0, "offer": {"percent_off": 15, "valid_days": 30}}  # fmt: skip
    config = _config(settings, birthday=birthday)
    dry = daily_run(engine, config, AT, dry_run=True)
    # when the date runs, then runs again
    first = daily_run(engine, config, AT)
    with engine.connect() as connection:
        codes = connection.execute(select(Coupon.code, Coupon.percent_off, Coupon.expires_on)).all()
    second = daily_run(engine, config, AT)
    with engine.connect() as connection:
        again = connection.execute(select(Coupon.code, Coupon.percent_off, Coupon.expires_on)).all()
    # then the dry run issued nothing, the run one coupon for the moment (both channels
    # share it), valid 30 days, and the re-run kept it
    assert (dry.coupons, first.coupons) == (0, 1)
    assert [(percent, expires) for _, percent, expires in codes] == [(15, date(2026, 7, 14))]
    assert again == codes and second.coupons == 0
