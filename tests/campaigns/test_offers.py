"""Coupons: unique per moment, idempotent, valid for the offer's days."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, func, select

from campaigns.config import Offer
from campaigns.offers import ALPHABET, issue_coupons
from shop.models import Coupon
from tests.factories import ShopFactory

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
