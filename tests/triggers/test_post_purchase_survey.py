from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, update

from shop.models import Order, OutboxMessage
from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches
from tests.triggers.plans import query_plan

RUN = local("2026-09-30 09:00")
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
TRIGGER = "post_purchase_survey"


def _order(
    shop: ShopFactory,
    customer: str,
    at: datetime,
    delivered_at: datetime | None = None,
    status: str = "placed",
) -> str:
    order_id = shop.order(customer, at)
    with shop.engine.begin() as connection:
        connection.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(delivered_at=delivered_at, status=status)
        )
    return order_id


def _asked(
    shop: ShopFactory,
    customer: str,
    run_date: date,
    campaign: str = "nps",
    trigger: str = TRIGGER,
    status: str = "sent",
) -> None:
    """An outbox row as a run on `run_date` would have written it."""
    at = datetime.combine(run_date, RUN.timetz())
    with shop.engine.begin() as connection:
        connection.execute(
            insert(OutboxMessage),
            {
                "campaign": campaign,
                "trigger": trigger,
                "customer_id": customer,
                "channel": "email",
                "occasion": f"survey:earlier-{run_date}",
                "status": status,
                "context": {},
                "run_date": run_date,
                "due_at": at,
                "created_at": at,
                "updated_at": at,
            },
        )


def test_window_boundaries_to_the_second(engine: Engine, shop: ShopFactory) -> None:
    # given orders at the edges of (P - 3 days, T - 3 days] = (26 Sep 09:00, 27 Sep 09:00]
    until = RUN - 3 * DAY
    for name, at in {
        "newest": until,
        "too-fresh": until + SECOND,
        "oldest": until - DAY + SECOND,
        "too-old": until - DAY,
    }.items():
        _order(shop, shop.customer(name), at)
    # when post_purchase_survey runs with the default days_after = 3
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then the window is open at its start and closed at its end; the occasion names the order
    assert set(found) == {"newest", "oldest"}
    newest = found["newest"]
    assert newest["occasion"] == f"survey:{newest['order_id']}"
    assert newest["ordered_at"] == "2026-09-27T07:00:00Z"
    assert newest["delivered_at"] is None


def test_consecutive_runs_tile_time_across_a_dst_night(engine: Engine, shop: ShopFactory) -> None:
    # given orders each hour around the night clocks went back (25 Oct 2026, a 25-hour day)
    start = local("2026-10-24 08:30").astimezone(UTC)  # in UTC: elapsed hours
    for hour in range(30):
        _order(shop, shop.customer(f"h{hour}"), start + timedelta(hours=hour))
    # when the runs of 26 and 27 Oct at 09:00 ask for days_after = 1
    first = matches(engine, TRIGGER, shop.run(local("2026-10-26 09:00")), days_after=1)
    second = matches(engine, TRIGGER, shop.run(local("2026-10-27 09:00")), days_after=1)
    # then the first window is the 25 hours from 24 Oct 09:00 local, the second follows it,
    # and no order is in both
    assert set(first) == {f"h{hour}" for hour in range(1, 26)}
    assert set(second) == {f"h{hour}" for hour in range(26, 30)}


def test_days_after_zero_takes_the_day_up_to_the_run(engine: Engine, shop: ShopFactory) -> None:
    # given orders at the previous run, just after it, at the run and just after the run
    for name, at in {
        "at-previous": RUN - DAY,
        "after-previous": RUN - DAY + SECOND,
        "at-run": RUN,
        "after-run": RUN + SECOND,
    }.items():
        _order(shop, shop.customer(name), at)
    # when the survey is sent the same day (days_after = 0)
    found = matches(engine, TRIGGER, shop.run(RUN), days_after=0)
    # then it is (P, T]: an order after the run is tomorrow's
    assert set(found) == {"after-previous", "at-run"}


def test_delivery_replaces_the_order_instant(engine: Engine, shop: ShopFactory) -> None:
    # given orders placed and delivered at different times, by the days_after = 3 window
    in_window = RUN - 3 * DAY - timedelta(hours=2)
    _order(shop, shop.customer("delivered-in-window"), in_window - 6 * DAY, in_window)
    _order(shop, shop.customer("ordered-in-window-delivered-later"), in_window, in_window + DAY)
    _order(shop, shop.customer("ordered-in-window-never-delivered"), in_window)
    _order(shop, shop.customer("delivered-after-run"), in_window, RUN + DAY)
    # when post_purchase_survey runs
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then a delivered order counts from its delivery; without one (known by T) from its order
    assert set(found) == {
        "delivered-in-window",
        "ordered-in-window-never-delivered",
        "delivered-after-run",
    }
    assert found["delivered-in-window"]["delivered_at"] == "2026-09-27T05:00:00Z"
    assert found["delivered-in-window"]["ordered_at"] == "2026-09-21T05:00:00Z"
    assert found["delivered-after-run"]["delivered_at"] == "2026-10-01T07:00:00Z"


