"""`flask leads …`: lead intake from the command line."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from dealer_leads.database import now_utc

leads_cli = AppGroup("leads", help="Leads.")


@leads_cli.command("import-email")
@click.argument("source", type=click.File("rb"), default="-")
def import_email(source) -> None:
    """Read one e-mail (RFC 822) from FILE or standard input, e.g. piped by a mail server."""
    from dealer_leads.messaging.mailbox_services import receive_email

    limit = current_app.config["MAX_INBOUND_EMAIL_BYTES"]
    raw = source.read(limit + 1)
    size = len(raw)
    if size > limit:  # keep reading only to learn the size; the headers are what is kept
        while chunk := source.read(1024 * 1024):
            size += len(chunk)
    if not raw.strip():
        raise click.ClickException("the message is empty")
    outcome = receive_email(raw, now_utc(), full_size=size)
    leads = ", ".join(f"#{lead_id}" for lead_id in outcome.lead_ids) or "none"
    click.echo(f"payload #{outcome.inbound_id}: {outcome.kind} (leads: {leads})")
    if outcome.detail:
        # Still exit 0: the message is stored, and a mail server would bounce it otherwise.
        click.echo(outcome.detail)
