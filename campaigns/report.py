"""What the operator sees: plan summaries, diffs and import reports."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, func, select

from campaigns.plan import PLANNED, Plan
from shop.models import CampaignPause, OutboxMessage

if TYPE_CHECKING:
    from campaigns.daily import RunResult
    from campaigns.loader import Config
    from campaigns.preview import Preview
    from shop.importer import ImportReport


def print_plan(result: RunResult, config: Config, console: Console) -> None:
    plan = result.plan
    tz = config.settings.shop.tz
    local = plan.run.at.astimezone(tz)
    mode = "dry run, nothing written" if result.run_id is None else f"run #{result.run_id}"
    console.print(f"[bold]Daily run[/bold] {local:%Y-%m-%d %H:%M} {tz.key} ({mode})")
    table = Table(show_lines=False)
    for header in ("Campaign", "Trigger", "Channels", "Moments", "Planned", "Skipped"):
        numeric = header in ("Moments", "Planned")
        table.add_column(
            header,
            justify="right" if numeric else "left",
            no_wrap=header in ("Campaign", "Trigger"),
            min_width=len(header),
        )
    counts = plan.counts()
    for name, campaign in config.settings.campaigns.items():
        if name not in counts and not campaign.enabled:
            continue
        moments = {(m.customer_id, m.occasion) for m in plan.messages if m.campaign == name}
        tally = counts.get(name, Counter())
        skipped = "\n".join(f"{r} {n}" for r, n in sorted(tally.items()) if r != PLANNED)
        table.add_row(
            name,
            campaign.trigger,
            "+".join(campaign.channels),
            str(len(moments)),
            str(tally.get(PLANNED, 0)),
            skipped or "-",
        )
    console.print(table)
    if result.expired_lots:
        console.print(f"Expired {result.expired_lots} unspent point lots.")
    if result.coupons:
        console.print(f"{result.coupons} coupons held by this run's moments.")


def print_diff(connection: Connection, plan: Plan, console: Console) -> None:
    """+ what this plan would add to the ledger, - what the ledger holds for the date
    that this plan no longer produces (a changed campaign, a customer who opted out)."""
    in_ledger: set[tuple[str, ...]] = {
        tuple(row)
        for row in connection.execute(
            select(
                OutboxMessage.campaign,
                OutboxMessage.customer_id,
                OutboxMessage.channel,
                OutboxMessage.occasion,
            ).where(OutboxMessage.run_date == plan.run.run_date)
        )
    }
    produced = {m.key for m in plan.messages}
    added: list[tuple[str, ...]] = sorted(m.key for m in plan.planned)
    gone = sorted(in_ledger - produced)
    for key in added:
        console.print(f"[green]+ {' '.join(key)}[/green]", markup=True)
    for key in gone:
        console.print(f"[red]- {' '.join(key)}[/red]", markup=True)
    console.print(f"{len(added)} to add, {len(gone)} in the ledger but no longer planned")


def print_import(result: ImportReport, console: Console) -> None:
    table = Table()
    for header in ("File", "Rows", "Imported", "Bad"):
        table.add_column(header, justify="left" if header == "File" else "right")
    for file in result.files:
        table.add_row(file.name, str(file.rows), str(file.imported), str(file.bad))
    console.print(table)
    for warning in result.warnings:  # soft_wrap: a file:line never breaks across lines
        console.print(f"warning: {warning}", markup=False, soft_wrap=True)
    for problem in result.problems:
        console.print(problem, markup=False, soft_wrap=True)
    if not result.committed:
        console.print("Nothing was written (--strict and bad rows).")
    rows = sum(file.rows for file in result.files)
    rate = rows / result.seconds if result.seconds else 0
    console.print(f"{rows} rows in {result.seconds:.1f} s ({rate:,.0f} rows/s)")


def print_preview(preview: Preview, campaign: str, out: Path | None, console: Console) -> None:
    console.print(f"[bold]{campaign}[/bold] for {preview.customer_id} ({preview.occasion})")
    if preview.email is not None:
        email = preview.email
        path = out or Path("var") / "preview" / f"{campaign}-{preview.customer_id}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(email.html, encoding="utf-8")
        console.print(f"[bold]Subject[/bold] ({email.locale}): {email.subject}", markup=True)
        console.print(f"[bold]HTML[/bold]: {path} ({len(email.html):,} bytes)", markup=True)
        console.rule("text part")
        console.print(email.text, markup=False, soft_wrap=True)
    if preview.sms is not None:
        sms = preview.sms
        console.rule(
            f"SMS ({sms.locale}): {sms.parts.segments} segment(s), {sms.parts.encoding}, "
            f"{sms.parts.characters} characters"
        )
        console.print(sms.text, markup=False, soft_wrap=True)


def print_delivery(tally: Counter[str], console: Console) -> None:
    """What one delivery pass did: sent, deferred, skipped and failed, by reason."""
    if not tally:
        console.print("Nothing was due.")
        return
    table = Table()
    table.add_column("Outcome")
    table.add_column("Reason")
    table.add_column("Messages", justify="right")
    for key, count in sorted(tally.items()):
        status, _, reason = key.partition(":")
        table.add_row(status, reason or "-", str(count))
    console.print(table)


def print_status(connection: Connection, run_date: date | None, console: Console) -> None:
    """Rows per campaign, channel, state and reason (an operator's first look)."""
    query = select(
        OutboxMessage.campaign,
        OutboxMessage.channel,
        OutboxMessage.status,
        OutboxMessage.reason,
        func.count(),
    ).group_by(OutboxMessage.campaign, OutboxMessage.channel, OutboxMessage.status,
               OutboxMessage.reason)  # fmt: skip
    if run_date is not None:
        query = query.where(OutboxMessage.run_date == run_date)
    rows = sorted(connection.execute(query).all(), key=lambda r: tuple(str(v) for v in r))
    for paused, paused_at, why in connection.execute(
        select(CampaignPause.campaign, CampaignPause.paused_at, CampaignPause.reason)
    ):
        console.print(
            f"[bold red]{paused} is paused[/bold red] since {paused_at:%Y-%m-%d %H:%M} UTC: "
            f"{why} (leal resume {paused})",
            soft_wrap=True,
        )
    if not rows:
        console.print("The outbox is empty.")
        return
    table = Table()
    for header in ("Campaign", "Channel", "State", "Reason", "Messages"):
        table.add_column(header, justify="right" if header == "Messages" else "left")
    for campaign, channel, state, reason, count in rows:
        table.add_row(campaign, channel, state, reason or "-", str(count))
    console.print(table)
