from datetime import datetime, timedelta

from sqlalchemy import Engine

from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches

RUN = local("2026-05-10 12:00")
IDLE = timedelta(hours=4)
DAY = timedelta(hours=24)
SECOND = timedelta(seconds=1)


def _cart(shop: ShopFactory, name: str, last_change: datetime, quantity: int = 1) -> str:
    customer = shop.customer(name)
    shop.cart(f"cart-{name}", customer, "sku-1", 2, last_change - timedelta(minutes=10))
    shop.cart(f"cart-{name}", customer, "sku-1", quantity, last_change)
    return customer


def test_window_boundaries_to_the_second(engine: Engine, shop: ShopFactory) -> None:
    # given carts last changed at the edges of (T - 4 h - 24 h, T - 4 h]
    shop.product("sku-1")
    _cart(shop, "newest", RUN - IDLE)
    _cart(shop, "too-fresh", RUN - IDLE + SECOND)
    _cart(shop, "oldest", RUN - IDLE - DAY + SECOND)
    _cart(shop, "too-old", RUN - IDLE - DAY)
    # when abandoned_cart runs with idle_hours = 4
    found = matches(engine, "abandoned_cart", shop.run(RUN), idle_hours=4)
    # then both ends behave as documented, and the occasion names cart and change
    assert set(found) == {"newest", "oldest"}
    assert found["newest"]["occasion"] == "cart:cart-newest:2026-05-10T06:00:00Z"
    assert found["newest"]["item_count"] == 1


def test_empty_carts_and_removed_lines(engine: Engine, shop: ShopFactory) -> None:
    # given a cart emptied by its last change, and one with a line removed and one left
    shop.product("sku-1")
    shop.product("sku-2")
    _cart(shop, "emptied", RUN - 2 * IDLE, quantity=0)
    keeper = shop.customer("keeper")
    shop.cart("cart-k", keeper, "sku-1", 3, RUN - 3 * IDLE)
    shop.cart("cart-k", keeper, "sku-2", 1, RUN - 3 * IDLE)
    shop.cart("cart-k", keeper, "sku-2", 0, RUN - 2 * IDLE)
    # when the trigger runs
    found = matches(engine, "abandoned_cart", shop.run(RUN))
    # then only the cart with items is abandoned, counting the live line only
    assert set(found) == {"keeper"}
    assert found["keeper"]["item_count"] == 3
    assert found["keeper"]["cart_id"] == "cart-k"


def test_an_order_after_the_last_change_closes_the_cart(engine: Engine, shop: ShopFactory) -> None:
    # given three abandoned carts: ordered after, ordered before, ordered only after T
    shop.product("sku-1")
    change = RUN - 2 * IDLE
    bought = _cart(shop, "bought", change)
    shop.order(bought, change + SECOND)
    earlier = _cart(shop, "earlier", change)
    shop.order(earlier, change - SECOND)
    later = _cart(shop, "later", change)
    shop.order(later, RUN + SECOND)
    # when the trigger runs at T
    found = matches(engine, "abandoned_cart", shop.run(RUN))
    # then only the cart followed by an order up to T is dropped
    assert set(found) == {"earlier", "later"}


def test_changes_after_the_run_instant_are_ignored(engine: Engine, shop: ShopFactory) -> None:
    # given a cart abandoned before T and changed again an hour after T
    shop.product("sku-1")
    customer = _cart(shop, "replayed", RUN - 2 * IDLE)
    shop.cart("cart-replayed", customer, "sku-1", 0, RUN + timedelta(hours=1))
    # when the run at T is replayed, and a run happens the next day
    replay = matches(engine, "abandoned_cart", shop.run(RUN))
    next_day = matches(engine, "abandoned_cart", shop.run(RUN + DAY))
    # then the replay sees the cart as it was at T; the next day it is empty
    assert set(replay) == {"replayed"}
    assert next_day == {}


def test_idle_hours_are_elapsed_hours_across_a_dst_change(
    engine: Engine, shop: ShopFactory
) -> None:
    # given the 09:00 run of 29 March 2026, when Madrid's clocks jumped from 02:00 to 03:00
    shop.product("sku-1")
    run = shop.run(local("2026-03-29 09:00"))
    # and carts left at 04:30 and 05:30 local: 4.5 h and 3.5 h of real time before the run
    _cart(shop, "idle", local("2026-03-29 04:30"))
    _cart(shop, "fresh", local("2026-03-29 05:30"))
    # and one left at 04:59 on the 28th: 27 h before in real time, though 28 h on the clock
    _cart(shop, "day-old", local("2026-03-28 04:59"))
    # when abandoned_cart runs with idle_hours = 4
    found = matches(engine, "abandoned_cart", run, idle_hours=4)
    # then the window is (T - 28 h, T - 4 h] of elapsed time
    assert set(found) == {"idle", "day-old"}
