"""An order carrying a coupon Leal issued to its customer marks it redeemed: once, by the
first order, whatever the path or how often the files come again. A reward coupon redeemed
books its points cost, capped at the balance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update

from campaigns.config import Settings
from shop import csv_rows, import_parse, importer
from shop.events import apply_event
from shop.models import Coupon, CustomerStats, LedgerEntry, Order
from tests.shop.import_files import SHOP, by_key, run, table, write

HEADER = "order_id,customer_id,ordered_at,total,coupon_code,discount"
ANA, BO = "ANAAA-CODE2", "BOBBB-CODE3"  # Ana's and Bo's coupons
CREATED = datetime(2026, 6, 1, 9, tzinfo=UTC)


def _shop(engine: Engine, settings: Settings, folder: Path, **expires: date) -> None:
    """The customers of the sample shop, with one open coupon each for Ana and Bo."""
    folder.mkdir()
    write(folder, "customers", *SHOP["customers"])
    run(engine, folder, settings)
    _coupon(engine, ANA, "ana", expires.get("ana", date(2026, 6, 30)))
    _coupon(engine, BO, "bo", expires.get("bo", date(2026, 6, 30)))


def _coupon(engine: Engine, code: str, customer_id: str, expires_on: date) -> None:
    row = {"code": code, "campaign": "birthday", "customer_id": customer_id,
           "occasion": "2026", "percent_off": 10, "free_shipping": False,
           "created_at": CREATED, "expires_on": expires_on}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Coupon), row)


def _orders(engine: Engine, settings: Settings, folder: Path, *lines: str) -> list[str]:
    """Import these orders (with the coupon columns); the problems reported."""
    folder.mkdir()
    write(folder, "orders", *lines, header=HEADER)
    return run(engine, folder, settings).problems


def _redeemed(engine: Engine) -> dict[str, tuple[Any, Any]]:
    return {
        code: (row["redeemed_order_id"], row["redeemed_at"])
        for code, row in by_key(engine, Coupon, "code").items()
    }


def test_an_order_with_its_customers_code_marks_the_coupon_redeemed(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given open coupons for Ana and Bo
    _shop(engine, settings, tmp_path / "shop")
    # when Ana orders with her code, written as a person types it
    problems = _orders(
        engine, settings, tmp_path / "orders",
        "o1,ana,2026-06-10T12:00:00+02:00,40.00, anaaa-code2 ,5.50",
        "o2,ana,2026-06-11T12:00:00+02:00,10.00,,",
    )  # fmt: skip
    # then her coupon is redeemed by that order at its instant, and Bo's is still open
    assert problems == []
    assert _redeemed(engine) == {
        ANA: ("o1", datetime(2026, 6, 10, 10, tzinfo=UTC)),
        BO: (None, None),
    }
    # and the order keeps the normalized code and the discount in cents
    orders = by_key(engine, Order, "id")
    assert [(orders[o]["coupon_code"], orders[o]["discount_cents"]) for o in ("o1", "o2")] == [
        (ANA, 550),
        (None, 0),
    ]


def test_another_customers_code_or_an_unknown_one_is_kept_and_redeems_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given open coupons for Ana and Bo
    _shop(engine, settings, tmp_path / "shop")
    # when Cy orders with Ana's code (a shared code) and Bo with the shop's own code
    problems = _orders(
        engine, settings, tmp_path / "orders",
        f"o1,cy,2026-06-10T10:00:00Z,40.00,{ANA},4.00",
        "o2,bo,2026-06-10T11:00:00Z,20.00,summer-24,2.00",
    )  # fmt: skip
    # then no coupon is redeemed, and both orders keep the code they carried
    assert problems == []
    assert _redeemed(engine) == {ANA: (None, None), BO: (None, None)}
    orders = by_key(engine, Order, "id")
    assert (orders["o1"]["coupon_code"], orders["o2"]["coupon_code"]) == (ANA, "SUMMER-24")


def test_of_two_orders_with_one_code_the_earliest_wins_and_keeps_it(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana's open coupon
    _shop(engine, settings, tmp_path / "shop")
    # when one import holds two of her orders with it, the later one first in the file,
    # and a tie at the same instant (the smaller id wins it)
    _orders(
        engine, settings, tmp_path / "first",
        f"o3,ana,2026-06-12T10:00:00Z,40.00,{ANA},4.00",
        f"o2,ana,2026-06-11T10:00:00Z,40.00,{ANA},4.00",
        f"o9,bo,2026-06-11T10:00:00Z,40.00,{BO},4.00",
        f"o8,bo,2026-06-11T10:00:00Z,40.00,{BO},4.00",
    )  # fmt: skip
    # then the earliest order redeemed each coupon
    first = {
        ANA: ("o2", datetime(2026, 6, 11, 10, tzinfo=UTC)),
        BO: ("o8", datetime(2026, 6, 11, 10, tzinfo=UTC)),
    }
    assert _redeemed(engine) == first
    # when a later import brings an even earlier order with the same code (while another
    # coupon is still open)
    _coupon(engine, "CYYYY-CODE4", "cy", date(2026, 6, 30))
    line = f"o1,ana,2026-06-10T10:00:00Z,9.00,{ANA},1.00"
    assert _orders(engine, settings, tmp_path / "later", line) == []
    # then the coupon stays with the order that redeemed it first
    assert _redeemed(engine) == first | {"CYYYY-CODE4": (None, None)}


def test_importing_the_same_orders_again_changes_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana's coupon redeemed by an import
    _shop(engine, settings, tmp_path / "shop")
    line = f"o1,ana,2026-06-10T10:00:00Z,40.00,{ANA},4.00"
    _orders(engine, settings, tmp_path / "first", line)
    before = (_redeemed(engine), by_key(engine, Order, "id"))
    # when the same order comes again, in a file and as an event
    _orders(engine, settings, tmp_path / "again", line)
    event = dict(zip(HEADER.split(","), line.split(","), strict=True))
    apply_event(engine, settings, "order", event)
    # then the coupon and the order are as they were
    assert (_redeemed(engine), by_key(engine, Order, "id")) == before
    assert before[0][ANA][0] == "o1"


def test_an_expired_coupon_is_recorded_as_redeemed_late(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana's coupon whose last valid day was 5 June
    _shop(engine, settings, tmp_path / "shop", ana=date(2026, 6, 5))
    # when she orders with it on 10 June (the shop's checkout honoured it)
    _orders(engine, settings, tmp_path / "orders", f"o1,ana,2026-06-10T10:00:00Z,40.00,{ANA},4")
    # then it is recorded redeemed, at the order's instant, after its last valid day
    order_id, redeemed_at = _redeemed(engine)[ANA]
    assert order_id == "o1"
    assert redeemed_at.astimezone(settings.shop.tz).date() > date(2026, 6, 5)


def test_a_coupon_redeemed_already_is_never_moved(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana's coupon redeemed by the shop's own record (no order known to Leal)
    _shop(engine, settings, tmp_path / "shop")
    with engine.begin() as connection:
        connection.execute(update(Coupon).where(Coupon.code == ANA).values(redeemed_at=CREATED))
    # when an order with her code is imported
    _orders(engine, settings, tmp_path / "orders", f"o1,ana,2026-06-10T10:00:00Z,40.00,{ANA},4")
    # then the coupon keeps its redemption
    assert _redeemed(engine)[ANA] == (None, CREATED)


@pytest.mark.parametrize("path", ["bulk", "rows"])
def test_both_import_paths_mark_the_same_coupons(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # given blocks of 2 rows and the bulk path (parse helpers, COPY) or the row path
    monkeypatch.setattr(csv_rows, "BATCH", 2)
    bulk = path == "bulk"
    monkeypatch.setattr(importer, "BULK_BYTES", 0 if bulk else 1 << 40)
    monkeypatch.setattr(import_parse, "BACKGROUND_BYTES", 0 if bulk else 1 << 40)
    _shop(engine, settings, tmp_path / "shop")
    # when the orders that redeem the coupons fall in different blocks, the earliest last
    _orders(
        engine, settings, tmp_path / "orders",
        f"o4,ana,2026-06-13T10:00:00Z,40.00,{ANA},4.00",
        "o5,bo,2026-06-13T10:00:00Z,40.00,,",
        f"o6,ana,2026-06-12T10:00:00Z,40.00,{BO},4.00",
        f"o7,bo,2026-06-14T10:00:00Z,40.00,{BO},4.00",
        f"o1,ana,2026-06-10T10:00:00Z,40.00,{ANA},4.00",
    )  # fmt: skip
    # then each coupon is redeemed by its customer's earliest order with it
    assert {code: order for code, (order, _) in _redeemed(engine).items()} == {
        ANA: "o1",
        BO: "o7",
    }


REWARDS = "order_id,customer_id,ordered_at,total,coupon_code,points_redeemed"


def _reward(engine: Engine, code: str, customer_id: str, points_cost: int = 100) -> None:
    """A reward coupon (reward_available): it costs points when an order redeems it."""
    row = {"code": code, "campaign": "rewards", "customer_id": customer_id,
           "occasion": "reward:2026-06-05", "percent_off": 10, "free_shipping": False,
           "created_at": CREATED, "expires_on": date(2026, 7, 5),
           "points_cost": points_cost}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Coupon), row)


def _spent(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """The reward entries by source: (customer, points, on_date, at)."""
    return {
        row["source"]: (row["customer_id"], row["points"], row["on_date"], row["at"])
        for row in table(engine, LedgerEntry)
        if row["kind"] == "reward"
    }


def test_a_reward_coupon_redeemed_books_its_points_capped_at_the_balance(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana with 600 points, Bo with 30 and Cy with none, each with a 100-point reward
    _shop(engine, settings, tmp_path / "shop")
    folder = tmp_path / "earned"
    folder.mkdir()
    write(folder, "orders", "e1,ana,2026-06-01T10:00:00Z,600.00", "e2,bo,2026-06-01T10:00:00Z,30")
    run(engine, folder, settings)
    for code, customer in (("REWARD-ANA", "ana"), ("REWARD-BO", "bo"), ("REWARD-CY", "cy")):
        _reward(engine, code, customer)
    # when each redeems it with an order that earns 50 points of its own
    lines = (
        "o1,ana,2026-06-10T10:00:00Z,50.00,reward-ana,",
        "o2,bo,2026-06-10T11:00:00Z,50.00,REWARD-BO,",
        "o3,cy,2026-06-10T12:00:00Z,50.00,REWARD-CY,",
    )
    folder = tmp_path / "rewards"
    folder.mkdir()
    write(folder, "orders", *lines, header=REWARDS)
    assert run(engine, folder, settings).problems == []
    # then the coupons are redeemed, and each books at most what the customer had then
    # (the order's own points do not count), never a negative balance, nothing from none
    assert {code: order for code, (order, _) in _redeemed(engine).items()} == {
        ANA: None, BO: None, "REWARD-ANA": "o1", "REWARD-BO": "o2", "REWARD-CY": "o3",
    }  # fmt: skip
    assert _spent(engine) == {
        "reward:o1": ("ana", -100, date(2026, 6, 10), datetime(2026, 6, 10, 10, tzinfo=UTC)),
        "reward:o2": ("bo", -30, date(2026, 6, 10), datetime(2026, 6, 10, 11, tzinfo=UTC)),
    }
    balances = by_key(engine, CustomerStats, "customer_id")
    assert [balances[c]["points_balance"] for c in ("ana", "bo", "cy")] == [550, 50, 50]
    # when the same orders come again
    again = tmp_path / "again"
    again.mkdir()
    write(again, "orders", *lines, header=REWARDS)
    run(engine, again, settings)
    # then nothing more is booked
    assert len(_spent(engine)) == 2


def test_a_reward_after_points_redeemed_by_the_same_order_takes_what_is_left(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana with 600 points and a 100-point reward coupon
    _ana_with_600_points_and_a_reward(engine, settings, tmp_path)
    # when one order redeems 550 points and the reward
    folder = tmp_path / "both"
    folder.mkdir()
    write(folder, "orders", "o1,ana,2026-06-10T10:00:00Z,0.00,REWARD-ANA,550", header=REWARDS)
    assert run(engine, folder, settings).problems == []
    # then the reward takes the 50 left
    assert [points for _, points, _, _ in _spent(engine).values()] == [-50]
    assert by_key(engine, CustomerStats, "customer_id")["ana"]["points_balance"] == 0


def test_a_reward_coupons_points_come_back_when_its_order_is_cancelled(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana with 600 points and Bo with 30, whose 100-point rewards took 100 and 30,
    # Ana's order also redeeming 50 points
    _shop(engine, settings, tmp_path / "shop")
    folder = tmp_path / "earned"
    folder.mkdir()
    write(folder, "orders", "e1,ana,2026-06-01T10:00:00Z,600.00", "e2,bo,2026-06-01T10:00:00Z,30")
    run(engine, folder, settings)
    _reward(engine, "REWARD-ANA", "ana")
    _reward(engine, "REWARD-BO", "bo")
    lines = (
        "o1,ana,2026-06-10T10:00:00Z,0.00,REWARD-ANA,50",
        "o2,bo,2026-06-10T11:00:00Z,0.00,REWARD-BO,",
    )
    folder = tmp_path / "rewards"
    folder.mkdir()
    write(folder, "orders", *lines, header=REWARDS)
    assert run(engine, folder, settings).problems == []
    assert [stats["points_balance"] for stats in _stats(engine, "ana", "bo")] == [450, 0]
    # when both orders are cancelled, learned on 14 June, and the file comes again
    learned = datetime(2026, 6, 14, 8, tzinfo=UTC)
    for name in ("cancel", "again"):
        folder = tmp_path / name
        folder.mkdir()
        write(folder, "orders", *(f"{line},cancelled" for line in lines),
              header=f"{REWARDS},status")  # fmt: skip
        assert run(engine, folder, settings, at=learned).problems == []
    # then what each reward took comes back once, as booked (Bo's capped 30), beside the
    # points Ana's order redeemed: lots of the day it was learned
    refunds = {
        row["source"]: (row["customer_id"], row["points"], row["on_date"], row["expires_on"])
        for row in table(engine, LedgerEntry)
        if row["kind"] == "refund"
    }
    assert refunds == {
        "refund:reward:o1": ("ana", 100, date(2026, 6, 14), date(2027, 6, 14)),
        "refund:redeem:o1": ("ana", 50, date(2026, 6, 14), date(2027, 6, 14)),
        "refund:reward:o2": ("bo", 30, date(2026, 6, 14), date(2027, 6, 14)),
    }
    assert [stats["points_balance"] for stats in _stats(engine, "ana", "bo")] == [600, 30]
    # and the coupons stay redeemed by their orders (the shop's checkout used them)
    assert {code: order for code, (order, _) in _redeemed(engine).items()} == {
        ANA: None, BO: None, "REWARD-ANA": "o1", "REWARD-BO": "o2",
    }  # fmt: skip


def test_an_order_arriving_cancelled_redeems_its_reward_coupon_for_no_points(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # given Ana with 600 points and a 100-point reward coupon
    _ana_with_600_points_and_a_reward(engine, settings, tmp_path)
    # when an order with it arrives already refunded
    folder = tmp_path / "refunded"
    folder.mkdir()
    write(folder, "orders", "o1,ana,2026-06-10T10:00:00Z,0.00,REWARD-ANA,,refunded",
          header=f"{REWARDS},status")  # fmt: skip
    assert run(engine, folder, settings).problems == []
    # then the coupon is marked used by it, and nothing is taken nor given back
    assert _redeemed(engine)["REWARD-ANA"][0] == "o1"
    assert _spent(engine) == {}
    assert [row["kind"] for row in table(engine, LedgerEntry)] == ["earn", "earn"]
    assert _stats(engine, "ana")[0]["points_balance"] == 600


def _stats(engine: Engine, *customers: str) -> list[dict[str, Any]]:
    found = by_key(engine, CustomerStats, "customer_id")
    return [found[customer] for customer in customers]


def _ana_with_600_points_and_a_reward(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    """The shop, 600 points earned by Ana on 1 June, and her 100-point reward coupon."""
    _shop(engine, settings, tmp_path / "shop")
    folder = tmp_path / "earned"
    folder.mkdir()
    write(folder, "orders", "e1,ana,2026-06-01T10:00:00Z,600.00")
    run(engine, folder, settings)
    _reward(engine, "REWARD-ANA", "ana")
