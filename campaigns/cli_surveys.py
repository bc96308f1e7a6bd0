"""`leal surveys export`: the survey answers of a period, as CSV or JSON lines.

The export holds what customers typed (comments), so it is written for the program that
will open it: in CSV, a text cell that a spreadsheet would run as a formula (it starts with
`=`, `+`, `-`, `@`, a tab or a line break, also after blanks or in their full-width forms)
gets a leading `'`, which spreadsheets show as text; JSON lines carry every value exactly.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import click

from campaigns.cli_report import parse_day
from shop.surveys import EXPORT_COLUMNS, export_rows

# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"), with the
# full-width forms some spreadsheets fold to them.
FORMULA_STARTS = frozenset("=+-@\t\r\n＝＋－＠")
# Line breaks JSON leaves raw but line readers split on (Python's splitlines does).
_RAW_BREAKS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _instant(day: date | None, tz: ZoneInfo) -> datetime | None:
    """The shop-local midnight that starts `day`, as an instant."""
    return None if day is None else datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@click.group()
def surveys() -> None:
    """Survey answers (docs/surveys.md)."""


@surveys.command()
@click.option(
    "--from", "start", help="First day answered (YYYY-MM-DD, shop-local); default: the first."
)
@click.option("--to", "end", help="Last day answered (YYYY-MM-DD, shop-local); default: the last.")
@click.option("--campaign", help="Only this campaign's answers.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write it here (default: standard output).")  # fmt: skip
@click.pass_context
def export(
    ctx: click.Context,
    start: str | None,
    end: str | None,
    campaign: str | None,
    fmt: str,
    out: Path | None,
) -> None:
    """The answers first submitted from --from to --to (both days included), one per survey
    moment, oldest first: answered_at, updated_at, campaign, customer_id, occasion, kind,
    score, scores, comment, locale. An erased customer's answers carry no comment."""
    from campaigns.cli import _config, _engine  # the CLI's own loaders (it imports this module)

    config = _config(ctx)
    tz = config.settings.shop.tz
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if first and last and first > last:
        raise click.UsageError("--from is after --to")
    since = _instant(first, tz)
    until = _instant(last + timedelta(days=1), tz) if last else None
    engine = _engine(config, migrate_schema=False)
    try:
        with engine.connect() as connection:
            rows = export_rows(connection, since, until, campaign)
            if out is None:
                count = _write(rows, fmt, sys.stdout)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                with out.open("w", encoding="utf-8", newline="") as handle:
                    count = _write(rows, fmt, handle)
                click.echo(f"wrote {count} answers to {out}", err=True)
    finally:
        engine.dispose()


def _write(rows: Iterator[dict[str, Any]], fmt: str, handle: IO[str]) -> int:
    if fmt == "jsonl":
        return _write_jsonl(rows, handle)
    return _write_csv(rows, handle)


def _write_csv(rows: Iterable[dict[str, Any]], handle: IO[str]) -> int:
    writer = csv.writer(handle)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(row[column]) for column in EXPORT_COLUMNS])
        count += 1
    return count


def _write_jsonl(rows: Iterable[dict[str, Any]], handle: IO[str]) -> int:
    count = 0
    for row in rows:
        line = json.dumps({column: _json_value(row[column]) for column in EXPORT_COLUMNS},
                          ensure_ascii=False, sort_keys=False)  # fmt: skip
        for raw, escaped in _RAW_BREAKS.items():
            line = line.replace(raw, escaped)
        handle.write(line + "\n")
        count += 1
    return count


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def csv_cell(value: Any) -> str:
    """A CSV cell: instants in ISO 8601, scores as JSON, text a spreadsheet cannot run."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if isinstance(value, int):
        return str(value)
    return neutralised(str(value))


def neutralised(text: str) -> str:
    """`text`, with a leading `'` when a spreadsheet would read it as a formula."""
    stripped = text.lstrip(" \u00a0\u3000")
    if stripped[:1] in FORMULA_STARTS:
        return "'" + text
    return text
