"""The `leal` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from campaigns import cli_delivery, report
from campaigns.check import check_config
from campaigns.cli_privacy import customer
from campaigns.cli_report import report as report_command
from campaigns.cli_surveys import surveys
from campaigns.daily import RunInstantError, RunResult, daily_run, run_instant
from campaigns.loader import DEFAULT_FILE, Config, ConfigError, Problem, load_config
from campaigns.plan import PlanError
from campaigns.readiness import delivery_problems, real_channels
from campaigns.timings import Timings, maybe
from shop.db import make_engine, migrate, refresh_statistics, schema_is_current

err = Console(stderr=True, highlight=False)
DEMO_DIR = Path("var/demo")  # where `leal demo` puts its shop and settings by default


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
    """The configured database; only `db upgrade` and `import` (migrate_schema) create or
    migrate it: a command that reads refuses a missing file rather than creating an empty
    one, and says which database it looked at and what to run."""
    url = make_url(config.settings.database.url)
    shown = url.database if url.get_backend_name() == "sqlite" else url.render_as_string()
    sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if not migrate_schema and sqlite_file and not Path(str(url.database)).exists():
        _database_error(config, f"no database file {shown}")
    engine = make_engine(config.settings.database.url)
    if migrate_schema:
        migrate(engine)
    elif not schema_is_current(engine):
        _database_error(config, f"the schema of {shown} is not current")
    return engine


def _database_error(config: Config, what: str) -> NoReturn:
    """`what` is wrong with the database: where its URL is set and what to run."""
    command = click.get_current_context().info_name
    advice = "run `leal db upgrade` (then `leal import DIR` for the shop's data)"
    demo = DEMO_DIR / "settings.toml"
    if demo.exists() and config.path != demo:
        advice += f"; to use the demo shop: leal --settings {demo} {command}"
    location = ("database", "url")
    raise click.ClickException(str(config.problem(location, f"database.url: {what}: {advice}")))


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
    problems = check_config(config) + delivery_problems(config)
    if config.path is None:  # the defaults have no campaign: "OK" would hide a wrong folder
        message = "not found here; give --settings PATH or set LEAL_SETTINGS"
        problems.insert(0, Problem(str(DEFAULT_FILE), None, message))
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        ctx.exit(1)
    campaigns = len(config.settings.campaigns)
    click.echo(f"{config.path or '<defaults>'}: OK ({campaigns} campaigns)")
    real = real_channels(config)
    if real:
        click.echo(f"delivery: ready for {' and '.join(real)}")
    else:
        folder = config.beside(config.settings.delivery.folder)
        click.echo(f"delivery: messages are written to {folder}; nothing leaves this machine")


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
    if result.committed:
        refresh_statistics(engine)
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
@click.option(
    "--no-deliver", is_flag=True, help="Write the plan only; `leal send` or workers deliver it."
)
@click.option("--timings", is_flag=True, help="Time and peak memory of each phase, on stderr.")
@click.pass_context
def run(
    ctx: click.Context,
    day: str | None,
    at: str | None,
    campaigns: tuple[str, ...],
    dry_run: bool,
    diff: bool,
    fmt: str,
    no_deliver: bool,
    timings: bool,
) -> None:
    """Evaluate the campaigns and write planned messages to the outbox ledger."""
    if diff and not dry_run:
        raise click.UsageError("--diff goes with --dry-run")
    clock = Timings() if timings else None
    with maybe(clock, "settings"):
        config = _config(ctx)
        engine = _engine(config, migrate_schema=False)
    signer = None  # refused before the plan is written: a run that cannot deliver stops here
    if not dry_run and not no_deliver:
        here = not config.settings.workers.broker_url
        signer = cli_delivery.ready_to_deliver(ctx, config, here=here)
    try:
        instant = run_instant(config, at, day)
        result = daily_run(engine, config, instant, only=campaigns, dry_run=dry_run, timings=clock)
    except (RunInstantError, PlanError) as error:
        raise click.UsageError(str(error)) from None
    with maybe(clock, "output"):
        _show_run(result, config, engine, fmt, diff)
    if not dry_run and not no_deliver:
        with maybe(clock, "deliver"):
            cli_delivery.deliver(ctx, engine, config, signer)
    if clock is not None:
        clock.write(sys.stderr)


def _show_run(result: RunResult, config: Config, engine: Engine, fmt: str, diff: bool) -> None:
    if fmt == "jsonl":
        report.write_jsonl(result.plan, sys.stdout)
        return
    console = Console(highlight=False)
    report.print_plan(result, config, console)
    if diff:
        with engine.connect() as connection:
            report.print_diff(connection, result.plan, console)


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
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve one-click unsubscribe and Twilio's webhooks (FastAPI on uvicorn)."""
    import os

    import uvicorn

    from workers.web import create_app, route_status

    config = _config(ctx)
    routes = route_status(config, os.environ)
    for group in routes:  # a route whose secret is missing answers 503: say so up front
        click.echo(f"{'on ' if group.on else 'off'}  {group.paths}  {group.why}")
    if not any(group.on for group in routes):
        raise click.ClickException("nothing to serve: every route is off (see above)")
    app = create_app(config, _engine(config, migrate_schema=False))
    # The access log stays on: create_app redacts tokens and query strings from it.
    uvicorn.run(app, host=host, port=port, server_header=False)


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
    default=DEMO_DIR,
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


for _command in cli_delivery.COMMANDS:  # send, recover, status, resume, requeue
    main.add_command(_command)

main.add_command(customer)
main.add_command(report_command)
main.add_command(surveys)


if __name__ == "__main__":
    main()
