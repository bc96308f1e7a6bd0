"""The demo's story: past runs with holdouts, answers with a known effect, and a report
that finds exactly the conversions the story caused; survey answers with a café's scores;
and `leal demo` planning every example campaign."""

import random
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from sqlalchemy import Engine, func, select

from campaigns.cli import main
from campaigns.config import Campaign, Survey
from campaigns.daily import daily_run, run_instant
from campaigns.demo import EXAMPLE_SETTINGS, run_demo
from campaigns.demo_story import STORY_DAYS, run_past_days, simulate_answers
from campaigns.demo_surveys import _scores, answer_surveys
from campaigns.loader import Config, load_config
from reports.attribution import CampaignOutcomes, campaign_outcomes
from reports.build import build_report
from shop.db import make_engine, migrate
from shop.demo import write_demo_shop
from shop.importer import import_dir
from shop.models import Coupon, Order, OutboxMessage, Run, SurveyClick, SurveyResponse


def _outcomes(
    engine: Engine, config: Config, first: date, last: date
) -> dict[str, CampaignOutcomes]:
    campaigns = config.settings.campaigns
    with engine.connect() as connection:
        return {
            name: campaign_outcomes(connection, name, first, last, c.attribution_days)
            for name, c in campaigns.items()
        }


def _shop(
    folder: Path, campaigns: dict[str, Campaign] | None = None
) -> tuple[Engine, Config, datetime]:
    """The demo shop of 1,500 customers on 2026-06-15, imported, with the example's
    campaigns (or `campaigns` instead)."""
    example = load_config(EXAMPLE_SETTINGS)
    data = example.settings.model_dump() | {"database": {"url": f"sqlite:///{folder / 'leal.db'}"}}
    if campaigns is not None:
        data["campaigns"] = {name: c.model_dump() for name, c in campaigns.items()}
    config = Config(type(example.settings)(**data), EXAMPLE_SETTINGS)
    at = run_instant(config, day="2026-06-15")
    tz = config.settings.shop.tz
    (folder / "data").mkdir()
    write_demo_shop(folder / "data", at=at, tz=tz, customers=1500, seed=7)
    engine = make_engine(config.settings.database.url)
    migrate(engine)
    import_dir(engine, folder / "data", config.settings, on=at.astimezone(tz).date())
    return engine, config, at


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Config, datetime]:
    return _shop(tmp_path_factory.mktemp("story"))


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


# Survey answers: the story's past survey moments, answered as a good café's customers do.

SURVEYED = {
    "survey": Campaign(trigger="post_purchase_survey", channels=["email"], template="birthday",
                       survey=Survey(kind="nps"), holdout_percent=10),
    "review": Campaign(trigger="review_request", channels=["email"], template="birthday"),
}  # fmt: skip


@pytest.fixture(scope="module")
def surveyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Config, datetime, int]:
    engine, config, at = _shop(tmp_path_factory.mktemp("surveys"), SURVEYED)
    run_past_days(engine, config, at)
    return engine, config, at, answer_surveys(engine, config, at, seed=5)


def test_about_a_quarter_of_the_surveys_sent_are_answered_by_then(
    surveyed: tuple[Engine, Config, datetime, int],
) -> None:
    engine, _, at, answered = surveyed
    with engine.connect() as connection:
        sent = connection.scalar(
            select(func.count(func.distinct(OutboxMessage.occasion))).where(
                OutboxMessage.campaign == "survey", OutboxMessage.status == "sent"
            )
        )
        answers = connection.execute(select(SurveyResponse.answered_at, SurveyResponse.kind)).all()
    assert len(answers) == answered and sent
    assert 0.15 < answered / sent < 0.35
    assert all(answered_at < at for answered_at, _ in answers)
    assert {kind for _, kind in answers} == {"nps"}


def test_the_report_finds_a_good_cafes_nps_and_the_scanners(
    surveyed: tuple[Engine, Config, datetime, int],
) -> None:
    engine, config, at, _ = surveyed
    today = at.astimezone(config.settings.shop.tz).date()
    with engine.connect() as connection:
        report = build_report(connection, config, today - timedelta(days=STORY_DAYS), today)
        clicks = connection.execute(select(SurveyClick.link, SurveyClick.suspect)).all()
    surveys = report["kpis"]["surveys"]
    nps = surveys["nps"]
    # about 55 % promoters and 15 % detractors: NPS near +40, inside its interval
    assert 20 < nps["score"] < 60 and nps["ci95"][0] < nps["score"] < nps["ci95"][1]
    assert 0.4 < nps["promoters"] / nps["responses"] < 0.7
    assert surveys["detractors"] and len(surveys["detractors"]) == nps["detractors"]
    # the honeypot is only ever opened by a scanner, and every scanner click is flagged
    assert all(suspect for link, suspect in clicks if link == "honeypot")
    assert 0 < surveys["suspect_clicks"] < surveys["clicks"]


def test_a_promoter_answered_since_yesterdays_run_gets_a_review_request(
    surveyed: tuple[Engine, Config, datetime, int],
) -> None:
    engine, config, at, _ = surveyed
    # when today's run plans
    result = daily_run(engine, config, at)
    # then the review request campaign has a moment: a promoter of yesterday's survey
    moments = Counter(m.campaign for m in result.plan.messages)
    assert moments["review"] >= 1 and moments["survey"] >= 1


@pytest.mark.parametrize(
    ("kind", "happy", "low", "high"),
    [("nps", {9, 10}, 0.52, 0.58), ("csat", {4, 5}, 0.79, 0.85), ("ces", {5, 6, 7}, 0.77, 0.83)],
)
def test_scores_follow_a_liked_cafes_distribution(
    kind: str, happy: set[int], low: float, high: float
) -> None:
    rng = random.Random(1)
    scores = [_scores(rng, kind)[0] for _ in range(20_000)]
    share = sum(score in happy for score in scores) / len(scores)
    assert low < share < high, share
    if kind == "nps":
        detractors = sum(score <= 6 for score in scores) / len(scores)
        assert 0.13 < detractors < 0.17


def test_the_loyalty_index_answers_three_related_questions() -> None:
    rng = random.Random(2)
    for _ in range(1_000):
        score, scores = _scores(rng, "cli")
        assert set(scores) == {"recommend", "buy_again", "try_other"}
        assert scores["recommend"] == score and abs(scores["buy_again"] - score) <= 1
        assert all(0 <= value <= 10 for value in scores.values())


def test_every_example_campaign_plans_a_moment_in_the_demo(tmp_path: Path) -> None:
    # given the example settings
    config = load_config(EXAMPLE_SETTINGS)
    # when the demo runs on a small shop
    run_demo(config, tmp_path / "demo", customers=400, seed=42, console=Console(quiet=True))
    # then today's run found moments for every campaign (sent, held out or skipped)
    engine = make_engine(f"sqlite:///{tmp_path / 'demo' / 'leal.db'}")
    with engine.connect() as connection:
        today = connection.scalar(select(func.max(Run.id)))
        found = set(
            connection.scalars(
                select(OutboxMessage.campaign).where(OutboxMessage.run_id == today).distinct()
            )
        )
        summary = connection.scalar(select(Run.summary).where(Run.id == today)) or {}
    engine.dispose()
    planned = found | {name for name, counts in summary.items() if any(counts.values())}
    assert planned >= set(config.settings.campaigns), set(config.settings.campaigns) - planned
