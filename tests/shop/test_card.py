"""The customer's loyalty card (shop.card): balance and what it buys, tier progress, reward
coupons, points expiring (FIFO), the last orders and the points for interactions."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, update

from campaigns.config import Settings
from shop.card import Card, CardBonus, CardOrder, Expiring, Reward, loyalty_card, points_on
from shop.interactions import book_interaction
from shop.loyalty import Entry, balance_on
from shop.models import Coupon, Customer, LedgerEntry, Order
from tests.factories import ShopFactory, local

ON = date(2026, 6, 15)


def _card(engine: Engine, settings: Settings, customer_id: str, on: date = ON) -> Card:
    with engine.connect() as connection:
        card = loyalty_card(connection, settings, customer_id, on)
    assert card is not None
    return card


def _order(shop: ShopFactory, customer_id: str, day: str, points: int) -> str:
    """An order on `day` (shop-local noon) that earns `points` (1 point per euro)."""
    return shop.order(customer_id, local(f"{day} 12:00"), total_cents=points * 100)


def _spend(engine: Engine, customer_id: str, kind: str, points: int, day: str, source: str) -> None:
    with engine.begin() as connection:
        connection.execute(insert(LedgerEntry), {
            "customer_id": customer_id, "kind": kind, "points": -points,
            "on_date": date.fromisoformat(day), "at": local(f"{day} 13:00"), "source": source,
        })  # fmt: skip


def _cancel(engine: Engine, customer_id: str, order_id: str, points: int, day: str) -> None:
    """What the import does for a cancelled order: the status, and a reversal on the
    order's own date."""
    with engine.begin() as connection:
        connection.execute(update(Order).where(Order.id == order_id).values(status="cancelled"))
    _spend(engine, customer_id, "reverse", points, day, f"reverse:{order_id}")


def _coupon(
    engine: Engine, customer_id: str, code: str, expires_on: date, **fields: object
) -> None:
    row = {"code": code, "campaign": "rewards", "customer_id": customer_id,
           "occasion": f"reward:{code}", "percent_off": 10, "free_shipping": False,
           "expires_on": expires_on, "created_at": datetime(2026, 6, 1, tzinfo=UTC),
           "points_cost": 100} | fields  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Coupon), row)


