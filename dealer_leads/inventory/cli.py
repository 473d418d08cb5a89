"""`flask inventory …`: DMS import."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from dealer_leads.inventory import imports
from dealer_leads.inventory.csv_import import IMPORT_FIELDS

inventory_cli = AppGroup("inventory", help="Vehicle inventory.")

MAX_FILE_BYTES = 100 * 1024 * 1024
ERRORS_SHOWN = 50


def _mapping(pairs: tuple[str, ...]) -> dict[str, str] | None:
    """--map 'Stock #=stock_number' pairs; an empty field leaves the column out."""
    if not pairs:
        return None
    mapping = {}
    for pair in pairs:
        column, equals, name = pair.rpartition("=")
        if not equals or not column.strip():
            raise click.BadParameter(f"{pair!r} is not COLUMN=FIELD", param_hint="--map")
        if name.strip() and name.strip() not in IMPORT_FIELDS:
            fields = ", ".join(IMPORT_FIELDS)
            raise click.BadParameter(f"{name!r} is not one of {fields}", param_hint="--map")
        mapping[column.strip()] = name.strip()
    return mapping


def _read(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(f"{path} is over {MAX_FILE_BYTES // 2**20} MiB: split it.")
    return path.read_bytes()


def _refusal(error: imports.InvalidImport) -> click.ClickException:
    details = "".join(f"\n  {name}: {problem}" for name, problem in error.fields.items())
    return click.ClickException(error.message + details)


@inventory_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--complete", is_flag=True, help="The file is the whole stock: mark vehicles missing as sold."
)
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Map a column by hand (repeatable); the other columns are mapped from their names.",
)
@click.option("--accept-vin-warnings", is_flag=True, help="Accept VINs without a check digit.")
@click.option("--dry-run", is_flag=True, help="Show the preview only; change nothing.")
def import_command(
    file: Path, complete: bool, pairs: tuple[str, ...], accept_vin_warnings: bool, dry_run: bool
) -> None:
    """Import a DMS stock list (CSV): create or update by VIN, then print a summary.

    Exits with status 1 when a row failed (the rest is imported; nothing is marked sold)."""
    try:
        record = imports.preview_import(_read(file), file.name, _mapping(pairs))
        _echo_mapping(record.mapping)
        if dry_run:
            click.echo(
                f"Preview #{record.id}: {record.rows_total} rows, {record.rows_failed} failed."
            )
            _echo_errors(record.errors)
            return
        record = imports.apply_import(
            record.id, complete=complete, user=None, accept_vin_warnings=accept_vin_warnings
        )
    except imports.InvalidImport as error:
        raise _refusal(error) from None
    except imports.ImportFailed as error:
        raise click.ClickException(str(error)) from None
    _echo_summary(record)
    if record.rows_failed:
        raise SystemExit(1)


def _echo_mapping(mapping: dict[str, str]) -> None:
    pairs = ", ".join(f"{column!r} → {IMPORT_FIELDS[name]}" for column, name in mapping.items())
    click.echo(f"Columns: {pairs or 'none mapped'}")


def _echo_errors(errors: list[dict]) -> None:
    for error in errors[:ERRORS_SHOWN]:
        where = f"row {error['row']}" if error.get("row") else "file"
        click.echo(f"  {where}, {error['field']}: {error['message']}", err=True)
    if len(errors) > ERRORS_SHOWN:
        click.echo(f"  … and {len(errors) - ERRORS_SHOWN} more", err=True)


def _echo_summary(record) -> None:
    unchanged = record.rows_total - record.rows_created - record.rows_updated - record.rows_failed
    click.echo(
        f"Import #{record.id} of {record.filename}: {record.status}"
        f"{' (complete stock list)' if record.complete else ''}\n"
        f"  {record.rows_total} rows: {record.rows_created} created, "
        f"{record.rows_updated} updated, {unchanged} unchanged, {record.rows_failed} failed\n"
        f"  {record.marked_sold} marked sold"
    )
    if record.rows_failed:
        if record.complete:
            click.echo("  Nothing was marked sold: fix the failed rows and import again.")
        _echo_errors(record.errors)
