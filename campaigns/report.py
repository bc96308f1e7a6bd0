"""What the operator sees: plan summaries, diffs and import reports."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection, case, func, select

from campaigns.holdout import GLOBAL_HOLDOUT, HOLDOUT
from campaigns.plan import PLANNED, Plan
from shop.models import CampaignPause, ChannelPause, OutboxMessage

WAITING = ("queued", "retry", "sending")
_HELD_OUT = (HOLDOUT, GLOBAL_HOLDOUT)
_JSONL_CHUNK = 4096

if TYPE_CHECKING:
    from campaigns.daily import RunResult
    from campaigns.loader import Config
    from campaigns.preview import Preview
    from shop.importer import ImportReport


def write_jsonl(plan: Plan, out: TextIO) -> None:
    """One JSON object per message, written a few thousand lines at a time."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    messages = plan.messages
    for start in range(0, len(messages), _JSONL_CHUNK):
        chunk = messages[start : start + _JSONL_CHUNK]
        out.write("".join(encode(message.as_json()) + "\n" for message in chunk))


def print_plan(result: RunResult, config: Config, console: Console) -> None:
    """One row per campaign with its counts, then each campaign's skip reasons on a line of
    their own, whole and unwrapped (the terminal folds them): a table cell would cut or
    break them when long campaign names leave it no room. A console too narrow for the
    table's numbers gets one line per campaign instead."""
    plan = result.plan
    tz = config.settings.shop.tz
    local = plan.run.at.astimezone(tz)
    mode = "dry run, nothing written" if result.run_id is None else f"run #{result.run_id}"
    console.print(f"[bold]Daily run[/bold] {local:%Y-%m-%d %H:%M} {tz.key} ({mode})")
    counts = plan.counts()
    moments = Counter(campaign for campaign, _, _ in {m.moment for m in plan.messages})
    rows: list[_PlanRow] = []
    for name, campaign in config.settings.campaigns.items():
        if name not in counts and not campaign.enabled:
            continue
        tally = counts.get(name, Counter())
        skipped = [(r, n) for r, n in sorted(tally.items()) if r != PLANNED and r not in _HELD_OUT]
        numbers = (
            moments[name],
            tally.get(PLANNED, 0),
            sum(n for r, n in tally.items() if r in _HELD_OUT),
            sum(n for _, n in skipped),
        )
        rows.append(_PlanRow(name, campaign.trigger, "+".join(campaign.channels), numbers, skipped))
    _print_plan_rows(rows, console)
    reasons = [row for row in rows if row.skipped]
    if reasons:
        console.print("Skipped, by reason:")
    for row in reasons:
        why = ", ".join(f"{reason} {n}" for reason, n in row.skipped)
        console.print(f"  {row.name}: {why}", markup=False, soft_wrap=True, highlight=False)
    if result.expired_lots:
        console.print(f"Expired {result.expired_lots} unspent point lots.")
    if result.coupons:
        console.print(f"{result.coupons} coupons held by this run's moments.")


@dataclass(frozen=True)
class _PlanRow:
    name: str
    trigger: str
    channels: str
    numbers: tuple[int, int, int, int]  # moments, planned, held out, skipped
    skipped: list[tuple[str, int]]  # (reason, count), by reason


_TEXTS = ("Campaign", "Channels")  # their text folds, down to the header's width
_NUMBERS = ("Moments", "Planned", "Held out", "Skipped")  # never cut


def _print_plan_rows(rows: list[_PlanRow], console: Console) -> None:
    """The table when its numbers fit whole (names and channels fold), else plain lines."""
    digits = [
        max([len(header), *(len(str(row.numbers[i])) for row in rows)])
        for i, header in enumerate(_NUMBERS)
    ]
    widths = [*map(len, _TEXTS), *digits]
    needed = sum(width + 2 for width in widths) + len(widths) + 1  # padding, borders
    if console.width < needed:
        for row in rows:
            pairs = zip(_NUMBERS, row.numbers, strict=True)
            counts = ", ".join(f"{header.lower()} {n}" for header, n in pairs)
            line = f"{row.name} ({row.trigger}, {row.channels}): {counts}"
            console.print(line, markup=False, soft_wrap=True, highlight=False)
        return
    table = Table(show_lines=False)
    for header in _TEXTS:
        table.add_column(header, overflow="fold", min_width=len(header))
    for header, width in zip(_NUMBERS, digits, strict=True):
        table.add_column(header, justify="right", no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(
            f"{escape(row.name)}\n[dim]{escape(row.trigger)}[/dim]",  # its trigger below
            row.channels,
            *map(str, row.numbers),
        )
    console.print(table)


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
    added: list[tuple[str, ...]] = sorted(m.key for m in plan.recorded)
    gone = sorted(in_ledger - produced)
    for key in added:
        console.print(f"[green]+ {' '.join(key)}[/green]", markup=True)
    for key in gone:
        console.print(f"[red]- {' '.join(key)}[/red]", markup=True)
    console.print(f"{len(added)} to add, {len(gone)} in the ledger but no longer planned")


def print_import(result: ImportReport, console: Console) -> None:
    table = Table()
    for header in ("File", "Rows", "Imported", "Bad", "Seconds"):
        table.add_column(header, justify="left" if header == "File" else "right")
    for file in result.files:
        numbers = (file.rows, file.imported, file.bad)
        table.add_row(file.name, *map(str, numbers), f"{file.seconds:.1f}")
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
    if result.phases:
        phases = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in result.phases.items())
        console.print(f"after the files: {phases}")


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
    """Pauses, then rows per campaign, channel, state and reason (an operator's first look),
    with the first detail of each reason: what the provider or the renderer said."""
    print_pauses(connection, console)
    first = func.min(OutboxMessage.id)
    query = select(
        OutboxMessage.campaign,
        OutboxMessage.channel,
        OutboxMessage.status,
        OutboxMessage.reason,
        func.count(),
        first,
    ).group_by(OutboxMessage.campaign, OutboxMessage.channel, OutboxMessage.status,
               OutboxMessage.reason)  # fmt: skip
    if run_date is not None:
        query = query.where(OutboxMessage.run_date == run_date)
    rows = sorted(connection.execute(query).all(), key=lambda r: tuple(str(v) for v in r[:4]))
    if not rows:
        console.print("The outbox is empty.")
        return
    table = Table()
    for header in ("Campaign", "Channel", "State", "Reason", "Messages"):
        table.add_column(header, justify="right" if header == "Messages" else "left")
    for campaign, channel, state, reason, count, _ in rows:
        table.add_row(campaign, channel, state, reason or "-", str(count))
    console.print(table)
    firsts = [(c, ch, st, why, first) for c, ch, st, why, _, first in rows if why]
    _print_first_details(connection, firsts, console)