def test_the_balance_and_what_it_buys(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 400 + 600 + 300 points earned and 250 spent on an order
    ana = shop.customer("ana")
    for day, points in (("2025-07-01", 400), ("2025-09-01", 600), ("2026-03-01", 300)):
        _order(shop, ana, day, points)
    _spend(engine, ana, "redeem", 250, "2026-04-01", "redeem:x")
    # when her card is read
    card = _card(engine, settings, ana)
    # then 1,050 points buy ten rewards of 10 % (100 points each), 50 short of the 11th
    assert card.balance == 1050 and card.locale == "es" and card.first_name == "Ana"
    assert (card.rewards_affordable, card.points_to_next_reward) == (10, 50)
    assert (card.reward_points, card.reward_percent_off) == (100, 10)


def test_an_empty_card_is_a_whole_reward_away(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a new member, and one whose balance is exactly two rewards
    new, even = shop.customer("new"), shop.customer("even")
    _order(shop, even, "2026-06-01", 200)
    # then neither has a part of a reward: the next one is 100 points away
    assert (_card(engine, settings, new).balance, _card(engine, settings, new).orders) == (0, ())
    assert (_card(engine, settings, new).rewards_affordable,
            _card(engine, settings, new).points_to_next_reward) == (0, 100)  # fmt: skip
    assert (_card(engine, settings, even).rewards_affordable,
            _card(engine, settings, even).points_to_next_reward) == (2, 100)  # fmt: skip


def test_tier_progress_sums_the_window_and_the_program_s_kinds(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 1,000 points earned before the 365-day window, 400 + 300 in it, the 300 of a
    # cancelled order reversed, 250 spent, and 200 points for a review
    rules = settings.model_dump()["loyalty"] | {"actions": {"review": 200}}
    settings = Settings(**(settings.model_dump() | {"loyalty": rules}))
    ana = shop.customer("ana")
    _order(shop, ana, "2025-06-15", 1000)  # the window is (2025-06-15, 2026-06-15]
    _order(shop, ana, "2025-07-01", 400)
    cancelled = _order(shop, ana, "2026-03-01", 300)
    _cancel(engine, ana, cancelled, 300, "2026-03-01")
    _spend(engine, ana, "redeem", 250, "2026-04-01", "redeem:x")
    _review(engine, settings, ana, "r1", "2026-05-01")
    # then only the orders' points count: 400 earned, Bronze, 100 short of Silver
    card = _card(engine, settings, ana)
    assert (card.tier, card.tier_points, card.next_tier) == ("bronze", 400, "silver")
    assert (card.next_tier_threshold, card.points_to_next_tier, card.window_days) == (500, 100, 365)
    # when actions count toward tiers, the review's 200 do: Silver, 900 short of Gold
    rules = rules | {"actions_count_toward_tiers": True}
    counted = _card(engine, Settings(**(settings.model_dump() | {"loyalty": rules})), ana)
    assert (counted.tier, counted.tier_points, counted.next_tier) == ("silver", 600, "gold")
    assert counted.points_to_next_tier == 900


def test_the_top_tier_has_no_next(engine: Engine, settings: Settings, shop: ShopFactory) -> None:
    ana = shop.customer("ana")
    _order(shop, ana, "2026-01-10", 2000)
    card = _card(engine, settings, ana)
    assert (card.tier, card.next_tier, card.next_tier_threshold) == ("gold", None, None)
    assert card.points_to_next_tier == 0


def _review(engine: Engine, settings: Settings, customer_id: str, review_id: str, day: str) -> None:
    with engine.begin() as connection:
        assert book_interaction(
            connection, settings.loyalty, settings.shop.tz, interaction_id=review_id,
            customer_id=customer_id, action="review", at=local(f"{day} 10:00"),
        )  # fmt: skip


def test_points_expiring_are_what_is_left_of_each_lot_oldest_spent_first(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a lot that expired unspent, 400 points of July (250 of them spent after), two
    # lots of September 1st, and lots of March, April and May
    ana = shop.customer("ana")
    _order(shop, ana, "2025-06-01", 70)  # expired on 2026-06-01, before the card's date
    _order(shop, ana, "2025-07-01", 400)
    _order(shop, ana, "2025-09-01", 600)
    _order(shop, ana, "2025-09-01", 5)
    _order(shop, ana, "2026-03-01", 30)
    _order(shop, ana, "2026-04-01", 20)
    _order(shop, ana, "2026-05-01", 10)
    _spend(engine, ana, "redeem", 250, "2026-06-05", "redeem:x")
    # then the partly spent July lot shows what is left, the same day's lots are one line,
    # and only the next four dates are listed
    card = _card(engine, settings, ana)
    assert card.expiring == (
        Expiring(date(2026, 7, 1), 150),
        Expiring(date(2026, 9, 1), 605),
        Expiring(date(2027, 3, 1), 30),
        Expiring(date(2027, 4, 1), 20),
    )
    assert card.balance == 150 + 605 + 30 + 20 + 10
    # and on July 1st the rest of the July lot is gone, and May's lot is listed
    july = _card(engine, settings, ana, date(2026, 7, 1))
    assert july.expiring[0] == Expiring(date(2026, 9, 1), 605) and july.balance == 665
    assert july.expiring[-1] == Expiring(date(2027, 5, 1), 10)


def test_a_lot_spent_whole_is_not_listed(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a cancelled order's reversal, which spends the oldest points like a redemption
    ana = shop.customer("ana")
    _order(shop, ana, "2025-07-01", 100)
    cancelled = _order(shop, ana, "2025-08-01", 300)
    _cancel(engine, ana, cancelled, 300, "2025-08-01")
    # then July's 100 go first and 100 of August's 300 remain
    assert _card(engine, settings, ana).expiring == (Expiring(date(2026, 8, 1), 100),)


def test_a_reversal_learned_late_spends_the_lots_live_when_it_was_learned(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given 100 points of June 2025 (expired on 2026-06-01) and a September order of 300
    # whose cancellation Leal learned on 2026-06-05
    ana = shop.customer("ana")
    _order(shop, ana, "2025-06-01", 100)
    cancelled = _order(shop, ana, "2025-09-01", 300)
    with engine.begin() as connection:
        connection.execute(update(Order).where(Order.id == cancelled).values(status="cancelled"))
        connection.execute(insert(LedgerEntry), {
            "customer_id": ana, "kind": "reverse", "points": -300,
            "on_date": date(2025, 9, 1), "at": local("2026-06-05 10:00"),
            "source": f"reverse:{cancelled}",
        })  # fmt: skip
    # then the reversal took the September lot, not the June one that had expired
    card = _card(engine, settings, ana)
    assert (card.balance, card.expiring) == (0, ())
    assert card.orders[0] == CardOrder(date(2025, 9, 1), 30000, 300, reversed=True)


def test_the_expiring_points_agree_with_the_balance_arithmetic() -> None:
    # given random ledgers of lots and spends, some spends booked days after their date,
    # a few corrections by hand
    rng = random.Random(12)
    for _ in range(300):
        entries, day = [], date(2025, 1, 1)
        for entry_id in range(1, rng.randint(1, 30)):
            day += timedelta(days=rng.randint(0, 40))
            if rng.random() < 0.05:  # a correction by hand: a lot that never expires, or a spend
                entries.append(
                    Entry(entry_id, "adjust", rng.choice((-1, 1)) * rng.randint(1, 99), day)
                )
            elif rng.random() < 0.6:
                life = timedelta(days=rng.choice((30, 90, 365)))
                kind = rng.choice(("earn", "bonus"))
                entries.append(Entry(entry_id, kind, rng.randint(1, 500), day, day + life))
            else:
                kind = rng.choice(("redeem", "reverse", "reward"))
                late = day + timedelta(days=rng.choice((0, 0, 3, 60)))
                entries.append(Entry(entry_id, kind, -rng.randint(1, 400), day, booked_on=late))
        on = day + timedelta(days=rng.randint(-30, 120))
        card_points = points_on(entries, on)
        by_date = card_points.by_expiry
        balance = balance_on(entries, on, horizon_days=45)
        # then the balance is balance_on's, the points by expiry date are part of it (all of
        # it without a lot that never expires), and those within the horizon are what
        # balance_on says expires
        assert card_points.balance == max(balance.points, 0)
        never = any(e.kind == "adjust" and e.points > 0 and e.fifo_date <= on for e in entries)
        assert sum(by_date.values()) <= card_points.balance
        assert never or sum(by_date.values()) == card_points.balance
        horizon = on + timedelta(days=45)
        assert sum(points for end, points in by_date.items() if end <= horizon) == (
            balance.expiring
        )
        assert all(end > on and points > 0 for end, points in by_date.items())


def test_reward_coupons_still_usable(engine: Engine, settings: Settings, shop: ShopFactory) -> None:
    # given reward coupons: usable, valid through today, redeemed, expired yesterday; an
    # ordinary coupon; another customer's reward
    ana, bo = shop.customer("ana"), shop.customer("bo")
    _coupon(engine, ana, "LATER", date(2026, 7, 15))
    _coupon(engine, ana, "TODAY", ON, percent_off=15)
    _coupon(engine, ana, "USED", date(2026, 7, 15),
            redeemed_at=datetime(2026, 6, 10, tzinfo=UTC))  # fmt: skip
    _coupon(engine, ana, "GONE", ON - timedelta(days=1))
    _coupon(engine, ana, "BIRTHDAY", date(2026, 7, 15), points_cost=None)
    _coupon(engine, bo, "BOS", date(2026, 7, 15))
    # then her card lists the two she can still use, the soonest to end first
    assert _card(engine, settings, ana).rewards == (
        Reward("TODAY", 15, None, ON),
        Reward("LATER", 10, None, date(2026, 7, 15)),
    )


def test_the_last_ten_orders_newest_first_a_cancelled_one_reversed(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given twelve orders, one cancelled, and one placed after the card's date
    ana = shop.customer("ana")
    ids = [_order(shop, ana, f"2026-05-{day:02d}", day) for day in range(1, 13)]
    _cancel(engine, ana, ids[-1], 12, "2026-05-12")
    _order(shop, ana, "2026-06-16", 99)
    # then the card shows May 12th back to May 3rd, the 12th reversed
    orders = _card(engine, settings, ana).orders
    assert orders[0] == CardOrder(date(2026, 5, 12), 1200, 12, reversed=True)
    assert orders[1] == CardOrder(date(2026, 5, 11), 1100, 11, reversed=False)
    assert [order.on.day for order in orders] == list(range(12, 2, -1))


def test_points_for_interactions_with_their_action(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a review and a referral that earn points, and one after the card's date
    rules = settings.model_dump()["loyalty"] | {"actions": {"review": 50, "referral": 200}}
    settings = Settings(**(settings.model_dump() | {"loyalty": rules}))
    ana = shop.customer("ana")
    _review(engine, settings, ana, "r1", "2026-05-01")
    with engine.begin() as connection:
        for interaction_id, day in (("ref1", "2026-05-20"), ("ref2", "2026-06-20")):
            book_interaction(connection, settings.loyalty, settings.shop.tz,
                             interaction_id=interaction_id, customer_id=ana, action="referral",
                             at=local(f"{day} 10:00"))  # fmt: skip
    # then the card lists them newest first, and they count in the balance
    card = _card(engine, settings, ana)
    assert card.bonuses == (
        CardBonus(date(2026, 5, 20), "referral", 200),
        CardBonus(date(2026, 5, 1), "review", 50),
    )
    assert card.balance == 250


def test_an_erased_or_unknown_customer_has_no_card(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    ana = shop.customer("ana")
    _order(shop, ana, "2026-05-01", 100)
    with engine.begin() as connection:
        connection.execute(
            update(Customer).where(Customer.id == ana).values(erased_at=datetime.now(UTC))
        )
    with engine.connect() as connection:
        assert loyalty_card(connection, settings, ana, ON) is None
        assert loyalty_card(connection, settings, "nobody", ON) is None
