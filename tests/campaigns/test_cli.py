"""The `leal` command line, as an operator uses it."""

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from campaigns.cli import main
from tests.factories import ShopFactory

SETTINGS = """\
[shop]
timezone = "Europe/Madrid"

[schedule]
daily_at = 09:00:00

[campaigns.birthday]
trigger = "birthday"
channels = ["email", "sms"]
template = "birthday"
priority = 10
"""


def _leal(
    tmp_path: Path, *args: str, settings: str = SETTINGS, db_url: str = "",
    secret: str | None = "k" * 32,
) -> Result:  # fmt: skip
    path = tmp_path / "settings.toml"
    path.write_text(settings, encoding="utf-8")
    env: dict[str, str | None] = {"LEAL_DATABASE__URL": db_url} if db_url else {}
    env["LEAL_SECRET_KEY"] = secret  # None: unset
    return CliRunner().invoke(main, ["--settings", str(path), *args], env=env)


def test_check_prints_every_problem_as_file_line_and_exits_1(tmp_path: Path) -> None:
    # given a campaign with a bad channel and a template with a syntax error
    templates = tmp_path / "tpl" / "broken" / "en"
    templates.mkdir(parents=True)
    (templates / "subject.txt").write_text("Hi\n{{ customer.first_name }\n", encoding="utf-8")
    (tmp_path / "tpl" / "birthday").mkdir()
    settings = (
        SETTINGS.replace('["email", "sms"]', '["email", "fax"]')
        + '\n[templates]\ndir = "tpl"\n\n[campaigns.other]\ntrigger = "birthday"\n'
        + 'channels = ["email"]\ntemplate = "broken"\n'
    )
    # when `leal check` runs on the valid-channel version and on the broken one
    broken = _leal(tmp_path, "check", settings=settings.replace('"fax"', '"sms"'))
    invalid = _leal(tmp_path, "check", settings=settings)
    # then the template error names its file and line, the config error its line
    path = tmp_path / "settings.toml"
    assert broken.exit_code == 1
    assert f"{templates / 'subject.txt'}:2: template syntax:" in broken.output
    assert invalid.exit_code == 1
    assert f"{path}:9: campaigns.birthday.channels.1:" in invalid.output


def test_check_accepts_the_shipped_settings() -> None:
    settings = Path(__file__).parents[2] / "settings.toml"
    result = CliRunner().invoke(main, ["--settings", str(settings), "check"])
    assert result.exit_code == 0, result.output
    assert "OK (12 campaigns)" in result.output


def test_check_renders_the_shipped_campaigns_on_every_sample_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from campaigns import check
    from campaigns.loader import load_config
    from templates.samples import MOMENT_VARIANTS
    from templates.samples import sample_context as build

    # given the shipped settings, and a record of the sample contexts `leal check` builds
    seen: set[tuple[str, str, str | None]] = set()

    def recorded(template: str, locale: str, **options: Any) -> dict[str, Any]:
        seen.add((template, locale, options.get("variant")))
        return build(template, locale, **options)

    monkeypatch.setattr("campaigns.check.sample_context", recorded)
    config = load_config(Path(__file__).parents[2] / "settings.toml")
    # when they are checked, then there is no problem
    assert check.check_config(config) == []
    # and every campaign was rendered in every locale on every variant of its moment
    assert {
        (campaign.template, locale, variant)
        for campaign in config.settings.campaigns.values()
        for locale in ("ca", "en", "es", "it", "ro")
        for variant in (None, *MOMENT_VARIANTS.get(campaign.template, {}))
    } <= seen