def _print_first_details(
    connection: Connection, groups: list[tuple[str, str, str, str, int]], console: Console
) -> None:
    """One line per reason: its first row's detail, whole and unwrapped (grep-able)."""
    ids = [group[-1] for group in groups]
    details = dict(
        connection.execute(
            select(OutboxMessage.id, OutboxMessage.detail).where(OutboxMessage.id.in_(ids))
        ).all()
    )
    for campaign, channel, state, reason, first in groups:
        if details.get(first):
            line = (
                f"{campaign} {channel} {state} {reason}, first (outbox {first}): {details[first]}"
            )
            console.print(line, markup=False, soft_wrap=True, highlight=False)


def print_pauses(connection: Connection, console: Console) -> None:
    for paused, paused_at, why in connection.execute(
        select(CampaignPause.campaign, CampaignPause.paused_at, CampaignPause.reason)
    ):
        console.print(
            f"[bold red]{paused} is paused[/bold red] since {paused_at:%Y-%m-%d %H:%M} UTC: "
            f"{why} (leal resume {paused})",
            soft_wrap=True,
        )
    for pause in connection.execute(select(*ChannelPause.__table__.columns)):
        probes = (
            f"{pause.probes} failed probes, the last: {pause.last_probe}; " if pause.probes else ""
        )
        console.print(
            f"[bold red]The {pause.channel} channel is paused[/bold red] since "
            f"{pause.paused_at:%Y-%m-%d %H:%M} UTC: {pause.reason}; {probes}next probe at "
            f"{pause.next_probe_at:%Y-%m-%d %H:%M} UTC or later (any delivery pass, "
            "`leal recover` now); it resumes by itself once the provider answers.",
            soft_wrap=True,
        )


@dataclass
class _Wait:
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, count: int, first: datetime | None, last: datetime | None) -> None:
        self.count += count
        self.first = min(filter(None, (self.first, first)), default=None)
        self.last = max(filter(None, (self.last, last)), default=None)


def print_waiting(connection: Connection, now: datetime, console: Console) -> int:
    """What waits in the ledger, why and until when; returns how many rows a pause holds."""
    later = case((OutboxMessage.due_at > now, OutboxMessage.due_at))
    query = (
        select(
            OutboxMessage.status,
            OutboxMessage.campaign,
            OutboxMessage.channel,
            func.count(),
            func.sum(case((OutboxMessage.due_at <= now, 1), else_=0)),
            func.min(later),
            func.max(later),
        )
        .where(OutboxMessage.status.in_(WAITING))
        .group_by(OutboxMessage.status, OutboxMessage.campaign, OutboxMessage.channel)
    )
    held_campaigns = set(connection.scalars(select(CampaignPause.campaign)))
    held_channels = set(connection.scalars(select(ChannelPause.channel)))
    waits: defaultdict[tuple[str, str], _Wait] = defaultdict(_Wait)
    for status, campaign, channel, count, due_now, first, last in connection.execute(query):
        held = (
            "a worker holding them" if status == "sending"
            else f"campaign {campaign} paused" if campaign in held_campaigns
            else f"channel {channel} paused" if channel in held_channels
            else None
        )  # fmt: skip
        if held:
            waits[(status, held)].add(count, None, None)
            continue
        due_now = int(due_now or 0)
        if due_now:
            waits[(status, "a delivery pass (due now)")].add(due_now, None, None)
        if count > due_now:
            waits[(status, "their time")].add(count - due_now, first, last)
    return _print_waits(waits, console)


def _print_waits(waits: dict[tuple[str, str], _Wait], console: Console) -> int:
    if not waits:
        console.print("Nothing waits in the ledger.")
        return 0
    table = Table(title="Waiting in the ledger")
    for header in ("State", "Waiting for", "Messages", "Next", "Last"):
        table.add_column(header, justify="right" if header == "Messages" else "left")
    for (state, why), wait in sorted(waits.items()):
        table.add_row(state, why, str(wait.count), _utc(wait.first), _utc(wait.last))
    console.print(table)
    return sum(wait.count for (_, why), wait in waits.items() if why.endswith(" paused"))


def _utc(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "-"
