"""`leal demo`: a synthetic shop, imported, its past four weeks of runs simulated with a
known effect (campaigns.demo_story), run today and reported on, on its own SQLite file, with
its own settings file beside it so that every other command can be pointed at it."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomli_w
from rich.console import Console
from sqlalchemy import Engine

from campaigns.config import DatabaseSettings, Settings
from campaigns.daily import RunResult, daily_run, run_instant
from campaigns.demo_story import STORY_DAYS, Truth, run_past_days, simulate_answers
from campaigns.demo_surveys import answer_surveys
from campaigns.loader import Config
from campaigns.preview import PreviewError, make_preview
from campaigns.report import print_delivery, print_import, print_plan
from shop.db import make_engine, migrate
from shop.demo import ACTIONS, write_demo_shop
from shop.importer import import_dir
from templates.render import RenderSkipError
from templates.unsubscribe import Signer
from workers.run import deliver_due

# The settings shipped beside the packages (a checkout or an editable install): their
# campaigns make the demo's messages wherever `leal demo` is run from.
EXAMPLE_SETTINGS = Path(__file__).resolve().parents[1] / "settings.toml"


def run_demo(
    config: Config, directory: Path, *, customers: int, seed: int, console: Console,
    at: datetime | None = None,
) -> None:  # fmt: skip
    """Replace `directory` with a fresh demo shop and run today's daily run on it.

    The demo never touches the configured database: it gets `directory/leal.db`; and it
    never sends: its messages go to files in `directory/outbox`, whatever [delivery] says.
    """
    shown = _shown(directory)
    directory = directory.resolve()  # from here, not from the settings file's folder
    if directory.exists():
        shutil.rmtree(directory)
    data = directory / "data"
    data.mkdir(parents=True)
    database = DatabaseSettings(url=f"sqlite:///{directory / 'leal.db'}")
    delivery = config.settings.delivery.model_copy(
        update={"email": "file", "sms": "file", "folder": directory / "outbox"}
    )
    settings = config.settings.model_copy(update={"database": database, "delivery": delivery})
    settings_file = write_demo_settings(config, settings, directory / "settings.toml")
    config = dataclasses.replace(config, settings=settings)
    at = at or run_instant(config)

    console.print(f"[bold]Demo shop[/bold] {customers} customers, seed {seed}, in {directory}")
    actions = tuple(action for action in ACTIONS if action in settings.loyalty.actions)
    write_demo_shop(
        data, at=at, tz=settings.shop.tz, customers=customers, seed=seed, actions=actions
    )
    engine = make_engine(database.url)
    migrate(engine)
    # As of the run instant: what the files say happened (an order cancelled) is learned
    # then, whatever the clock says, so the same seed gives the same demo.
    on = at.astimezone(settings.shop.tz).date()
    print_import(import_dir(engine, data, settings, on=on, at=at), console)
    run_past_days(engine, config, at)
    truth = simulate_answers(engine, config, at, data / "answers", seed)
    answer_surveys(engine, config, at, seed)
    result = daily_run(engine, config, at)
    print_plan(result, config, console)
    _write_previews(engine, config, result, directory / "previews", console)
    # Delivered as of the run instant when that is still ahead (a demo run before today's
    # `daily_at`): otherwise nothing it planned would be due yet, and the demo showed none.
    tally = deliver_due(engine, config, signer=Signer.from_env(ephemeral_ok=True),
                        clock=lambda: max(datetime.now(UTC), at))  # fmt: skip
    console.print(f"Delivered to {delivery.folder}:")
    print_delivery(tally, console)
    _report(engine, config, at, truth, directory / "report.html", console)
    _print_next_steps(shown / settings_file.name, result, console)


def _report(
    engine: Engine, config: Config, at: datetime, truth: Truth, path: Path, console: Console
) -> None:
    """The report of the story's weeks, beside the effect each campaign really had."""
    from reports.build import build_report
    from reports.render_html import render_html
    from reports.render_text import print_report

    today = at.astimezone(config.settings.shop.tz).date()
    with engine.connect() as connection:
        data = build_report(connection, config, today - timedelta(days=STORY_DAYS), today)
    print_report(data, console)
    console.print("What the story really caused, beside what the report measured:")
    for campaign in data["campaigns"]:
        effect = truth.effect(campaign["name"])
        uplift = campaign["conversion_uplift"]
        if effect is None or uplift["ci95"] is None:
            continue
        low, high = uplift["ci95"]
        inside = "inside" if low <= effect <= high else "outside"
        console.print(
            f"  {campaign['name']}: caused {effect * 100:+.1f} pp; measured "
            f"{uplift['estimate'] * 100:+.1f} pp, 95 % interval {low * 100:+.1f} to "
            f"{high * 100:+.1f} pp ({inside})",
            markup=False,
            soft_wrap=True,
        )
    path.write_text(render_html(data), encoding="utf-8")
    console.print(f"Report: {path}", markup=False, soft_wrap=True)


def write_demo_settings(config: Config, settings: Settings, path: Path) -> Path:
    """The demo's settings as a file: the source's, with the demo's database and file
    delivery, and its paths made absolute (they were relative to the source's folder)."""
    data = settings.model_dump(exclude_defaults=True, exclude_none=True)
    files = {"email": "file", "sms": "file", "folder": "outbox"}  # beside the file
    data["delivery"] = data.get("delivery", {}) | files
    if settings.templates.dir is not None:
        data["templates"] = {"dir": str(config.templates_dir.resolve())}
    if settings.smtp.ca_file is not None:
        data["smtp"]["ca_file"] = str(config.beside(settings.smtp.ca_file).resolve())
    source = config.path.resolve() if config.path else "the defaults"
    header = (
        f"# Written by `leal demo` from {source}: the same settings, with the demo shop's\n"
        "# database and every message written to files. Re-running `leal demo` replaces it.\n\n"
    )
    path.write_text(header + tomli_w.dumps(_plain(data)), encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    """Paths as strings: TOML has no path type."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def _shown(directory: Path) -> Path:
    """`directory` as the user should type it: relative when it is under the working one."""
    try:
        return directory.resolve().relative_to(Path.cwd())
    except ValueError:
        return directory.resolve()


def _print_next_steps(settings_file: Path, result: RunResult, console: Console) -> None:
    campaign = next((m.campaign for m in result.plan.planned), None)
    commands = ["run --dry-run", "status", "report"]
    if campaign:
        commands.insert(1, f"preview {campaign}")
    console.print(f"Next, on the demo shop (or export LEAL_SETTINGS={settings_file}):")
    for command in commands:
        console.print(f"  leal --settings {settings_file} {command}", markup=False, soft_wrap=True)


def _write_previews(
    engine: Engine, config: Config, result: RunResult, folder: Path, console: Console
) -> None:
    """One email per campaign, as its first planned customer would get it."""
    folder.mkdir(parents=True, exist_ok=True)
    firsts: dict[str, str] = {}
    for message in result.plan.planned:
        firsts.setdefault(message.campaign, message.customer_id)
    with engine.connect() as connection:
        for campaign, customer_id in sorted(firsts.items()):
            try:
                shown = make_preview(
                    connection, config, campaign, result.plan.run.at, customer_id, ["email"]
                )
            except (PreviewError, RenderSkipError) as error:
                console.print(f"{campaign}: no preview ({error})", markup=False)
                continue
            if shown.email is not None:
                path = folder / f"{campaign}-{customer_id}.html"
                path.write_text(shown.email.html, encoding="utf-8")
                console.print(
                    f"{campaign}: {shown.email.subject!r} -> {path}", markup=False, soft_wrap=True
                )
