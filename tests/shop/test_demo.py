"""The demo shop's CSV files: deterministic, valid, and holding every campaign's moment."""

from __future__ import annotations

import csv
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from click.testing import CliRunner, Result
from email_validator import validate_email
from rich.console import Console

from campaigns.cli import main
from campaigns.config import LoyaltySettings
from campaigns.demo import EXAMPLE_SETTINGS, run_demo
from campaigns.loader import load_config
from shop.demo import HEADERS, DemoCounts, write_demo_shop
from shop.demo_history import WELCOME_DAYS
from shop.loyalty import points_for
from triggers.base import RunContext

MADRID = ZoneInfo("Europe/Madrid")
AT = datetime(2026, 6, 15, 9, 0, tzinfo=MADRID)
CUSTOMERS = 300
TIERS = LoyaltySettings().tiers  # name -> threshold

Rows = dict[str, list[dict[str, str]]]


def write(directory: Path, at: datetime = AT, seed: int = 7, with_items: bool = True) -> DemoCounts:
    directory.mkdir(parents=True, exist_ok=True)
    return write_demo_shop(
        directory, at=at, tz=MADRID, customers=CUSTOMERS, seed=seed, with_items=with_items
    )


def read(directory: Path) -> Rows:
    return {
        path.stem: list(csv.DictReader(path.open(encoding="utf-8", newline="")))
        for path in sorted(directory.glob("*.csv"))
    }


def instant(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.tzinfo is not None, text
    return parsed


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoCounts, Rows]:
    directory = tmp_path_factory.mktemp("demo")
    counts = write(directory)
    return directory, counts, read(directory)


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(
    shop: tuple[Path, DemoCounts, Rows], tmp_path: Path
) -> None:
    directory, _, _ = shop
    write(tmp_path / "again")
    write(tmp_path / "other", seed=8)
    for path in directory.glob("*.csv"):
        assert (tmp_path / "again" / path.name).read_bytes() == path.read_bytes(), path.name
    for name in ("customers.csv", "orders.csv", "cart_events.csv"):
        assert (tmp_path / "other" / name).read_bytes() != (directory / name).read_bytes()


def test_files_have_exactly_the_documented_columns(shop: tuple[Path, DemoCounts, Rows]) -> None:
    directory, _, _ = shop
    assert sorted(path.stem for path in directory.glob("*.csv")) == sorted(HEADERS)
    for name, header in HEADERS.items():
        with (directory / f"{name}.csv").open(encoding="utf-8", newline="") as file:
            assert tuple(next(csv.reader(file))) == header
    assert HEADERS["customers"] == (
        "customer_id", "email", "phone", "first_name", "last_name", "birth_date", "locale",
        "timezone", "email_opt_in", "sms_opt_in", "created_at",
    )  # fmt: skip
    assert HEADERS["cart_events"] == ("cart_id", "customer_id", "sku", "quantity", "at")
    assert HEADERS["orders"] == (
        "order_id", "customer_id", "ordered_at", "total", "points_redeemed", "status",
        "delivered_at",
    )  # fmt: skip
    assert HEADERS["interactions"] == ("id", "customer_id", "action", "at")


def test_counts_are_the_rows_written(shop: tuple[Path, DemoCounts, Rows]) -> None:
    _, counts, rows = shop
    assert counts == DemoCounts(
        customers=CUSTOMERS,
        products=len(rows["products"]),
        orders=len(rows["orders"]),
        order_items=len(rows["order_items"]),
        cart_events=len(rows["cart_events"]),
        interactions=len(rows["interactions"]),
    )
    assert 100 <= counts.products <= 150
    assert counts.orders > CUSTOMERS * 6


def test_every_email_and_phone_is_valid_and_unique(shop: tuple[Path, DemoCounts, Rows]) -> None:
    customers = shop[2]["customers"]
    emails = [c["email"] for c in customers]
    phones = [c["phone"] for c in customers if c["phone"]]
    assert len(set(emails)) == len(emails) and len(set(phones)) == len(phones)
    for email in emails:
        validate_email(email, check_deliverability=False)
        assert email.rsplit("@", 1)[1] in {"example.com", "example.org", "example.net"}
    for phone in phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        assert phone == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert 0.05 < 1 - len(phones) / len(customers) < 0.3


