"""`leal demo`: a synthetic shop, imported and run today, on its own SQLite file."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from rich.console import Console

from campaigns.config import DatabaseSettings
from campaigns.daily import daily_run, run_instant
from campaigns.loader import Config
from campaigns.report import print_import, print_plan
from shop.db import make_engine, migrate
from shop.demo import write_demo_shop
from shop.importer import import_dir


def run_demo(
    config: Config, directory: Path, *, customers: int, seed: int, console: Console
) -> None:
    """Replace `directory` with a fresh demo shop and run today's daily run on it.

    The demo never touches the configured database: it gets `directory/leal.db`.
    """
    if directory.exists():
        shutil.rmtree(directory)
    data = directory / "data"
    data.mkdir(parents=True)
    database = DatabaseSettings(url=f"sqlite:///{directory / 'leal.db'}")
    settings = config.settings.model_copy(update={"database": database})
    config = dataclasses.replace(config, settings=settings)
    at = run_instant(config)

    console.print(f"[bold]Demo shop[/bold] {customers} customers, seed {seed}, in {directory}")
    write_demo_shop(data, at=at, tz=settings.shop.tz, customers=customers, seed=seed)
    engine = make_engine(database.url)
    migrate(engine)
    print_import(
        import_dir(engine, data, settings, on=at.astimezone(settings.shop.tz).date()), console
    )
    print_plan(daily_run(engine, config, at), config, console)
    console.print(
        f"See every message: LEAL_DATABASE__URL={database.url} leal run --dry-run --format jsonl",
        soft_wrap=True,
    )
