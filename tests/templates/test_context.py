"""Template contexts: loyalty, offer, cart lines, recommendations, unsubscribe link."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, update

from campaigns.config import Settings
from campaigns.offers import IssuedCoupon
from shop.models import Product
from templates.context import Built, ContextFailure, MessageRef, Personal, build_contexts
from templates.unsubscribe import Signer, Unsubscribe
from tests.factories import ShopFactory, local

SIGNER = Signer(b"s" * 32)
ON = date(2026, 12, 24)


def contexts(
    engine: Engine, settings: Settings, refs: list[MessageRef], personal: Personal | None = None
) -> list[dict[str, Any] | None]:
    """The contexts of a batch expected to build (None: the customer is gone)."""
    found = built(engine, settings, refs, personal)
    assert not any(isinstance(context, ContextFailure) for context in found), found
    return [context for context in found if not isinstance(context, ContextFailure)]


def built(
    engine: Engine, settings: Settings, refs: list[MessageRef], personal: Personal | None = None
) -> list[Built]:
    with engine.connect() as connection:
        return build_contexts(connection, settings, refs, ON, SIGNER, personal or Personal())


def test_loyalty_offer_and_links_of_a_birthday_message(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given Ana (Catalan) with 520 points earned this year, 120 of them from last January
    ana = shop.customer("ana", locale="ca", first_name="Ana")
    shop.order(ana, local("2026-01-10 12:00"), total_cents=12_000)
    shop.order(ana, local("2026-06-01 12:00"), total_cents=40_000)
    shop.product("mug", price_cents=1250)
    # and a coupon and one recommendation decided for her birthday
    ref = MessageRef(
        "birthday", "birthday", ana, "email", "birthday:2026", {"birthday_on": "2026-12-24"}
    )
    coupon = IssuedCoupon("ABCDE-FGHJK", 15, None, False, ON + timedelta(days=29))
    personal = Personal({ref.moment_key: coupon}, {ana: ["mug"]})
    # when her context is built on 24 December
    [context] = contexts(engine, settings, [ref], personal)
    # then it holds her tier, the points to gold, and January's 120 points, which expire
    # on 10 January 2027, within 30 days
    assert context is not None
    assert context["customer"]["first_name"] == "Ana"
    assert context["loyalty"] == {
        "balance": 520, "tier": "silver", "next_tier": "gold", "points_to_next_tier": 980,
        "expiring_points": 120,
        # and the program's rules, the same for everyone
        "reward_points": 100, "reward_percent_off": 10, "points_per_currency_unit": 1,
        "points_expire_days": 365,
        "tiers": [{"name": "bronze", "points": 0}, {"name": "silver", "points": 500},
                  {"name": "gold", "points": 1500}],
    }  # fmt: skip
    # and the offer, the recommendation priced in Catalan, the moment as a date
    assert context["offer"]["code"] == "ABCDE-FGHJK"
    assert context["offer"]["expires_on"] == date(2027, 1, 22)
    assert [(p["sku"], p["price"]) for p in context["recommendations"]] == [("mug", "12,50\xa0€")]
    assert context["moment"]["birthday_on"] == date(2026, 12, 24)
    # and an unsubscribe link that verifies for her and this channel only
    token = context["unsubscribe_url"].rsplit("/", 1)[1]
    assert context["unsubscribe_url"].startswith(f"{settings.web.public_url}/unsubscribe/")
    assert SIGNER.verify(token) == Unsubscribe(ana, "email")


def test_points_expiring_within_30_days_and_top_tier(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given Bo, gold with 1,600 points of which 100 were earned on 2 January 2026 (they
    # expire on 2 January 2027; November's 1,500 do not expire within 30 days)
    bo = shop.customer("bo")
    shop.order(bo, local("2026-01-02 10:00"), total_cents=10_000)
    shop.order(bo, local("2026-11-02 10:00"), total_cents=150_000)
    ref = MessageRef(
        "tier_up",
        "tier_change",
        bo,
        "email",
        "tier:gold:2026-12-24",
        {"old_tier": "silver", "new_tier": "gold"},
    )
    [context] = contexts(engine, settings, [ref])
    # then the 100 points expiring on 2 January 2027 show, and there is no next tier
    assert context is not None
    assert context["loyalty"]["expiring_points"] == 100
    assert (context["loyalty"]["tier"], context["loyalty"]["next_tier"]) == ("gold", None)
    assert context["offer"] is None


def test_an_abandoned_cart_lists_its_lines_as_they_stood_at_its_last_change(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given a cart that got 2 mugs and a tea, then the tea removed, then (later) a spoon
    cy = shop.customer("cy", locale="en")
    for sku, cents in (("mug", 1250), ("tea", 450), ("spoon", 300)):
        shop.product(sku, price_cents=cents)
    shop.cart("k1", cy, "mug", 2, local("2026-12-23 10:00"))
    shop.cart("k1", cy, "tea", 1, local("2026-12-23 10:01"))
    shop.cart("k1", cy, "tea", 0, local("2026-12-23 10:02"))
    shop.cart("k1", cy, "spoon", 1, local("2026-12-23 18:00"))
    moment = {"cart_id": "k1", "last_change_at": "2026-12-23T09:02:00Z", "item_count": 2}
    ref = MessageRef("abandoned_cart", "abandoned_cart", cy, "email", "cart:k1:x", moment)
    # when its context is built for the change at 10:02 local
    [context] = contexts(engine, settings, [ref])
    # then only the mugs are listed, with the cart's total in the customer's locale
    assert context is not None
    lines = context["moment"]["lines"]
    assert [(line["sku"], line["quantity"], line["price"]) for line in lines] == [
        ("mug", 2, "€12.50")
    ]
    assert context["moment"]["cart_total"] == "€25.00"


def test_a_customer_gone_since_planning_gets_no_context(engine: Engine, settings: Settings) -> None:
    ref = MessageRef(
        "win_back",
        "win_back",
        "ghost",
        "email",
        "win_back:2026-08-01",
        {"last_order_on": "2026-08-01"},
    )
    assert contexts(engine, settings, [ref]) == [None]


def test_a_stored_product_link_or_image_that_is_not_http_is_treated_as_absent(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given products whose links were written before the import refused them (or by SQL)
    ana = shop.customer("ana", locale="en")
    for sku, url, image in (
        ("js", "javascript:alert(document.domain)", "data:image/svg+xml,<svg onload=alert(1)>"),
        ("ok", "https://shop.example/ok", "https://shop.example/ok.jpg"),
        ("sneaky", " javascript:alert(1)", "//evil.example/x.png"),
    ):
        shop.product(sku)
        with engine.begin() as connection:
            connection.execute(
                update(Product).where(Product.sku == sku).values(url=url, image_url=image)
            )
    ref = MessageRef("birthday", "birthday", ana, "email", "birthday:2026",
                     {"birthday_on": "2026-12-24"})  # fmt: skip
    # when her context recommends all three
    [context] = contexts(engine, settings, [ref], Personal({}, {ana: ["js", "ok", "sneaky"]}))
    # then each is still shown, the unsafe ones linking to the shop and without an image
    assert context is not None
    assert [(p["sku"], p["url"], p["image_url"]) for p in context["recommendations"]] == [
        ("js", settings.shop.url, ""),
        ("ok", "https://shop.example/ok", "https://shop.example/ok.jpg"),
        ("sneaky", settings.shop.url, ""),
    ]


def test_a_moment_that_does_not_parse_fails_that_message_alone(
    engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given two abandoned carts, one whose moment was corrupted after planning
    ana, bo = shop.customer("ana", first_name="Anabel"), shop.customer("bo")
    moment = {"cart_id": "k1", "last_change_at": "2026-12-23T09:02:00Z", "item_count": 0}
    good = MessageRef("abandoned_cart", "abandoned_cart", ana, "email", "cart:k1:x", moment)
    bad = MessageRef("abandoned_cart", "abandoned_cart", bo, "email", "cart:k2:x",
                     moment | {"cart_id": "k2", "last_change_at": "Anabel"})  # fmt: skip
    # when both contexts are built in one batch
    first, second = built(engine, settings, [good, bad])
    # then the good one is built and the bad one is a failure that names no one
    assert isinstance(first, dict) and first["moment"]["lines"] == []
    assert isinstance(second, ContextFailure) and "cart" in second.detail