def test_customers_speak_five_languages_with_real_names(
    shop: tuple[Path, DemoCounts, Rows],
) -> None:
    customers = shop[2]["customers"]
    assert {c["locale"] for c in customers} == {"ca", "es", "it", "ro", "en"}
    assert any(not c["last_name"].isascii() for c in customers)  # accents are kept
    assert {c["timezone"] for c in customers} <= {
        "", "Europe/Madrid", "Europe/Rome", "Europe/Bucharest", "Europe/London",
    }  # fmt: skip
    assert {c["email_opt_in"] for c in customers} == {"true", "false"}
    assert all(c["sms_opt_in"] == "false" for c in customers if not c["phone"])


def test_products_are_a_cafe_catalogue(shop: tuple[Path, DemoCounts, Rows]) -> None:
    products = shop[2]["products"]
    assert len({p["sku"] for p in products}) == len(products)
    assert len({p["category"] for p in products}) >= 5
    for product in products:
        assert re.fullmatch(r"\d+\.\d\d", product["price"])
        assert Decimal("0.5") < Decimal(product["price"]) < Decimal(200)
        assert product["url"].startswith("https://shop.example/")
        assert product["image_url"].startswith("https://shop.example/")
    assert {p["in_stock"] for p in products} == {"true", "false"}


def test_nothing_happens_after_the_run_instant(shop: tuple[Path, DemoCounts, Rows]) -> None:
    rows = shop[2]
    assert all(instant(c["created_at"]) <= AT for c in rows["customers"])
    assert all(c["birth_date"] < "2026-06-16" for c in rows["customers"])
    assert all(instant(o["ordered_at"]) <= AT for o in rows["orders"])
    assert all(instant(e["at"]) <= AT for e in rows["cart_events"])
    assert all(instant(i["at"]) <= AT for i in rows["interactions"])
    assert all(instant(o["delivered_at"]) <= AT for o in rows["orders"] if o["delivered_at"])
    first = min(instant(o["ordered_at"]) for o in rows["orders"])
    assert AT - timedelta(days=740) < first < AT - timedelta(days=600)  # about two years


def test_order_totals_are_the_sum_of_their_items(shop: tuple[Path, DemoCounts, Rows]) -> None:
    rows = shop[2]
    orders = {o["order_id"]: Decimal(o["total"]) for o in rows["orders"]}
    assert len(orders) == len(rows["orders"])
    lines: dict[str, Decimal] = defaultdict(Decimal)
    keys = set()
    for item in rows["order_items"]:
        lines[item["order_id"]] += int(item["quantity"]) * Decimal(item["unit_price"])
        keys.add((item["order_id"], item["sku"]))
    assert lines == orders
    assert len(keys) == len(rows["order_items"])  # a SKU appears once per order


def test_without_items_the_orders_are_the_same(
    shop: tuple[Path, DemoCounts, Rows], tmp_path: Path
) -> None:
    counts = write(tmp_path, with_items=False)
    assert not (tmp_path / "order_items.csv").exists() and counts.order_items == 0
    assert (tmp_path / "orders.csv").read_bytes() == (shop[0] / "orders.csv").read_bytes()


def test_cart_events_are_unique_per_line_and_instant(shop: tuple[Path, DemoCounts, Rows]) -> None:
    events = shop[2]["cart_events"]
    keys = {(e["cart_id"], e["sku"], instant(e["at"])) for e in events}
    assert len(keys) == len(events)
    assert all(AT - instant(e["at"]) < timedelta(days=32) for e in events)


# The loyalty program in the files: redemptions the balance covers, a few cancellations,
# deliveries, interactions.

LOYALTY = LoyaltySettings()


