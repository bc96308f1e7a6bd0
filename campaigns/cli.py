"""The `leal` command line."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from sqlalchemy import Engine

from campaigns import report
from campaigns.check import check_config
from campaigns.daily import RunInstantError, daily_run, run_instant
from campaigns.loader import Config, ConfigError, load_config
from campaigns.plan import PlanError
from shop.db import make_engine, migrate, schema_is_current

err = Console(stderr=True, highlight=False)


def _config(ctx: click.Context) -> Config:
    path: Path | None = ctx.obj["settings"]
    try:
        return load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)  # one problem per line, never wrapped
        ctx.exit(1)
        raise  # unreachable: ctx.exit raises


def _engine(config: Config, *, migrate_schema: bool) -> Engine:
    engine = make_engine(config.settings.database.url)
    if migrate_schema:
        migrate(engine)
    elif not schema_is_current(engine):
        raise click.ClickException("the database schema is not current: run `leal db upgrade`")
    return engine


@click.group()
@click.option(
    "--settings",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (default: $LEAL_SETTINGS, else ./settings.toml).",
)
@click.pass_context
def main(ctx: click.Context, settings: Path | None) -> None:
    """Leal: personalized campaigns for shops with a loyalty program."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = settings


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate settings, campaigns and templates; print file:line per problem."""
    config = _config(ctx)
    problems = check_config(config)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        ctx.exit(1)
    campaigns = len(config.settings.campaigns)
    click.echo(f"{config.path or '<defaults>'}: OK ({campaigns} campaigns)")


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the database schema to the current version."""
    config = _config(ctx)
    _engine(config, migrate_schema=True)
    click.echo("schema is current")


@main.command("import")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--strict", is_flag=True, help="Write nothing if any row is bad.")
@click.pass_context
def import_(ctx: click.Context, directory: Path, strict: bool) -> None:
    """Import customers, products, orders, order items and cart events from CSV files."""
    from shop.importer import import_dir

    config = _config(ctx)
    engine = _engine(config, migrate_schema=True)
    result = import_dir(engine, directory, config.settings, strict=strict)
    report.print_import(result, err)
    if result.problems:
        ctx.exit(1)


@main.command()
@click.option("--date", "day", help="Run date (YYYY-MM-DD) at [schedule] daily_at.")
@click.option("--at", "at", help="Run instant, ISO 8601 (or 'now').")
@click.option("--campaign", "campaigns", multiple=True, help="Only this campaign (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show the plan; write nothing.")
@click.option("--diff", is_flag=True, help="With --dry-run: compare with the ledger.")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text")
@click.pass_context
def run(
    ctx: click.Context,
    day: str | None,
    at: str | None,
    campaigns: tuple[str, ...],
    dry_run: bool,
    diff: bool,
    fmt: str,
) -> None:
    """Evaluate the campaigns and write planned messages to the outbox ledger."""
    if diff and not dry_run:
        raise click.UsageError("--diff goes with --dry-run")
    config = _config(ctx)
    engine = _engine(config, migrate_schema=False)
    try:
        instant = run_instant(config, at, day)
        result = daily_run(engine, config, instant, only=campaigns, dry_run=dry_run)
    except (RunInstantError, PlanError) as error:
        raise click.UsageError(str(error)) from None
    if fmt == "jsonl":
        for message in result.plan.messages:
            sys.stdout.write(json.dumps(message.as_json(), ensure_ascii=False) + "\n")
        return
    console = Console(highlight=False)
    report.print_plan(result, config, console)
    if diff:
        with engine.connect() as connection:
            report.print_diff(connection, result.plan, console)
    if dry_run:
        return
    if config.settings.workers.broker_url:
        _ring_workers(config, console)
    else:  # no broker: the tasks run here, now
        _deliver_here(engine, config, console)


def _deliver_here(engine: Engine, config: Config, console: Console) -> None:
    from templates.unsubscribe import MissingSecretError, Signer

    try:
        signer = Signer.from_env()
    except MissingSecretError as error:
        console.print(f"Not delivered: {error}. Then: leal send", markup=False, soft_wrap=True)
        return
    _send_with_progress(engine, config, console, None, signer)


def _send_with_progress(
    engine: Engine, config: Config, console: Console, limit: int | None, signer: Any = None
) -> None:
    from rich.progress import Progress

    from workers import ledger
    from workers.run import deliver_due

    with engine.connect() as connection:
        due = len(ledger.due_ids(connection, datetime.now(UTC), limit or 10_000_000))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Delivering", total=due)
        tally = deliver_due(
            engine, config, limit=limit, signer=signer, progress=lambda n: progress.advance(task, n)
        )
    report.print_delivery(tally, console)


