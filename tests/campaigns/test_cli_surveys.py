"""`leal surveys export`: the answers of shop-local days as CSV a spreadsheet cannot be
attacked through, or as exact JSON lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from campaigns.cli import main
from campaigns.cli_surveys import _write_csv, csv_cell, neutralised
from campaigns.config import Settings
from shop.surveys import EXPORT_COLUMNS
from tests.factories import ShopFactory, local
from tests.hostile.corpora import naughty_strings, xss_payloads
from tests.shop.test_surveys import answer, sent, survey_settings

SETTINGS = '[shop]\ntimezone = "Europe/Madrid"\n'
HEADER = ",".join(EXPORT_COLUMNS)


def _leal(tmp_path: Path, db_url: str, *args: str) -> Result:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    env = {"LEAL_DATABASE__URL": db_url}
    return CliRunner().invoke(main, ["--settings", str(path), "surveys", "export", *args],
                              env=env)  # fmt: skip


def _answered(engine: Engine, settings: Settings, shop: ShopFactory) -> dict[str, datetime]:
    """Three answers around midnight of 2026-06-15 in Madrid, of two campaigns."""
    surveyed = survey_settings(settings)
    ana, bo = shop.customer("ana"), shop.customer("bo")
    at = {"late": local("2026-06-14 23:30"), "early": local("2026-06-15 00:30"),
          "next": local("2026-06-16 12:00")}  # fmt: skip
    sent_at = local("2026-06-10 09:00")
    answer(engine, surveyed, sent(engine, ana, at=sent_at), 9, at=at["late"],
           comment="=HYPERLINK(\"http://evil.example\",\"click\")")  # fmt: skip
    answer(engine, surveyed, sent(engine, bo, "csat", at=sent_at), 2, at=at["early"],
           comment="Slow,\n\"very\" slow\u2028really")  # fmt: skip
    three = {"recommend": 10, "buy_again": 9, "try_other": 4}
    answer(engine, surveyed, sent(engine, ana, "cli", at=sent_at), 10, at=at["next"],
           scores=three)  # fmt: skip
    return at


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_holds_every_answer_oldest_first(
    tmp_path: Path, db_url: str, engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given three answers
    at = _answered(engine, settings, shop)
    # when all are exported as CSV to standard output
    result = _leal(tmp_path, db_url)
    # then the header and one row per answer, oldest first, the comment's formula defused
    assert result.exit_code == 0, result.output
    written = result.stdout_bytes.decode("utf-8")
    assert written.startswith(HEADER + "\r\n")  # RFC 4180 line ends
    rows = _csv(written)
    assert [(row["campaign"], row["customer_id"], row["score"]) for row in rows] == [
        ("nps", "ana", "9"), ("csat", "bo", "2"), ("cli", "ana", "10")]  # fmt: skip
    assert datetime.fromisoformat(rows[0]["answered_at"]) == at["late"]
    assert rows[0]["comment"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[1]["comment"] == 'Slow,\n"very" slow\u2028really'  # quoted, kept whole
    assert json.loads(rows[2]["scores"]) == {"buy_again": 9, "recommend": 10, "try_other": 4}
    assert rows[2]["comment"] == "" and rows[0]["locale"] == "ca" and rows[0]["kind"] == "nps"


def test_the_days_are_the_shop_s(
    tmp_path: Path, db_url: str, engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given answers at 23:30 on the 14th and 00:30 on the 15th, Madrid time (both the 14th
    # in UTC)
    _answered(engine, settings, shop)
    # when the 15th alone is exported
    result = _leal(tmp_path, db_url, "--from", "2026-06-15", "--to", "2026-06-15")
    # then only the answer of 00:30 is in it
    assert result.exit_code == 0, result.output
    assert [row["customer_id"] for row in _csv(result.output)] == ["bo"]
    until_14th = _leal(tmp_path, db_url, "--to", "2026-06-14")
    assert [row["campaign"] for row in _csv(until_14th.output)] == ["nps"]
    from_16th = _leal(tmp_path, db_url, "--from", "2026-06-16")
    assert [row["campaign"] for row in _csv(from_16th.output)] == ["cli"]


def test_jsonl_to_a_file_carries_the_exact_values(
    tmp_path: Path, db_url: str, engine: Engine, settings: Settings, shop: ShopFactory
) -> None:
    # given three answers
    _answered(engine, settings, shop)
    out = tmp_path / "out" / "answers.jsonl"
    # when the NPS and CSAT campaigns' answers are exported as JSON lines into a file
    results = [
        _leal(tmp_path, db_url, "--format", "jsonl", "--campaign", campaign, "--out",
              str(out.with_suffix(f".{campaign}")))
        for campaign in ("nps", "csat")
    ]  # fmt: skip
    # then each file holds its campaign's answer, exactly as stored, one per line
    assert all(result.exit_code == 0 for result in results), results[0].output
    assert "wrote 1 answers to" in results[0].output
    nps_lines = out.with_suffix(".nps").read_text(encoding="utf-8").splitlines()
    csat_lines = out.with_suffix(".csat").read_text(encoding="utf-8").splitlines()
    assert len(nps_lines) == len(csat_lines) == 1  # the U+2028 in the comment is escaped
    nps, csat = json.loads(nps_lines[0]), json.loads(csat_lines[0])
    assert list(nps) == list(EXPORT_COLUMNS)
    assert nps["comment"] == '=HYPERLINK("http://evil.example","click")'
    assert nps["scores"] == {"nps": 9} and nps["answered_at"].startswith("2026-06-14T21:30:00")
    assert csat["comment"] == 'Slow,\n"very" slow\u2028really'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "15/06/2026"), "is not a date"),
        (("--from", "2026-06-16", "--to", "2026-06-15"), "--from is after --to"),
        (("--format", "xlsx"), "Invalid value for '--format'"),
    ],
)
def test_bad_options_are_refused(
    tmp_path: Path, db_url: str, engine: Engine, args: tuple[str, ...], message: str
) -> None:
    result = _leal(tmp_path, db_url, *args)
    assert result.exit_code == 2 and message in result.output


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"), ("+34 600", "'+34 600"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("\n=1", "'\n=1"),
        ("  =cmd|' /C calc'!A0", "'  =cmd|' /C calc'!A0"),
        ("\u3000=1", "'\u3000=1"), ("＝1+1", "'＝1+1"), ("＠x", "'＠x"),
        ("Great coffee", "Great coffee"), ("a=b", "a=b"), ("", ""), ("'=1", "'=1"),
    ],
)  # fmt: skip
def test_a_cell_a_spreadsheet_would_run_is_defused(text: str, cell: str) -> None:
    assert neutralised(text) == cell


def test_values_are_written_for_a_spreadsheet() -> None:
    assert csv_cell(None) == "" and csv_cell(7) == "7"
    assert csv_cell({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert csv_cell(local("2026-06-15 09:00")) == "2026-06-15T09:00:00+02:00"


def test_no_corpus_comment_reaches_a_spreadsheet_as_a_formula() -> None:
    # given every attack-corpus string as a comment
    comments = [text for text in naughty_strings() + xss_payloads() if _utf8(text)]
    rows: list[dict[str, Any]] = [
        dict.fromkeys(EXPORT_COLUMNS) | {"comment": comment, "score": 1} for comment in comments
    ]
    handle = io.StringIO(newline="")
    # when they are written as CSV and read back
    _write_csv(rows, handle)
    cells = [row["comment"] for row in _csv(handle.getvalue())]
    # then each cell is the comment, or the comment behind a quote when it would run
    assert len(cells) == len(comments)
    for comment, cell in zip(comments, cells, strict=True):
        starts = comment.lstrip(" \u00a0\u3000")[:1] or comment[:1]
        if starts and (starts in "=+-@\t\r\n＝＋－＠" or comment[:1] in "\t\r\n"):
            assert cell == "'" + comment, comment
        else:
            assert cell == comment, comment


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