def by_customer(rows: Rows) -> dict[str, list[dict[str, str]]]:
    orders: dict[str, list[dict[str, str]]] = defaultdict(list)
    for order in rows["orders"]:
        orders[order["customer_id"]].append(order)
    for placed in orders.values():
        placed.sort(key=lambda o: instant(o["ordered_at"]))
    return orders


def cents(order: dict[str, str]) -> int:
    return int(order["total"].replace(".", ""))


def fifo(placed: list[dict[str, str]], until: datetime) -> tuple[int, list[list[int]]]:
    """A customer's balance and live lots [points left, expiry day as an ordinal] at
    `until`, orders only (interactions only add): each redemption must be covered, oldest
    lots first."""
    lots: list[list[int]] = []
    for order in placed:
        at = instant(order["ordered_at"])
        if at > until:
            break
        day = at.astimezone(MADRID).date().toordinal()
        lots = [lot for lot in lots if lot[1] > day]
        spend = int(order["points_redeemed"] or 0)
        assert spend <= sum(points for points, _ in lots), order
        for lot in lots:
            used = min(spend, lot[0])
            lot[0], spend = lot[0] - used, spend - used
        lots.append([points_for(cents(order), LOYALTY), day + LOYALTY.points_expire_days])
    today = until.astimezone(MADRID).date().toordinal()
    lots = [lot for lot in lots if lot[1] > today and lot[0]]
    return sum(points for points, _ in lots), lots


def test_redemptions_never_exceed_the_balance(shop: tuple[Path, DemoCounts, Rows]) -> None:
    rows = shop[2]
    orders = by_customer(rows)
    redeemed = [o for o in rows["orders"] if o["points_redeemed"]]
    # a café's customers spend some of their points: a redemption in 5 to 30 % of orders
    assert 0.05 < len(redeemed) / len(rows["orders"]) < 0.3
    assert {int(o["points_redeemed"]) % LOYALTY.reward_points for o in redeemed} == {0}
    for placed in orders.values():
        fifo(placed, AT)  # asserts every redemption is covered when it is made


def test_a_few_recent_orders_are_cancelled_or_refunded(
    shop: tuple[Path, DemoCounts, Rows],
) -> None:
    rows = shop[2]
    orders = by_customer(rows)
    undone = [o for o in rows["orders"] if o["status"]]
    assert undone and len(undone) < 0.02 * len(rows["orders"])
    assert {o["status"] for o in undone} <= {"cancelled", "refunded"}
    for order in undone:
        assert AT - instant(order["ordered_at"]) <= timedelta(days=60)
        balance, _ = fifo(orders[order["customer_id"]], AT)
        taken = sum(points_for(cents(o), LOYALTY) for o in orders[order["customer_id"]]
                    if o["status"])  # fmt: skip
        assert balance >= taken  # taking the points back leaves no negative balance
        assert order["status"] == "refunded" or not order["delivered_at"]


def test_shipped_orders_are_delivered_after_they_are_placed(
    shop: tuple[Path, DemoCounts, Rows],
) -> None:
    rows = shop[2]
    delivered = [o for o in rows["orders"] if o["delivered_at"]]
    assert 0.4 < len(delivered) / len(rows["orders"]) < 0.7  # the rest bought in the café
    for order in delivered:
        waited = instant(order["delivered_at"]) - instant(order["ordered_at"])
        assert timedelta(days=1) <= waited <= timedelta(days=4)


def test_interactions_are_reviews_and_referrals_of_customers(
    shop: tuple[Path, DemoCounts, Rows], tmp_path: Path
) -> None:
    rows = shop[2]
    interactions = rows["interactions"]
    customers = {c["customer_id"] for c in rows["customers"]}
    assert len({i["id"] for i in interactions}) == len(interactions)
    assert {i["action"] for i in interactions} == {"review", "referral"}
    assert all(i["customer_id"] in customers for i in interactions)
    # a program without actions gets none (they would be problem lines of the import)
    directory = tmp_path / "none"
    directory.mkdir()
    write_demo_shop(directory, at=AT, tz=MADRID, customers=50, seed=7, actions=())
    assert len(read(directory)["interactions"]) == 0


