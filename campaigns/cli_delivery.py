"""The `leal` commands that deliver or look after delivery: send, recover, status, resume,
requeue, and the delivery that follows `leal run`.

Exit codes tell on-call the truth: 0 when the messages went (or have somewhere to go), 1 when
nothing will deliver them without someone acting: settings or secrets that would make broken
links, a broker nobody listens to, rows a pause holds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import click
from rich.console import Console
from sqlalchemy import Connection, select

from campaigns import report
from campaigns.loader import Config
from shop.db import writer
from shop.models import OutboxMessage

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from templates.unsubscribe import Signer

PING_SECONDS = 1.0  # how long `leal run` waits for a worker to answer


def _loaded(ctx: click.Context) -> tuple[Config, Engine]:
    from campaigns.cli import _config, _engine  # the CLI's own loaders (it imports this module)

    config = _config(ctx)
    return config, _engine(config, migrate_schema=False)


def ready_to_deliver(ctx: click.Context, config: Config, *, here: bool) -> Signer | None:
    """Refuse (exit 1, nothing delivered) what would send links that cannot work; the signer
    when the messages are composed in this process."""
    from campaigns.readiness import delivery_problems
    from templates.unsubscribe import MissingSecretError, Signer

    problems = delivery_problems(config)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo("Nothing was delivered: fix the settings above (`leal check`).", err=True)
        ctx.exit(1)
    if not here:
        return None
    try:
        return Signer.from_env()
    except MissingSecretError as error:
        click.echo(f"Error: {error}. Nothing was delivered.", err=True)
        ctx.exit(1)
        raise  # unreachable: ctx.exit raises


def deliver(ctx: click.Context, engine: Engine, config: Config, signer: Signer | None) -> None:
    """After `leal run` or `leal recover`: ring the workers, or deliver here without a broker."""
    console = Console(highlight=False)
    if config.settings.workers.broker_url:
        if not _ring_workers(config, console):
            ctx.exit(1)
        return
    _deliver_here(ctx, engine, config, console, None, signer)


def _deliver_here(
    ctx: click.Context,
    engine: Engine,
    config: Config,
    console: Console,
    limit: int | None,
    signer: Signer | None,
) -> None:
    from rich.progress import Progress

    from workers import channel_health
    from workers.run import deliver_due

    with engine.connect() as connection:
        due = len(channel_health.due_ids(connection, datetime.now(UTC), limit or 10_000_000))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Delivering", total=due)
        advance: Callable[[int], None] = lambda n: progress.advance(task, n)  # noqa: E731
        tally = deliver_due(engine, config, limit=limit, signer=signer, progress=advance)
    report.print_delivery(tally, console)
    with engine.connect() as connection:
        report.print_pauses(connection, console)
        held = report.print_waiting(connection, datetime.now(UTC), console)
    if held:  # nothing delivers them until a probe answers or someone resumes
        console.print(f"{held} messages are held by a pause (above).")
        ctx.exit(1)


def _ring_workers(config: Config, console: Console) -> bool:
    """Tell the workers there is work; False when no worker will hear it."""
    from kombu.exceptions import OperationalError

    from workers.celery_config import make_app

    app = make_app(config)
    try:
        app.send_task("leal.dispatch", retry=False)
        answers = app.control.ping(timeout=PING_SECONDS)
    except OperationalError as error:
        console.print(
            f"The broker is unreachable ({type(error).__name__}): the messages wait in the "
            "ledger until it is back (leal.recover on beat dispatches them), or deliver them "
            "here with `leal send`.",
            markup=False,
            soft_wrap=True,
        )
        return False
    if not answers:
        console.print(
            f"No worker answered within {PING_SECONDS:g} s: the messages wait in the ledger "
            "(and the dispatch on the broker) until a `leal worker` runs, or deliver them "
            "here with `leal send`.",
            markup=False,
            soft_wrap=True,
        )
        return False
    console.print(f"Dispatched to the workers ({len(answers)} answered).")
    return True


@click.command()
@click.option("--limit", type=int, default=None, help="Deliver at most this many rows.")
@click.pass_context
def send(ctx: click.Context, limit: int | None) -> None:
    """Deliver the outbox rows that are due, through the configured channel, here."""
    config, engine = _loaded(ctx)
    signer = ready_to_deliver(ctx, config, here=True)
    _deliver_here(ctx, engine, config, Console(highlight=False), limit, signer)


@click.command()
@click.pass_context
def recover(ctx: click.Context) -> None:
    """What beat's leal.recover does, now: rows of dead workers back, paused channels
    probed, then the due rows delivered (by the workers, or here without a broker)."""
    from workers import channel_health
    from workers.channels import close_channel, make_channel
    from workers.run import release_lost

    config, engine = _loaded(ctx)
    signer = ready_to_deliver(ctx, config, here=not config.settings.workers.broker_url)
    console = Console(highlight=False)
    now = datetime.now(UTC)
    console.print(f"{release_lost(engine, config, now)} rows of lost workers given back.")
    channel = make_channel(config)
    try:
        for probed in channel_health.probe_due(engine, channel, now, force=True):
            state = "answers: resumed" if probed.resumed else f"still down: {probed.problem}"
            console.print(f"The {probed.channel} channel {state}", markup=False, soft_wrap=True)
    finally:
        close_channel(channel)
    deliver(ctx, engine, config, signer)


@click.command()
@click.option("--date", "day", help="Only rows planned for this date (YYYY-MM-DD).")
@click.pass_context
def status(ctx: click.Context, day: str | None) -> None:
    """The outbox ledger by campaign and state (and reason, with its first detail), pauses,
    and what waits until when."""
    _, engine = _loaded(ctx)
    run_date = _date(day)
    console = Console(highlight=False)
    with engine.connect() as connection:
        report.print_status(connection, run_date, console)
        report.print_waiting(connection, datetime.now(UTC), console)


@click.command()
@click.argument("campaign")
@click.pass_context
def resume(ctx: click.Context, campaign: str) -> None:
    """Resume the delivery of a campaign that paused itself after provider failures."""
    from workers.ledger import resume as resume_campaign

    config, engine = _loaded(ctx)
    with writer(engine).begin() as connection:
        _known_campaign(connection, config, campaign)
        resumed = resume_campaign(connection, campaign)
    click.echo(f"{campaign}: resumed" if resumed else f"{campaign} was not paused")


@click.command()
@click.argument("campaign")
@click.option("--reason", required=True, help="The skip or failure reason, e.g. render.")
@click.option("--status", "state", type=click.Choice(["skipped", "failed"]), default=None,
              help="Only rows in this state (default: both).")  # fmt: skip
@click.option("--date", "day", help="Only rows planned for this date (YYYY-MM-DD).")
@click.pass_context
def requeue(
    ctx: click.Context, campaign: str, reason: str, state: str | None, day: str | None
) -> None:
    """Queue CAMPAIGN's skipped or failed rows with REASON again, after a fix (a template
    that failed to render): each still goes out once, and send-time checks apply."""
    from workers.run import REQUEUEABLE
    from workers.run import requeue as requeue_rows

    config, engine = _loaded(ctx)
    run_date = _date(day)
    with writer(engine).begin() as connection:
        _known_campaign(connection, config, campaign)
        try:
            count = requeue_rows(connection, campaign, reason, datetime.now(UTC),
                                 statuses=(state,) if state else REQUEUEABLE,
                                 run_date=run_date)  # fmt: skip
        except ValueError as error:
            raise click.UsageError(str(error)) from None
    if not count:
        click.echo(f"{campaign}: no {state or 'skipped or failed'} rows with reason {reason}")
        return
    click.echo(f"{campaign}: {count} rows queued again; the next delivery pass sends them "
               "(`leal send`, or the workers)")  # fmt: skip


def _date(day: str | None) -> date | None:
    try:
        return date.fromisoformat(day) if day else None
    except ValueError:
        raise click.UsageError(f"--date {day!r} is not a date (YYYY-MM-DD)") from None


def _known_campaign(connection: Connection, config: Config, campaign: str) -> None:
    """A typo is an error, not a quiet "nothing to do": the campaign must be configured or
    have rows in the ledger."""
    if campaign in config.settings.campaigns:
        return
    known = select(OutboxMessage.id).where(OutboxMessage.campaign == campaign).limit(1)
    if connection.scalar(known) is None:
        names = ", ".join(sorted(config.settings.campaigns)) or "none"
        raise click.UsageError(f"no campaign named {campaign} (configured: {names})")


COMMANDS = (send, recover, status, resume, requeue)