def test_wait_for_delivery_skips_undelivered_orders(engine: Engine, shop: ShopFactory) -> None:
    # given an undelivered order and a delivered one, both in the window
    in_window = RUN - 3 * DAY - timedelta(hours=2)
    _order(shop, shop.customer("undelivered"), in_window)
    _order(shop, shop.customer("delivered"), in_window - DAY, in_window)
    # when the campaign waits for deliveries
    found = matches(engine, TRIGGER, shop.run(RUN), wait_for_delivery=True)
    # then only the delivered order is surveyed
    assert set(found) == {"delivered"}


def test_a_late_delivery_does_not_survey_an_order_twice(engine: Engine, shop: ShopFactory) -> None:
    # given an order surveyed on its order date (no delivery known then) ...
    customer = shop.customer("late")
    placed = RUN - 3 * DAY - timedelta(hours=2)
    order_id = _order(shop, customer, placed)
    first = matches(engine, TRIGGER, shop.run(RUN))
    assert first[customer]["occasion"] == f"survey:{order_id}"
    _asked(shop, customer, RUN.date())
    # ... whose delivery arrives afterwards, two days after the order
    with shop.engine.begin() as connection:
        delivered = placed + 2 * DAY
        connection.execute(update(Order).where(Order.id == order_id).values(delivered_at=delivered))
    # when the run 3 days after the delivery comes
    again = shop.run(RUN + 2 * DAY)
    # then the cooldown keeps it out; without one it comes back with the same occasion,
    # which the outbox's unique key refuses for the campaign that already asked
    assert matches(engine, TRIGGER, again) == {}
    no_cooldown = matches(engine, TRIGGER, again, cooldown_days=0)
    assert no_cooldown[customer]["occasion"] == f"survey:{order_id}"


def test_cooldown_counts_every_survey_campaign(engine: Engine, shop: ShopFactory) -> None:
    # given customers with an order in the window and earlier outbox rows of several kinds
    in_window = RUN - 3 * DAY - timedelta(hours=2)
    asked = {
        "89-days-ago": (89, "nps", TRIGGER, "sent"),
        "90-days-ago": (90, "nps", TRIGGER, "sent"),
        "other-campaign": (10, "csat", TRIGGER, "sent"),
        "held-out": (10, "nps", TRIGGER, "holdout"),
        "other-trigger": (10, "winback", "win_back", "sent"),
        "today": (0, "nps", TRIGGER, "queued"),
        "after-run-date": (-5, "nps", TRIGGER, "sent"),
    }
    for name, (days, campaign, trigger, status) in asked.items():
        customer = shop.customer(name)
        _order(shop, customer, in_window)
        _asked(shop, customer, RUN.date() - timedelta(days=days), campaign, trigger, status)
    _order(shop, shop.customer("never-asked"), in_window)
    # when post_purchase_survey runs with the default 90-day cooldown
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then a survey of any campaign (held out too) in the 89 days before blocks the customer;
    # today's own rows (a re-run) and later ones (a replay) do not
    assert set(found) == {"90-days-ago", "other-trigger", "today", "after-run-date", "never-asked"}
    assert set(matches(engine, TRIGGER, shop.run(RUN), cooldown_days=0)) == set(asked) | {
        "never-asked"
    }


def test_cancelled_and_refunded_orders_are_not_surveyed(engine: Engine, shop: ShopFactory) -> None:
    # given cancelled and refunded orders in the window, one customer with a placed one earlier
    in_window = RUN - 3 * DAY - timedelta(hours=2)
    _order(shop, shop.customer("cancelled"), in_window, status="cancelled")
    _order(shop, shop.customer("refunded"), in_window, in_window, status="refunded")
    mixed = shop.customer("mixed")
    kept = _order(shop, mixed, in_window - timedelta(hours=3))
    _order(shop, mixed, in_window, status="cancelled")
    # when post_purchase_survey runs
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then only the placed order is asked about, though the cancelled one is later
    assert set(found) == {"mixed"}
    assert found["mixed"]["order_id"] == kept


def test_two_orders_of_one_customer_ask_about_the_latest(engine: Engine, shop: ShopFactory) -> None:
    # given a customer with two orders in the window, one delivered later than the other
    in_window = RUN - 3 * DAY - timedelta(hours=10)
    customer = shop.customer("two")
    _order(shop, customer, in_window)
    latest = _order(shop, customer, in_window - 5 * DAY, in_window + timedelta(hours=5))
    twins = shop.customer("twins")
    twin_ids = {_order(shop, twins, in_window), _order(shop, twins, in_window)}
    # when post_purchase_survey runs
    found = matches(engine, TRIGGER, shop.run(RUN))
    # then one moment each: the latest reference instant, the higher order id on a tie
    assert found["two"]["order_id"] == latest
    assert found["twins"]["order_id"] == max(twin_ids)


def test_reads_one_day_of_each_orders_index(engine: Engine, shop: ShopFactory) -> None:
    # given a shop with orders (the plan, not the answer, is under test)
    _order(shop, shop.customer("c"), RUN - 3 * DAY, RUN - 3 * DAY)
    # when the query is planned
    plan = query_plan(engine, TRIGGER, shop.run(RUN))
    # then the window is a range of the order index and of the partial delivery index
    assert "ix_orders_ordered_at" in plan
    assert "ix_orders_delivered_at" in plan