# The moments, checked with the triggers' rules on the files (default params).


def moments(rows: Rows, at: datetime) -> dict[str, set[str]]:
    run = RunContext(at=at, tz=MADRID)
    run_date = run.run_date
    orders = defaultdict(list)
    for order in rows["orders"]:
        cents = int(order["total"].replace(".", ""))
        orders[order["customer_id"]].append((instant(order["ordered_at"]), cents))
    found: dict[str, set[str]] = defaultdict(set)
    for customer in rows["customers"]:
        if customer["birth_date"][5:] == run_date.isoformat()[5:]:
            found["birthday"].add(customer["customer_id"])
    for customer_id, placed in orders.items():
        last = max(t.astimezone(MADRID).date() for t, _ in placed)
        if 90 <= (run_date - last).days <= 120:
            found["win_back"].add(customer_id)
        now = tier(placed, run_date - timedelta(days=365), at)
        before = tier(placed, run_date - timedelta(days=366), run.previous_run_at)
        if TIERS[now] > TIERS[before]:
            found[f"tier_up:{now}"].add(customer_id)
    for kind, carts in cart_ends(rows, orders, at).items():
        found[kind] |= carts
    loyalty_moments(rows, run, found)
    return found


def reference(order: dict[str, str], at: datetime) -> datetime:
    """post_purchase_survey's reference instant: the delivery when known by `at`, else
    the order."""
    delivered = order["delivered_at"]
    if delivered and instant(delivered) <= at:
        return instant(delivered)
    return instant(order["ordered_at"])


def loyalty_moments(rows: Rows, run: RunContext, found: dict[str, set[str]]) -> None:
    """milestone, reward_available, at_risk, welcome and points_expiring at the run, by
    their rules (docs/triggers.md) read on the files."""
    at, before, run_date = run.at, run.previous_run_at, run.run_date
    for customer_id, placed in by_customer(rows).items():
        kept = [o for o in placed if not o["status"]]
        lifetime = [sum(points_for(cents(o), LOYALTY) for o in kept
                        if instant(o["ordered_at"]) <= t) for t in (before, at)]  # fmt: skip
        if lifetime[0] < 1000 <= lifetime[1]:
            found["milestone"].add(customer_id)
        balances = [fifo(placed, t)[0] for t in (before, at)]
        if balances[0] < LOYALTY.reward_points <= balances[1]:
            found["reward"].add(customer_id)
        _, lots = fifo(placed, at)
        for ahead in (30, 7):
            if any(lot[1] == run_date.toordinal() + ahead for lot in lots):
                found[f"expiring:{ahead}"].add(customer_id)
        if any(
            before - timedelta(days=3) < reference(o, at) <= at - timedelta(days=3)
            for o in placed
            if not o["status"]
        ):
            found["survey"].add(customer_id)
        days = sorted(instant(o["ordered_at"]).astimezone(MADRID).date() for o in placed)
        if len(days) >= 3:
            gap = (days[-1] - days[0]).days / (len(days) - 1)
            threshold = min(365, max(14, math.ceil(2 * gap - 1e-9)))
            if days[-1] + timedelta(days=threshold) == run_date:
                found["at_risk"].add(customer_id)
    for customer in rows["customers"]:
        joined = instant(customer["created_at"])
        for back in range(WELCOME_DAYS):
            if before - timedelta(days=back) < joined <= at - timedelta(days=back):
                found[f"welcome:{back}"].add(customer["customer_id"])


def tier(placed: list[tuple[datetime, int]], after: date, by: datetime) -> str:
    """The tier from points earned by `by` on shop-local dates after `after`."""
    loyalty = LoyaltySettings()
    points = sum(
        points_for(cents, loyalty)
        for t, cents in placed
        if t <= by and t.astimezone(MADRID).date() > after
    )
    return loyalty.tier_for(points)


