"""`leal demo`: a synthetic shop, imported and run today, on its own SQLite file."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from campaigns.config import DatabaseSettings
from campaigns.daily import RunResult, daily_run, run_instant
from campaigns.loader import Config
from campaigns.preview import PreviewError, make_preview
from campaigns.report import print_delivery, print_import, print_plan
from shop.db import make_engine, migrate
from shop.demo import write_demo_shop
from shop.importer import import_dir
from templates.render import RenderSkipError
from templates.unsubscribe import Signer
from workers.run import deliver_due

# The settings shipped beside the packages (a checkout or an editable install): their
# campaigns make the demo's messages wherever `leal demo` is run from.
EXAMPLE_SETTINGS = Path(__file__).resolve().parents[1] / "settings.toml"


def run_demo(
    config: Config, directory: Path, *, customers: int, seed: int, console: Console
) -> None:
    """Replace `directory` with a fresh demo shop and run today's daily run on it.

    The demo never touches the configured database: it gets `directory/leal.db`.
    """
    directory = directory.resolve()  # from here, not from the settings file's folder
    if directory.exists():
        shutil.rmtree(directory)
    data = directory / "data"
    data.mkdir(parents=True)
    database = DatabaseSettings(url=f"sqlite:///{directory / 'leal.db'}")
    delivery = config.settings.delivery.model_copy(update={"folder": directory / "outbox"})
    settings = config.settings.model_copy(update={"database": database, "delivery": delivery})
    config = dataclasses.replace(config, settings=settings)
    at = run_instant(config)

    console.print(f"[bold]Demo shop[/bold] {customers} customers, seed {seed}, in {directory}")
    write_demo_shop(data, at=at, tz=settings.shop.tz, customers=customers, seed=seed)
    engine = make_engine(database.url)
    migrate(engine)
    print_import(
        import_dir(engine, data, settings, on=at.astimezone(settings.shop.tz).date()), console
    )
    result = daily_run(engine, config, at)
    print_plan(result, config, console)
    _write_previews(engine, config, result, directory / "previews", console)
    tally = deliver_due(engine, config, signer=Signer.from_env(ephemeral_ok=True))
    console.print(f"Delivered to {delivery.folder}:")
    print_delivery(tally, console)
    console.print(
        f"See every message: LEAL_DATABASE__URL={database.url} leal run --dry-run --format jsonl",
        soft_wrap=True,
    )


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
