"""The demo's story: past runs with holdouts, answers with a known effect, and a report
that finds exactly the conversions the story caused."""

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from campaigns.cli import main
from campaigns.daily import run_instant
from campaigns.demo import EXAMPLE_SETTINGS
from campaigns.demo_story import STORY_DAYS, run_past_days, simulate_answers
from campaigns.loader import Config, load_config
from reports.attribution import CampaignOutcomes, campaign_outcomes
from shop.db import make_engine, migrate
from shop.demo import write_demo_shop
from shop.importer import import_dir
from shop.models import Coupon, Order, OutboxMessage, Run


def _outcomes(
    engine: Engine, config: Config, first: date, last: date
) -> dict[str, CampaignOutcomes]:
    campaigns = config.settings.campaigns
    with engine.connect() as connection:
        return {
            name: campaign_outcomes(connection, name, first, last, c.attribution_days)
            for name, c in campaigns.items()
        }


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Config, datetime]:
    folder = tmp_path_factory.mktemp("story")
    example = load_config(EXAMPLE_SETTINGS)
    data = example.settings.model_dump() | {"database": {"url": f"sqlite:///{folder / 'leal.db'}"}}
    config = Config(type(example.settings)(**data), EXAMPLE_SETTINGS)
    at = run_instant(config, day="2026-06-15")
    tz = config.settings.shop.tz
    (folder / "data").mkdir()
    write_demo_shop(folder / "data", at=at, tz=tz, customers=1500, seed=7)
    engine = make_engine(config.settings.database.url)
    migrate(engine)
    import_dir(engine, folder / "data", config.settings, on=at.astimezone(tz).date())
    return engine, config, at


def test_the_report_counts_every_conversion_the_story_caused(
    story: tuple[Engine, Config, datetime], tmp_path: Path
) -> None:
    engine, config, at = story
    # given the four weeks before the run, planned and delivered as the daily runs would
    run_past_days(engine, config, at)
    last = at.date() - timedelta(days=1)
    first = last - timedelta(days=STORY_DAYS - 1)
    before = _outcomes(engine, config, first, last)
    # when the customers answer with the story's known effect
    truth = simulate_answers(engine, config, at, tmp_path / "answers", seed=3)
    after = _outcomes(engine, config, first, last)
    # then each campaign's treated moments gained at least the conversions it caused (an
    # order caused by one campaign may also fall in another moment's window), and the
    # held-out moments gained at most what spilled over from the other campaigns
    caused = 0
    for name, found in after.items():
        gained = found.treated.conversions - before[name].treated.conversions
        assert gained >= truth.caused[name], name
        assert found.treated.n == before[name].treated.n == truth.treated[name]
        caused += truth.caused[name]
    spilled = sum(after[n].holdout.conversions - before[n].holdout.conversions for n in after)
    assert caused > 0 and 0 <= spilled <= caused
    with engine.connect() as connection:
        redeemed = connection.scalar(
            select(func.count()).select_from(Coupon).where(Coupon.redeemed_at.is_not(None))
        )
        with_code = connection.scalar(
            select(func.count()).select_from(Order).where(Order.coupon_code.is_not(None))
        )
        days = connection.scalar(select(func.count(func.distinct(Run.run_date))))
        held = connection.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "holdout")
        )
    assert days == STORY_DAYS and (held or 0) > 0
    assert redeemed == with_code and (with_code or 0) > 0  # every code used was its customer's


def test_leal_demo_prints_the_report_and_the_truth_and_writes_the_page(tmp_path: Path) -> None:
    env = {"LEAL_SETTINGS": None, "LEAL_DATABASE__URL": None}
    args = ["--settings", str(EXAMPLE_SETTINGS), "demo", "--customers", "400",
            "--dir", str(tmp_path / "demo")]  # fmt: skip
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "What the story really caused" in result.output
    assert (tmp_path / "demo" / "report.html").read_text(encoding="utf-8").count("<svg") >= 2
