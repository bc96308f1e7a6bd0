"""Configuration errors name the file and line, or the environment variable."""

from pathlib import Path

import pytest

from campaigns.loader import ConfigError, load_config

VALID = """\
[shop]
timezone = "Europe/Madrid"

[campaigns.birthday]
trigger = "birthday"
channels = ["email"]
template = "birthday"
params = { days_before = 3 }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return [str(problem) for problem in raised.value.problems]


def test_a_valid_file_loads(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID))
    assert config.settings.campaigns["birthday"].params == {"days_before": 3}
    assert config.trigger_params("birthday").model_dump() == {"days_before": 3}


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    # given a file with a bad zone, an unknown key, a bad channel and a bad param
    path = _write(
        tmp_path,
        """\
[shop]
timezone = "Europe/Atlantis"

[policy]
max_messages_per_dya = 3

[campaigns.birthday]
trigger = "birthday"
channels = ["email", "fax"]
template = "birthday"
""",
    )
    # when it is loaded
    problems = _problems(path)
    # then each problem names its own line
    assert any(p.startswith(f"{path}:2: shop.timezone:") and "Atlantis" in p for p in problems)
    assert any(
        p.startswith(f"{path}:5: policy.max_messages_per_dya: unknown key") for p in problems
    )
    assert any(p.startswith(f"{path}:9: campaigns.birthday.channels.1:") for p in problems)
    assert len(problems) == 3


def test_trigger_params_and_templates_are_checked(tmp_path: Path) -> None:
    # given an inline params table with a typo, a multi-line params table with a bad value,
    # an unknown trigger and a template folder that does not exist
    path = _write(
        tmp_path,
        """\
[campaigns.birthday]
trigger = "birthday"
channels = ["email"]
template = "birthday"
params = { days_bfore = 3 }

[campaigns.carts]
trigger = "abandoned_cart"
channels = ["sms"]
template = "no-such-template"

[campaigns.carts.params]
idle_hours = -2

[campaigns.typo]
trigger = "birthdya"
channels = ["email"]
template = "birthday"
""",
    )
    # when it is loaded
    problems = _problems(path)
    # then
    assert f"{path}:5: campaigns.birthday.params.days_bfore: unknown key" in " ".join(problems)
    assert any(p.startswith(f"{path}:13: campaigns.carts.params.idle_hours:") for p in problems)
    assert any(
        p.startswith(f"{path}:10: campaigns.carts.template: no template folder") for p in problems
    )
    assert any(
        p.startswith(f"{path}:16: campaigns.typo.trigger: unknown trigger 'birthdya'")
        for p in problems
    )


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[shop]\nname = "Cafè"\ntimezone = \n')
    assert _problems(path) == [f"{path}:3: invalid TOML: Invalid value"]


def test_environment_overrides_the_file_and_is_named_in_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a valid file and a database URL from the environment
    path = _write(tmp_path, VALID)
    monkeypatch.setenv("LEAL_DATABASE__URL", "sqlite:///elsewhere.db")
    assert load_config(path).settings.database.url == "sqlite:///elsewhere.db"
    # when an environment variable holds a bad value
    monkeypatch.setenv("LEAL_POLICY__MAX_MESSAGES_PER_DAY", "zero")
    problems = _problems(path)
    # then the problem names the variable
    assert len(problems) == 1
    assert problems[0].startswith("environment LEAL_POLICY__MAX_MESSAGES_PER_DAY: policy.")


def test_settings_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, VALID.replace('timezone = "Europe/Madrid"', 'timezone = "Asia/Tokyo"'))
    monkeypatch.setenv("LEAL_SETTINGS", str(path))
    assert load_config().settings.shop.timezone == "Asia/Tokyo"


def test_the_shipped_settings_are_valid() -> None:
    config = load_config(Path(__file__).parents[2] / "settings.toml")
    assert set(config.settings.campaigns) == {
        "birthday", "abandoned_cart", "tier_up", "win_back",
        "reward_available", "points_expiring_last_chance", "points_expiring_warning",
        "welcome", "milestone", "post_purchase_survey", "at_risk", "review_request",
    }  # fmt: skip


def test_sender_addresses_must_be_bare_addresses(tmp_path: Path) -> None:
    # given a bounce address written with a name, as in a From header
    path = _write(tmp_path, VALID + '\n[smtp]\nenvelope_from = "Shop <bounces@shop.example>"\n'
                  '[email]\nreply_to = "help at shop"\n')  # fmt: skip
    # then both are refused on their lines, before any message is sent with them
    problems = _problems(path)
    assert any(p.startswith(f"{path}:11: smtp.envelope_from:") for p in problems), problems
    assert any(p.startswith(f"{path}:13: email.reply_to:") for p in problems), problems
    assert len(problems) == 2


@pytest.mark.parametrize(
    ("table", "line", "expected"),
    [
        ('[web]\npublic_url = "leal.cafe.example"', "web.public_url", "not an absolute http(s)"),
        ('[web]\npublic_url = "https://"', "web.public_url", "not an absolute http(s)"),
        ('[shop]\nurl = "javascript:alert(1)"', "shop.url", "not an absolute http(s)"),
        ('[twilio]\nstatus_callback = "ftp://x.es/s"', "twilio.status_callback", "http(s)"),
        ('[database]\nurl = "mysql://leal@db/leal"', "database.url", "unsupported database"),
        ("[database]\nurl = 'postgresql+asyncpg://leal@db/leal'", "database.url", "psycopg"),
        ('[database]\nurl = "not a url"', "database.url", "not a database URL"),
        ('[shop]\ndefault_locale = "xx"', "shop.default_locale", "unknown locale"),
        ('[shop]\ncurrency = "ZZZ"', "shop.currency", "unknown currency"),
        ('[shop]\ndefault_phone_region = "XX"', "shop.default_phone_region", "unknown phone"),
    ],
)
def test_values_that_can_never_work_are_refused_with_their_line(
    tmp_path: Path, table: str, line: str, expected: str
) -> None:
    # given one setting whose value no delivery or connection could use
    path = _write(tmp_path, table + "\n")
    # when it is loaded
    problems = _problems(path)
    # then it is an error on its own line, before anything runs
    assert any(p.startswith(f"{path}:2: {line}:") and expected in p for p in problems), problems


def test_a_secret_in_the_file_names_its_environment_variable(tmp_path: Path) -> None:
    path = _write(tmp_path, '[smtp]\nusername = "leal"\npassword = "hunter2"\n')
    assert _problems(path) == [
        f"{path}:3: smtp.password: secrets never go in the settings: "
        "set the environment variable LEAL_SMTP_PASSWORD"
    ]


def test_an_override_for_an_unknown_section_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a typo in a section name, which pydantic-settings would silently ignore
    monkeypatch.setenv("LEAL_SMPT__HOST", "relay.cafe.example")
    # when the settings load
    problems = _problems(_write(tmp_path, VALID))
    # then the variable is named
    assert len(problems) == 1
    assert problems[0].startswith("environment LEAL_SMPT__HOST: [smpt] is not a settings section")


def test_the_sms_window_can_be_lifted(tmp_path: Path) -> None:
    # TOML has no null: `false` is how a shop sends SMS at any hour
    config = load_config(_write(tmp_path, VALID + "\n[sending_hours]\nsms = false\n"))
    assert config.settings.sending_hours.sms is None
