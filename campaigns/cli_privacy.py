"""`leal customer export|erase ID`: the data subject's rights from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from shop.db import writer
from shop.privacy import UnknownCustomerError, erase_customer, export_customer


@click.group()
def customer() -> None:
    """One customer's data: export it (GDPR Art. 15) or erase it (Art. 17)."""


@customer.command()
@click.argument("customer_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON here (default: standard output).",
)
@click.pass_context
def export(ctx: click.Context, customer_id: str, out: Path | None) -> None:
    """Everything Leal holds on CUSTOMER_ID, as JSON."""
    from campaigns.cli import _config, _engine  # the cli module registers this group

    engine = _engine(_config(ctx), migrate_schema=False)
    try:
        with engine.connect() as connection:
            data = export_customer(connection, customer_id)
    except UnknownCustomerError as error:
        raise click.ClickException(str(error)) from None
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {out}", err=True)


@customer.command()
@click.argument("customer_id")
@click.confirmation_option(prompt="Erase this customer's personal data for good?")
@click.pass_context
def erase(ctx: click.Context, customer_id: str) -> None:
    """Erase CUSTOMER_ID's personal data; their address and phone stay suppressed."""
    from campaigns.cli import _config, _engine

    engine = _engine(_config(ctx), migrate_schema=False)
    try:
        with writer(engine).begin() as connection:
            done = erase_customer(connection, customer_id, datetime.now(UTC))
    except UnknownCustomerError as error:
        raise click.ClickException(str(error)) from None
    if done.already_erased:
        click.echo(f"Customer {customer_id} was already erased; checked again.")
    else:
        click.echo(f"Customer {customer_id} erased.")
    click.echo(
        f"{done.messages_cancelled} waiting message(s) skipped (erased); suppressed as keyed"
        f" hashes: {', '.join(done.suppressed_channels) or 'nothing (no address or phone)'}."
    )