def cart_ends(
    rows: Rows, orders: dict[str, list[tuple[datetime, int]]], at: datetime
) -> dict[str, set[str]]:
    carts: dict[str, list[dict[str, str]]] = defaultdict(list)
    for event in rows["cart_events"]:
        carts[event["cart_id"]].append(event)
    found: dict[str, set[str]] = defaultdict(set)
    for cart_id, events in carts.items():
        events.sort(key=lambda e: instant(e["at"]))
        last, customer_id = instant(events[-1]["at"]), events[0]["customer_id"]
        items = sum({e["sku"]: int(e["quantity"]) for e in events}.values())
        ordered = any(last < t <= at for t, _ in orders[customer_id])
        if items == 0:
            found["emptied"].add(cart_id)
        elif ordered:
            found["converted"].add(cart_id)
        elif at - timedelta(hours=28) < last <= at - timedelta(hours=4):
            found["abandoned"].add(customer_id)
    return found


KINDS = (
    "birthday", "abandoned", "win_back", "tier_up:silver", "tier_up:gold", "milestone", "reward",
    "at_risk", "expiring:30", "expiring:7", "survey",
    *(f"welcome:{back}" for back in range(WELCOME_DAYS)),
)  # fmt: skip


def test_every_example_campaign_has_a_moment_at_the_run(
    shop: tuple[Path, DemoCounts, Rows],
) -> None:
    found = moments(shop[2], AT)
    for kind in KINDS:
        assert found[kind], kind
    assert found["converted"] and found["emptied"]
    opted_in = {c["customer_id"] for c in shop[2]["customers"] if c["email_opt_in"] == "true"}
    for kind in KINDS:
        assert found[kind] & opted_in, kind  # the campaign can send to someone


@pytest.mark.parametrize(
    "at",
    [
        datetime(2028, 2, 29, 9, 0, tzinfo=MADRID),  # 29 February
        datetime(2026, 3, 29, 9, 0, tzinfo=MADRID),  # the spring DST change
        datetime(2026, 10, 25, 9, 0, tzinfo=MADRID),  # the autumn one
        datetime(2026, 1, 1, 0, 30, tzinfo=ZoneInfo("UTC")),  # a run not at 09:00
    ],
)
def test_moments_hold_on_awkward_run_dates(at: datetime, tmp_path: Path) -> None:
    write(tmp_path, at=at, with_items=False)
    rows = read(tmp_path)
    found = moments(rows, at)
    for kind in KINDS:
        assert found[kind], kind
    assert all(instant(o["ordered_at"]) <= at for o in rows["orders"])
    assert all(instant(e["at"]) <= at for e in rows["cart_events"])


# `leal demo` and the commands a newcomer runs next, end to end.


@pytest.fixture(scope="module")
def demo_here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Result]]:
    """A folder without settings.toml where `leal demo` ran (the example campaigns)."""
    here = tmp_path_factory.mktemp("newcomer")
    before = Path.cwd()
    os.chdir(here)
    try:
        result = CliRunner().invoke(main, ["demo", "--customers", "300"], env=NO_LEAL)
        yield here, result
    finally:
        os.chdir(before)


NO_LEAL: dict[str, str | None] = {"LEAL_SETTINGS": None, "LEAL_DATABASE__URL": None}


def _leal_in(here: Path, *args: str) -> Result:
    before = Path.cwd()
    os.chdir(here)
    try:
        return CliRunner().invoke(main, list(args), env=NO_LEAL)
    finally:
        os.chdir(before)


def test_the_demo_prints_commands_that_work_on_the_demo_shop(
    demo_here: tuple[Path, Result],
) -> None:
    # given `leal demo` ran in a fresh folder
    here, demo = demo_here
    assert demo.exit_code == 0, demo.output
    # when the commands it prints are run as printed
    commands = [
        line.strip().split()[1:]
        for line in demo.output.splitlines()
        if line.strip().startswith("leal --settings var/demo/settings.toml")
    ]
    assert len(commands) >= 3, demo.output
    results = {" ".join(args): _leal_in(here, *args) for args in commands}
    # then each works on the demo shop
    for command, result in results.items():
        assert result.exit_code == 0, (command, result.output)
    dry_run = results["--settings var/demo/settings.toml run --dry-run"].output
    assert "alread" in dry_run  # already_in_outbox: the demo's own run wrote them (the column
    # is narrow in 80 columns beside the example's longest campaign name)
    assert not (here / "var" / "leal.db").exists()