def _ring_workers(config: Config, console: Console) -> None:
    """Tell the workers there is work; if the broker is down, the rows wait in the ledger."""
    from kombu.exceptions import OperationalError

    from workers.celery_config import make_app

    try:
        make_app(config).send_task("leal.dispatch", retry=False)
    except OperationalError as error:
        console.print(
            f"The broker is unreachable ({type(error).__name__}): the messages wait in the "
            "ledger; leal.recover (beat) or `leal send` will deliver them.",
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print("Dispatched to the workers.")


@main.command()
@click.option("--limit", type=int, default=None, help="Deliver at most this many rows.")
@click.pass_context
def send(ctx: click.Context, limit: int | None) -> None:
    """Deliver the outbox rows that are due, through the configured channel."""
    config = _config(ctx)
    engine = _engine(config, migrate_schema=False)
    _send_with_progress(engine, config, Console(highlight=False), limit)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a Celery worker (extra options go to `celery worker`, e.g. -c 4 -B for beat)."""
    config = _config(ctx)  # fail early, with file:line, on bad settings
    if config.path is not None:
        os.environ["LEAL_SETTINGS"] = str(config.path)  # the app reads it at import
    from workers.celery_app import app

    app.worker_main(["worker", "--loglevel=INFO", *ctx.args])


@main.command()
@click.option("--date", "day", help="Only rows planned for this date (YYYY-MM-DD).")
@click.pass_context
def status(ctx: click.Context, day: str | None) -> None:
    """The outbox ledger by campaign and state (and skip or failure reason)."""
    from datetime import date

    config = _config(ctx)
    engine = _engine(config, migrate_schema=False)
    try:
        run_date = date.fromisoformat(day) if day else None
    except ValueError:
        raise click.UsageError(f"--date {day!r} is not a date (YYYY-MM-DD)") from None
    with engine.connect() as connection:
        report.print_status(connection, run_date, Console(highlight=False))


@main.command()
@click.argument("campaign")
@click.pass_context
def resume(ctx: click.Context, campaign: str) -> None:
    """Resume the delivery of a campaign that paused itself after provider failures."""
    from workers.ledger import resume as resume_campaign

    config = _config(ctx)
    with _engine(config, migrate_schema=False).begin() as connection:
        resumed = resume_campaign(connection, campaign)
    click.echo(f"{campaign}: resumed" if resumed else f"{campaign} was not paused")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve one-click unsubscribe and Twilio's webhooks (FastAPI on uvicorn)."""
    import uvicorn

    from workers.web import create_app

    config = _config(ctx)
    uvicorn.run(create_app(config, _engine(config, migrate_schema=False)), host=host, port=port)


@main.command()
@click.argument("campaign")
@click.option(
    "--customer", "customer_id", help="Customer id (default: the first one the trigger finds)."
)
@click.option("--date", "day", help="Run date (YYYY-MM-DD) at [schedule] daily_at; default today.")
@click.option("--at", "at", help="Run instant, ISO 8601.")
@click.option("--channel", type=click.Choice(["email", "sms"]), help="Only this channel.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the HTML goes (default var/preview/CAMPAIGN-CUSTOMER.html).",
)
@click.pass_context
def preview(
    ctx: click.Context,
    campaign: str,
    customer_id: str | None,
    day: str | None,
    at: str | None,
    channel: str | None,
    out: Path | None,
) -> None:
    """Render exactly what a customer would get from CAMPAIGN: HTML, subject, text, SMS."""
    from campaigns.preview import PreviewError, make_preview
    from templates.render import RenderSkipError

    config = _config(ctx)
    engine = _engine(config, migrate_schema=False)
    settings_campaign = config.settings.campaigns.get(campaign)
    channels = (
        [channel]
        if channel
        else list(settings_campaign.channels if settings_campaign else ["email"])
    )
    try:
        instant = run_instant(config, at, day)
        with engine.connect() as connection:
            shown = make_preview(connection, config, campaign, instant, customer_id, channels)  # type: ignore[arg-type]
    except (RunInstantError, PreviewError) as error:
        raise click.UsageError(str(error)) from None
    except RenderSkipError as error:
        raise click.ClickException(f"this message would be skipped: {error}") from None
    report.print_preview(shown, campaign, out, Console(highlight=False))


@main.command()
@click.option("--customers", default=5000, show_default=True, help="Customers to generate.")
@click.option("--seed", default=42, show_default=True, help="Random seed.")
@click.option(
    "--dir",
    "directory",
    default=Path("var/demo"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo shop's CSV files and database go (replaced).",
)
@click.pass_context
def demo(ctx: click.Context, customers: int, seed: int, directory: Path) -> None:
    """Generate a demo shop, import it and run today's daily run on it."""
    from campaigns.demo import EXAMPLE_SETTINGS, run_demo

    config = _config(ctx)
    if config.path is None and EXAMPLE_SETTINGS.exists():  # no settings here: the example's
        ctx.obj["settings"] = EXAMPLE_SETTINGS
        config = _config(ctx)
        err.print(f"No settings.toml here: the demo runs the example campaigns of {config.path}")
    run_demo(config, directory, customers=customers, seed=seed, console=Console(highlight=False))


if __name__ == "__main__":
    main()
