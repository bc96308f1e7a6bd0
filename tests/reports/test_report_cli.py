"""`leal report`: the documented JSON object, HTML to a file, and clear errors."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import Engine

from campaigns.cli import main
from campaigns.config import MeasurementSettings
from campaigns.holdout import HoldoutDraw
from tests.factories import ShopFactory, local

AT = local("2026-06-15 09:00")
SETTINGS = """\
[shop]
timezone = "Europe/Madrid"

[campaigns.birthday]
trigger = "birthday"
channels = ["email"]
template = "birthday"
holdout_percent = 50
"""
IDS = [f"c{n:03d}" for n in range(60)]


def _leal(tmp_path: Path, db_url: str, *args: str) -> Result:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    env = {"LEAL_DATABASE__URL": db_url, "LEAL_SECRET_KEY": "k" * 32}
    return CliRunner().invoke(main, ["--settings", str(path), *args], env=env)


def _shop_with_a_run(tmp_path: Path, db_url: str, shop: ShopFactory) -> tuple[list[str], list[str]]:
    """60 birthdays on 2026-06-15, half held out; a third of each group orders in the week."""
    for customer in IDS:
        shop.customer(customer, birth_date=AT.date().replace(year=1990))
    ran = _leal(tmp_path, db_url, "run", "--date", "2026-06-15", "--no-deliver")
    assert ran.exit_code == 0, ran.output
    held = HoldoutDraw(MeasurementSettings(), {"birthday": Decimal(50)}).held_out("birthday", IDS)
    treated = [c for c in IDS if c not in held]
    holdout = [c for c in IDS if c in held]
    for customer in treated[::3] + holdout[::3]:
        shop.order(customer, AT + timedelta(days=2), 2_000)
    return treated, holdout


def test_json_carries_the_documented_fields(
    tmp_path: Path, db_url: str, engine: Engine, shop: ShopFactory
) -> None:
    treated, holdout = _shop_with_a_run(tmp_path, db_url, shop)
    result = _leal(tmp_path, db_url, "report", "--from", "2026-06-01", "--to", "2026-06-30",
                   "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [campaign] = report["campaigns"]
    assert campaign["name"] == "birthday"
    assert (campaign["treated"]["n"], campaign["holdout"]["n"]) == (len(treated), len(holdout))
    conversions = (len(treated[::3]), len(holdout[::3]))
    assert (campaign["treated"]["conversions"], campaign["holdout"]["conversions"]) == conversions
    expected = conversions[0] / len(treated) - conversions[1] / len(holdout)
    uplift = campaign["conversion_uplift"]
    assert abs(uplift["estimate"] - expected) < 1e-9
    low, high = uplift["ci95"]
    assert -1 <= low < uplift["estimate"] < high <= 1
    assert report["period"] == {"from": "2026-06-01", "to": "2026-06-30"}
    assert report["kpis"]["orders"]["count"] == sum(conversions)


def test_html_goes_to_a_file_and_opens_offline(
    tmp_path: Path, db_url: str, engine: Engine, shop: ShopFactory
) -> None:
    _shop_with_a_run(tmp_path, db_url, shop)
    out = tmp_path / "out" / "report.html"
    result = _leal(tmp_path, db_url, "report", "--to", "2026-06-30", "--format", "html",
                   "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html and "birthday" in html and "http://" not in html.split("<svg")[0]


def test_bad_requests_are_usage_errors(tmp_path: Path, db_url: str, engine: Engine) -> None:
    unknown = _leal(tmp_path, db_url, "report", "--campaign", "nope")
    backwards = _leal(tmp_path, db_url, "report", "--from", "2026-06-30", "--to", "2026-06-01")
    not_a_date = _leal(tmp_path, db_url, "report", "--to", "30/06/2026")
    assert unknown.exit_code == 2 and "no campaign named nope" in unknown.output
    assert backwards.exit_code == 2 and "after" in backwards.output
    assert not_a_date.exit_code == 2 and "not a date" in not_a_date.output