def test_run_jsonl_dry_run_then_run_then_diff(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    # given a birthday customer on 15 June and one without SMS consent
    from datetime import date

    shop.customer("ana", birth_date=date(1990, 6, 15))
    shop.customer("bo", birth_date=date(1985, 6, 15), sms_opt_in=False)
    # when the plan is shown as JSON lines without writing
    dry = _leal(tmp_path, "run", "--date", "2026-06-15", "--dry-run", "--format", "jsonl",
                db_url=db_url)  # fmt: skip
    # then every candidate message is a line with its verdict
    assert dry.exit_code == 0, dry.output
    lines = [json.loads(line) for line in dry.output.splitlines()]
    verdicts = {(m["customer_id"], m["channel"]): (m["status"], m.get("reason")) for m in lines}
    assert verdicts == {
        ("ana", "email"): ("planned", None),
        ("ana", "sms"): ("planned", None),
        ("bo", "email"): ("planned", None),
        ("bo", "sms"): ("skipped", "no_consent"),
    }
    assert {m["occasion"] for m in lines} == {"birthday:2026"}
    assert {(m["campaign"], m["trigger"]) for m in lines} == {("birthday", "birthday")}
    # when the run writes the ledger and a dry run diffs against it
    written = _leal(tmp_path, "run", "--date", "2026-06-15", db_url=db_url)
    diff = _leal(tmp_path, "run", "--date", "2026-06-15", "--dry-run", "--diff", db_url=db_url)
    # then the diff has nothing left to add
    assert written.exit_code == 0, written.output
    assert "birthday" in written.output and "run #1" in written.output
    assert diff.exit_code == 0, diff.output
    assert "0 to add, 0 in the ledger but no longer planned" in diff.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "15/06/2026"], "is not a date"),
        (["--at", "yesterday"], "is not an ISO 8601"),
        (["--date", "2026-06-15", "--at", "2026-06-15T09:00"], "not both"),
        (["--campaign", "nope"], "no campaign named nope"),
        (["--diff"], "--diff goes with --dry-run"),
    ],
)
def test_run_rejects_bad_arguments_clearly(
    tmp_path: Path, db_url: str, args: list[str], message: str
) -> None:
    result = _leal(tmp_path, "run", *args, db_url=db_url)
    assert result.exit_code == 2
    assert message in result.output


def _plan(shop: ShopFactory, tmp_path: Path, settings: str = SETTINGS) -> None:
    """The daily run of 15 June into the ledger, without delivering."""
    from campaigns.daily import daily_run
    from campaigns.loader import Config, load_config
    from tests.factories import local

    path = tmp_path / "settings.toml"
    path.write_text(settings, encoding="utf-8")
    loaded = load_config(path)
    database = loaded.settings.database.model_copy(update={"url": shop.settings.database.url})
    config = Config(loaded.settings.model_copy(update={"database": database}), path)
    daily_run(shop.engine, config, local("2026-06-15 09:00"))


def _template(root: Path, locale: str, **parts: str) -> None:
    folder = root / "tpl" / "birthday" / locale
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in parts.items():
        (folder / name.replace("_", ".")).write_text(text, encoding="utf-8")


def test_check_renders_each_sms_on_sample_data_against_its_budget(tmp_path: Path) -> None:
    # given an email+sms birthday campaign whose Catalan SMS has a curly apostrophe
    email = {"subject_txt": "Hi {{ customer.first_name }}", "text_txt": "Hi",
             "email_mjml": "<mjml><mj-body></mj-body></mjml>"}  # fmt: skip
    _template(tmp_path, "en", **email, sms_txt="Happy birthday {{ customer.first_name }}!")
    long = "Per molts anys, {{ customer.first_name }}! L’equip de " + "Cafè Leal " * 9
    _template(tmp_path, "ca", sms_txt=long)
    settings = SETTINGS + '\n[templates]\ndir = "tpl"\n'
    # when the settings are checked
    result = _leal(tmp_path, "check", settings=settings)
    # then the Catalan SMS is reported over its 2 segments, naming the character to fix
    sms = tmp_path / "tpl" / "birthday" / "ca" / "sms.txt"
    assert result.exit_code == 1
    on = "campaigns.birthday on sample data (ca, moment 'sample', a percentage off)"
    assert f"{sms}: {on}: sms too long: 3 segments (UCS-2" in " ".join(result.output.split())
    assert "'’' (U+2019)" in result.output


