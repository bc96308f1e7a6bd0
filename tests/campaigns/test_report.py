"""The run's plan table as an operator reads it, in a terminal of any width or a pipe."""

import io
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from campaigns.config import Settings
from campaigns.daily import RunResult
from campaigns.loader import Config
from campaigns.plan import Message, Plan
from campaigns.report import print_plan
from triggers.base import RunContext

LONG = "spring_reactivation_for_customers_who_bought_twice_last_year"  # 60 characters
SKIPPED = {
    "already_in_outbox": 7890,
    "contact_budget": 56,
    "no_address": 3,
    "no_consent": 12,
    "suppressed": 1234,
}


def _result(planned: int = 5) -> tuple[RunResult, Config]:
    settings = Settings.model_validate(
        {
            "shop": {"timezone": "Europe/Madrid"},
            "campaigns": {
                LONG: {"trigger": "win_back", "channels": ["email", "sms"], "template": "x"},
                "birthday": {"trigger": "birthday", "channels": ["email"], "template": "x"},
            },
        }
    )
    messages: list[Message] = []
    for reason, count in SKIPPED.items():
        for n in range(count):
            message = Message(LONG, "win_back", f"{reason}{n}", "email", "win_back:1", 10)
            message.skip(reason)
            messages.append(message)
    for n in range(planned):
        messages.append(Message(LONG, "win_back", f"p{n}", "email", "win_back:1", 10))
    held = Message("birthday", "birthday", "h", "email", "birthday:2026", 10)
    held.hold_out("holdout")
    messages.append(held)
    run = RunContext(datetime(2026, 6, 15, 7, tzinfo=UTC), ZoneInfo("Europe/Madrid"))
    return RunResult(Plan(run, messages), 1, 0, 0), Config(settings, None)


def _printed(width: int) -> str:
    result, config = _result()
    out = io.StringIO()
    print_plan(result, config, Console(file=out, width=width, highlight=False))
    return out.getvalue()


@pytest.mark.parametrize("width", [40, 63, 64, 80, 250])  # 64: the narrowest table
def test_a_long_campaign_name_cuts_no_skip_reason_at_any_width(width: int) -> None:
    text = _printed(width)
    lines = text.splitlines()
    assert "…" not in text
    # every reason with its count, whole, on the campaign's own line (grep-able)
    reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(SKIPPED.items()))
    assert f"  {LONG}: {reasons}" in lines
    # the counts of the row: moments, planned, held out, skipped, each whole
    for figure in (sum(SKIPPED.values()) + 5, 5, sum(SKIPPED.values())):
        assert re.search(rf"(?<![\d…]){figure}(?![\d…])", text), figure
    assert not any(line.startswith("  birthday:") for line in lines)  # nothing skipped


def test_the_table_keeps_its_columns_when_it_fits() -> None:
    text = _printed(80)
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and all(len(line) <= 80 for line in table)  # the reasons' line is longer
    header = next(line for line in text.splitlines() if "Campaign" in line)
    for column in ("Channels", "Moments", "Planned", "Held out", "Skipped"):
        assert column in header
    row = next(line for line in text.splitlines() if "birthday" in line and "email" in line)
    assert row.split("│")[3:7] == ["       1 ", "       0 ", "        1 ", "       0 "]


def test_a_console_too_narrow_for_the_table_gets_one_line_per_campaign() -> None:
    lines = _printed(40).splitlines()
    assert (
        f"{LONG} (win_back, email+sms): moments 9200, planned 5, held out 0, skipped 9195" in lines
    )
    assert "birthday (birthday, email): moments 1, planned 0, held out 1, skipped 0" in lines