def test_the_demo_settings_are_the_example_with_the_demo_database(
    demo_here: tuple[Path, Result],
) -> None:
    here, _ = demo_here
    config = load_config(here / "var" / "demo" / "settings.toml")
    assert config.settings.database.url == f"sqlite:///{here.resolve() / 'var/demo/leal.db'}"
    assert config.beside(config.settings.delivery.folder) == here / "var/demo/outbox"
    assert sorted(config.settings.campaigns) == sorted(
        load_config(EXAMPLE_SETTINGS).settings.campaigns
    )
    check = _leal_in(here, "--settings", "var/demo/settings.toml", "check")
    assert check.exit_code == 0, check.output


def test_a_reading_command_without_a_database_says_what_to_run_and_creates_nothing(
    demo_here: tuple[Path, Result],
) -> None:
    # given the demo ran, and the default settings point at var/leal.db, which does not exist
    here, _ = demo_here
    # when a newcomer runs the README's next command as it is
    result = _leal_in(here, "run", "--dry-run")
    # then it fails, names the file, the fix and the demo's settings, and writes no empty file
    assert result.exit_code == 1
    assert "database.url: no database file var/leal.db: run `leal db upgrade`" in result.output
    assert "leal --settings var/demo/settings.toml run" in result.output
    assert not (here / "var" / "leal.db").exists()


def test_an_empty_database_is_named_with_the_fix(tmp_path: Path) -> None:
    # given settings pointing at an empty SQLite file (as the old `_engine` left behind)
    database = tmp_path / "empty.db"
    database.touch()
    path = tmp_path / "settings.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{database}"\n', encoding="utf-8")
    # when a command that reads runs
    result = _leal_in(tmp_path, "--settings", str(path), "status")
    # then the line of the URL, the file and `leal db upgrade` are named
    assert result.exit_code == 1
    assert f"{path}:2: database.url: the schema of {database} is not current" in result.output
    assert "leal db upgrade" in result.output


def test_the_demo_never_sends_through_a_real_channel(tmp_path: Path) -> None:
    # given settings that deliver through SMTP and Twilio (nothing listens there)
    settings = tmp_path / "settings.toml"
    example = EXAMPLE_SETTINGS.read_text(encoding="utf-8")
    settings.write_text(
        example + '\n[delivery]\nemail = "smtp"\nsms = "twilio"\n\n[smtp]\nhost = "127.0.0.1"\n'
        "port = 9\n",
        encoding="utf-8",
    )
    # when the demo runs with them
    result = _leal_in(tmp_path, "--settings", str(settings), "demo", "--customers", "300")
    # then every message went to the demo's files, none was tried on the relay
    assert result.exit_code == 0, result.output
    written = list((tmp_path / "var" / "demo" / "outbox").rglob("*.eml"))
    assert written, result.output
    assert "retry" not in result.output and "failed" not in result.output
    demo_config = load_config(tmp_path / "var" / "demo" / "settings.toml")
    assert (demo_config.settings.delivery.email, demo_config.settings.delivery.sms) == (
        "file",
        "file",
    )


def test_a_demo_run_before_todays_daily_at_still_delivers_what_it_planned(
    tmp_path: Path,
) -> None:
    # given a run instant still ahead of the clock (the demo run at 02:00, daily_at 09:00)
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=6)
    config = load_config(EXAMPLE_SETTINGS)
    # when the demo runs
    run_demo(config, tmp_path / "demo", customers=300, seed=42, console=Console(quiet=True),
             at=ahead)  # fmt: skip
    # then what it planned went to its outbox (before, nothing was due yet: no email)
    assert list((tmp_path / "demo" / "outbox").rglob("*.eml"))
