from datetime import UTC, date, datetime

from sqlalchemy import Engine

from tests.factories import ShopFactory, local
from tests.triggers.helpers import matches


def test_matches_the_birthday_on_the_shop_local_date(engine: Engine, shop: ShopFactory) -> None:
    # given customers born on 15, 14 and 16 June, and one without a birth date
    shop.customer("born-15", birth_date=date(1990, 6, 15))
    shop.customer("born-14", birth_date=date(1985, 6, 14))
    shop.customer("born-16", birth_date=date(2001, 6, 16))
    shop.customer("unknown")
    # when the run instant is 23:30 UTC on the 14th, already the 15th in Madrid
    run = shop.run(datetime(2026, 6, 14, 23, 30, tzinfo=UTC))
    found = matches(engine, "birthday", run)
    # then only the 15 June birthday matches, once for that year
    assert set(found) == {"born-15"}
    assert found["born-15"]["occasion"] == "birthday:2026"
    assert found["born-15"]["birthday_on"] == "2026-06-15"


def test_days_before_looks_ahead(engine: Engine, shop: ShopFactory) -> None:
    # given a customer born on 3 January
    shop.customer("jan-3", birth_date=date(1970, 1, 3))
    # when a campaign 7 days ahead runs on 27 December
    found = matches(engine, "birthday", shop.run(local("2026-12-27 09:00")), days_before=7)
    # then the birthday matches, keyed by the year of the birthday, not of the run
    assert found["jan-3"]["occasion"] == "birthday:2027"


def test_29_february_is_celebrated_on_28_february_in_common_years(
    engine: Engine, shop: ShopFactory
) -> None:
    # given a leap-day baby and a 28 February one
    shop.customer("leap", birth_date=date(2000, 2, 29))
    shop.customer("feb-28", birth_date=date(1999, 2, 28))
    # when runs happen on 28 Feb 2027 (common year), 28 Feb and 29 Feb 2028 (leap year)
    common_28 = matches(engine, "birthday", shop.run(local("2027-02-28 09:00")))
    leap_28 = matches(engine, "birthday", shop.run(local("2028-02-28 09:00")))
    leap_29 = matches(engine, "birthday", shop.run(local("2028-02-29 09:00")))
    # then the leap-day baby is matched once a year, on the 28th only in common years
    assert set(common_28) == {"leap", "feb-28"}
    assert set(leap_28) == {"feb-28"}
    assert set(leap_29) == {"leap"}
    assert matches(engine, "birthday", shop.run(local("2027-03-01 09:00"))) == {}