def _loyalty_templates(root: Path, name: str, **parts: str) -> str:
    """A template folder `name` with these parts in en (the others plain), and settings
    whose campaign `birthday` uses it for the trigger given as `trigger`."""
    folder = root / "tpl" / name / "en"
    folder.mkdir(parents=True)
    trigger = parts.pop("trigger")
    plain = {"subject_txt": "Hi {{ customer.first_name }}", "text_txt": "Hi",
             "email_mjml": "<mjml><mj-body></mj-body></mjml>", "sms_txt": "Hi"}  # fmt: skip
    for part, text in (plain | parts).items():
        (folder / part.replace("_", ".")).write_text(text, encoding="utf-8")
    return (
        SETTINGS.replace('"birthday"\nchannels = ["email", "sms"]',
                         f'"{trigger}"\nchannels = ["email", "sms"]')
        .replace('template = "birthday"', f'template = "{name}"')
        + '\n[templates]\ndir = "tpl"\n'
    )  # fmt: skip


def test_check_renders_every_sample_moment_and_names_the_one_a_branch_fails_on(
    tmp_path: Path,
) -> None:
    # given templates for points expiring whose subject and email (on line 3) fail only
    # on the last day
    mjml = ("<mjml><mj-body><mj-section><mj-column>\n<mj-text>Hi</mj-text>\n"
            '<mj-text>{% if moment.days_left == 0 %}{{ moment.hours_left }}{% endif %}'
            "</mj-text>\n</mj-column></mj-section></mj-body></mjml>")  # fmt: skip
    subject = (
        "Hi {{ customer.first_name }}{% if moment.days_left == 0 %}{{ moment.hours }}{% endif %}"
    )
    settings = _loyalty_templates(
        tmp_path, "expiring", trigger="points_expiring", subject_txt=subject, email_mjml=mjml
    )
    # when the settings are checked
    result = _leal(tmp_path, "check", settings=settings)
    # then each error is at its file and line, naming the locale and the variant it hit
    output = " ".join(result.output.split())
    folder = tmp_path / "tpl" / "expiring" / "en"
    on = ("campaigns.birthday on sample data (en, moment 'last chance: today, 1 point', "
          "a percentage off)")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"{folder / 'subject.txt'}:1: {on}: expiring/en/subject.txt: " in output
    assert "'hours'" in output
    assert f"{folder / 'email.mjml'}:3: {on}: expiring/en/email.mjml: " in output
    assert "'hours_left'" in output


def test_check_renders_every_survey_kind_and_shape_of_the_rest(tmp_path: Path) -> None:
    # given a survey email that fails only for a CES survey, only without an offer
    text = "{% if survey and survey.kind == 'ces' and not offer %}{{ survey.scale }}{% endif %}"
    settings = _loyalty_templates(tmp_path, "ask", trigger="post_purchase_survey", text_txt=text)
    result = _leal(tmp_path, "check", settings=settings)
    path = tmp_path / "tpl" / "ask" / "en" / "text.txt"
    on = ("campaigns.birthday on sample data (en, moment 'ces survey, no points for answering', "
          "no offer, no recommendations, the top tier)")  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"{path}:1: {on}: ask/en/text.txt: " in " ".join(result.output.split())


def test_check_holds_every_branch_of_an_sms_to_the_budget(tmp_path: Path) -> None:
    # given a welcome SMS whose third step alone is too long for its two segments
    sms = ("{% if moment.position == 3 %}" + "Every point counts. " * 16 + "{% endif %}"
           "Hi {{ customer.first_name }}")  # fmt: skip
    settings = _loyalty_templates(tmp_path, "hello", trigger="welcome", sms_txt=sms)
    result = _leal(tmp_path, "check", settings=settings)
    path = tmp_path / "tpl" / "hello" / "en" / "sms.txt"
    on = "campaigns.birthday on sample data (en, moment 'step 3 of 3: the tiers', a percentage off)"
    assert result.exit_code == 1, result.output
    assert f"{path}: {on}: sms too long: 3 segments" in " ".join(result.output.split())


