"""`leal report`: what the campaigns caused and the loyalty KPIs, as text, JSON or HTML."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console

DEFAULT_DAYS = 30


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


@click.command()
@click.option("--from", "start", help="First run date (YYYY-MM-DD); default: 29 days before --to.")
@click.option("--to", "end", help="Last run date (YYYY-MM-DD); default: today in the shop's zone.")
@click.option("--campaign", help="Only this campaign.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write it here.")
@click.option("--seed", type=int, default=0, help="Seed of the bootstrap intervals.")
@click.pass_context
def report(
    ctx: click.Context,
    start: str | None,
    end: str | None,
    campaign: str | None,
    fmt: str,
    out: Path | None,
    seed: int,
) -> None:
    """What each campaign caused (holdout comparison, uplift with intervals, ROI) and the
    loyalty KPIs of a period; see docs/measurement.md."""
    from campaigns.cli import _config, _engine  # the CLI's own loaders (it imports this module)
    from reports.build import ReportError, build_report

    config = _config(ctx)
    engine = _engine(config, migrate_schema=False)
    last = parse_day(end, "--to") or datetime.now(config.settings.shop.tz).date()
    first = parse_day(start, "--from") or last - timedelta(days=DEFAULT_DAYS - 1)
    try:
        with engine.connect() as connection:
            data = build_report(connection, config, first, last, campaign=campaign, seed=seed)
    except ReportError as error:
        raise click.UsageError(str(error)) from None
    finally:
        engine.dispose()  # the report reads once; no connection outlives the command
    _write(data, fmt, out)


def _write(data: dict[str, object], fmt: str, out: Path | None) -> None:
    if fmt == "text":
        from reports.render_text import print_report

        if out is None:
            print_report(data, Console(highlight=False))
            return
        with out.open("w", encoding="utf-8") as handle:
            print_report(data, Console(file=handle, highlight=False, width=120))
        return
    if fmt == "json":
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        from reports.render_html import render_html

        text = render_html(data)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)
