"""`flask feeds …`: consumer tokens, builds and exports of the inventory feeds."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import click
from flask.cli import AppGroup

from dealer_leads.database import now_utc
from dealer_leads.inventory.feed_export import export_feed
from dealer_leads.inventory.feed_files import FEED_FILES, build_feed_files
from dealer_leads.inventory.feed_tokens import (
    ConsumerNotFound,
    InvalidConsumer,
    create_consumer,
    list_consumers,
    revoke_consumer,
)
from dealer_leads.inventory.feeds import InvalidColumns

feeds_cli = AppGroup("feeds", help="Inventory feeds.")

FORMATS = {target: name for name, target in FEED_FILES.items()}  # csv, json, google, meta


@feeds_cli.command("token")
@click.argument("name")
def token_command(name: str) -> None:
    """Create a consumer; its token is printed alone on the last line, once."""
    try:
        consumer, token = create_consumer(name)
    except InvalidConsumer as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created feed consumer #{consumer.id} {consumer.name!r}.")
    click.echo(f"URLs: <PUBLIC_BASE_URL>/feeds/<token>/{{{','.join(FEED_FILES)}}}")
    click.echo("Store the token now; it cannot be shown again:")
    click.echo(token)


@feeds_cli.command("list")
def list_command() -> None:
    """List consumers: id, token start, name, created, state."""
    for consumer in list_consumers():
        state = f"revoked {consumer.revoked_at:%Y-%m-%d}" if consumer.revoked_at else "active"
        created = f"{consumer.created_at:%Y-%m-%d}"
        click.echo(f"{consumer.id}\t{consumer.token_hint}…\t{consumer.name}\t{created}\t{state}")


@feeds_cli.command("revoke")
@click.argument("consumer")
def revoke_command(consumer: str) -> None:
    """Revoke a consumer by id or name: its URLs answer 404 from now on."""
    try:
        revoked = revoke_consumer(consumer, now_utc())
    except ConsumerNotFound as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Revoked feed consumer #{revoked.id} {revoked.name!r}.")


@feeds_cli.command("build")
@click.option("--force", is_flag=True, help="Publish even if most vehicles would leave the feeds.")
def build_command(force: bool) -> None:
    """Build and publish every feed file now (as the worker does on its schedule)."""
    try:
        result = build_feed_files(now_utc(), force=force)
    except InvalidColumns as error:
        raise click.ClickException(f"FEED_CSV_COLUMNS: {error}") from error
    if result.status == "held":
        raise click.ClickException(f"held: {result.note} (--force publishes anyway)")
    for name, rows in result.listed.items():
        click.echo(f"{name}\t{rows} vehicles")
    changes = {kind: len(items) for kind, items in result.changes.items()}
    click.echo(f"changes: {changes}")


@feeds_cli.command("export")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(sorted(FORMATS)))
@click.option("-o", "--output", "output", required=True, help="File to write ('-': stdout).")
@click.option("--force", is_flag=True, help="Write even if most vehicles would leave the feed.")
def export_command(fmt: str, output: str, force: bool) -> None:
    """Write one feed (csv, json, google, meta) to a file, under the builds' removal guard."""
    name = FORMATS[fmt]
    try:
        if output == "-":
            with tempfile.TemporaryDirectory() as folder:
                result = export_feed(name, now_utc(), Path(folder) / name, force=force)
                if result.status == "published":
                    with open(Path(folder) / name, encoding="utf-8", newline="") as file:
                        shutil.copyfileobj(file, sys.stdout)
        else:
            result = export_feed(name, now_utc(), Path(output), force=force)
    except InvalidColumns as error:
        raise click.ClickException(f"FEED_CSV_COLUMNS: {error}") from error
    except OSError as error:
        raise click.ClickException(f"cannot write {output}: {error.strerror}") from error
    if result.status == "held":
        raise click.ClickException(f"held, nothing written: {result.note} (--force writes anyway)")
    click.echo(f"Wrote {name} ({result.listed[name]} vehicles) to {output}.", err=True)