def test_check_reports_a_part_a_channel_needs(tmp_path: Path) -> None:
    _template(tmp_path, "en", sms_txt="Hi {{ customer.first_name }}")
    result = _leal(tmp_path, "check", settings=SETTINGS + '\n[templates]\ndir = "tpl"\n')
    assert result.exit_code == 1
    assert (
        f"{tmp_path / 'settings.toml'}:10: campaigns.birthday.template: template 'birthday' "
        "has no subject.txt (tried en)"
    ) in result.output


def test_preview_renders_what_the_customer_would_get_and_writes_nothing(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    # given Ana (Catalan) whose birthday is 15 June, and Bo whose is not
    from datetime import date

    shop.customer("ana", birth_date=date(1990, 6, 15), locale="ca", first_name="Ana")
    shop.customer("bo", birth_date=date(1990, 1, 2))
    out = tmp_path / "ana.html"
    # when the birthday campaign is previewed for Ana on that date, and for Bo
    shown = _leal(tmp_path, "preview", "birthday", "--customer", "ana", "--date", "2026-06-15",
                  "--out", str(out), db_url=db_url)  # fmt: skip
    missing = _leal(tmp_path, "preview", "birthday", "--customer", "bo", "--date", "2026-06-15",
                    db_url=db_url)  # fmt: skip
    # then Ana's email is written in Catalan with its subject, text and SMS shown
    assert shown.exit_code == 0, shown.output
    assert "Subject (ca): Per molts anys, Ana!" in shown.output
    assert "SMS (ca): 1 segment(s), GSM-7" in shown.output
    assert "Per molts anys, Ana!" in out.read_text(encoding="utf-8")
    # and Bo's preview says why there is nothing to show, naming who has a moment
    assert missing.exit_code == 2
    assert "customer bo has no birthday moment at 2026-06-15 09:00; customers who do: ana" in (
        " ".join(missing.output.split())
    )


def test_status_shows_the_ledger_by_campaign_and_state(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    from datetime import date

    shop.customer("ana", birth_date=date(1990, 6, 15))
    shop.customer("bo", birth_date=date(1985, 6, 15), sms_opt_in=False)
    _plan(shop, tmp_path)
    shown = _leal(tmp_path, "status", db_url=db_url)
    other_day = _leal(tmp_path, "status", "--date", "2026-06-16", db_url=db_url)
    assert shown.exit_code == 0, shown.output
    rows = [line.split("│")[1:-1] for line in shown.output.splitlines() if "birthday" in line]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["birthday", "email", "queued", "-", "2"],
        ["birthday", "sms", "queued", "-", "1"],
    ]
    assert "The outbox is empty." in other_day.output


def test_send_delivers_what_is_due_and_run_says_when_the_broker_is_down(
    tmp_path: Path, db_url: str, shop: ShopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    monkeypatch.setenv("LEAL_SECRET_KEY", "k" * 32)
    shop.customer("ana", birth_date=date(1990, 6, 15))
    settings = SETTINGS.replace('["email", "sms"]', '["email"]') + (
        '\n[workers]\nbroker_url = "redis://127.0.0.1:1/0"\n'
    )
    # when a run writes the ledger while the broker is unreachable
    ran = _leal(tmp_path, "run", "--date", "2026-06-15", settings=settings, db_url=db_url)
    # then it says the message waits in the ledger, exits 1, and `leal send` delivers it, once
    assert ran.exit_code == 1, ran.output
    assert "The broker is unreachable" in ran.output
    sent = _leal(tmp_path, "send", settings=settings, db_url=db_url)
    again = _leal(tmp_path, "send", settings=settings, db_url=db_url)
    assert sent.exit_code == 0, sent.output
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in sent.output.splitlines()
            if line.startswith("│")]  # fmt: skip
    assert rows == [["sent", "-", "1"]]
    assert "Nothing was due." in again.output
    assert len(list((tmp_path / "var" / "outbox" / "email").glob("*.eml"))) == 1


def test_run_without_a_broker_delivers_here_once_a_secret_key_is_set(
    tmp_path: Path, db_url: str, shop: ShopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    shop.customer("ana", birth_date=date(1990, 6, 15))
    settings = SETTINGS.replace('["email", "sms"]', '["email"]')
    # when the run has no LEAL_SECRET_KEY
    keyless = _leal(tmp_path, "run", "--date", "2026-06-15", settings=settings, db_url=db_url,
                    secret=None)  # fmt: skip
    # then it is an error, exit 1, and nothing is planned or delivered
    assert keyless.exit_code == 1, keyless.output
    assert "Error: set LEAL_SECRET_KEY" in keyless.output
    assert "Nothing was delivered." in keyless.output
    assert not (tmp_path / "var" / "outbox" / "email").exists()
    assert "The outbox is empty." in _leal(tmp_path, "status", db_url=db_url).output
    # and `leal send` says the same instead of a traceback
    unsent = _leal(tmp_path, "send", settings=settings, db_url=db_url, secret=None)
    assert unsent.exit_code == 1 and "Error: set LEAL_SECRET_KEY" in unsent.output
    ran = _leal(tmp_path, "run", "--date", "2026-06-15", settings=settings, db_url=db_url)
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in ran.output.splitlines()
            if line.startswith("│") and "sent" in line]  # fmt: skip
    assert rows == [["sent", "-", "1"]]
    assert len(list((tmp_path / "var" / "outbox" / "email").glob("*.eml"))) == 1


def test_demo_outside_a_project_runs_the_example_campaigns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a folder without settings.toml
    monkeypatch.chdir(tmp_path)
    # when the demo runs there
    result = CliRunner().invoke(main, ["demo", "--customers", "400", "--dir", "shop"])
    # then it plans and delivers the shipped example's campaigns into its own outbox
    assert result.exit_code == 0, result.output
    assert "example campaigns" in result.output
    assert "win_back" in result.output
    assert list((tmp_path / "shop" / "outbox" / "email").glob("*.eml"))


def test_run_no_deliver_writes_the_plan_times_its_phases_and_leaves_delivery_to_send(
    tmp_path: Path, db_url: str, shop: ShopFactory
) -> None:
    from datetime import date

    shop.customer("ana", birth_date=date(1990, 6, 15))
    settings = SETTINGS.replace('["email", "sms"]', '["email"]')
    # when the run is asked for its timings and not to deliver
    ran = _leal(tmp_path, "run", "--date", "2026-06-15", "--no-deliver", "--timings",
                settings=settings, db_url=db_url)  # fmt: skip
    # then each phase of the run is a line with its seconds and the peak memory so far
    assert ran.exit_code == 0, ran.output
    phases = [line.split()[1] for line in ran.stderr.splitlines() if line.startswith("timing ")]
    assert phases == ["settings", "expiries", "summaries", "plan", "recommendations",
                      "ledger", "coupons", "commit", "output", "total"]  # fmt: skip
    # and the message waits in the ledger until `leal send` delivers it
    assert not (tmp_path / "var" / "outbox" / "email").exists()
    assert "queued" in _leal(tmp_path, "status", db_url=db_url).output
    sent = _leal(tmp_path, "send", settings=settings, db_url=db_url)
    assert sent.exit_code == 0, sent.output
    assert len(list((tmp_path / "var" / "outbox" / "email").glob("*.eml"))) == 1


def test_import_leaves_postgresql_with_statistics_for_the_next_run(
    tmp_path: Path, db_url: str, engine: Engine
) -> None:
    from sqlalchemy import text

    from tests.shop.import_files import write_shop

    if not db_url.startswith("postgresql"):
        return  # SQLite's queries are written for its planner without statistics
    # when a shop is imported through the command
    result = _leal(tmp_path, "import", str(write_shop(tmp_path / "csv")), db_url=db_url)
    # then PostgreSQL has the column statistics its planner needs (only ANALYZE makes them)
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        columns = connection.execute(
            text("SELECT attname FROM pg_stats WHERE schemaname = current_schema() "
                 "AND tablename = 'orders'")
        ).scalars().all()  # fmt: skip
    assert {"customer_id", "ordered_at"} <= set(columns)
