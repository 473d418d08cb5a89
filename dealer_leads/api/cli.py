"""`flask api-keys …`: create, list and revoke the keys lead providers and apps use."""

import click
from flask.cli import AppGroup

from dealer_leads.api.services import (
    ApiKeyNotFound,
    InvalidApiKey,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from dealer_leads.auth.models import API_SCOPES

api_keys_cli = AppGroup("api-keys", help="API keys for lead providers and apps.")


@api_keys_cli.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(API_SCOPES),
    help="Repeat for several scopes.",
)
def create_command(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; the key itself is printed alone on the last line, once."""
    try:
        key, secret = create_api_key(name, scopes)
    except InvalidApiKey as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created API key #{key.id} {key.name!r} (scopes: {', '.join(key.scope_list)}).")
    click.echo("Store it now; it cannot be shown again:")
    click.echo(secret)


@api_keys_cli.command("list")
def list_command() -> None:
    """List keys: id, prefix, name, scopes, last use, state."""
    for key in list_api_keys():
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never used"
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(
            f"{key.id}\t{key.prefix}…\t{key.name}\t{' '.join(key.scope_list)}\t{used}\t{state}"
        )


@api_keys_cli.command("revoke")
@click.argument("key_id", type=int)
def revoke_command(key_id: int) -> None:
    """Revoke a key by id: requests using it are refused from now on."""
    try:
        key = revoke_api_key(key_id)
    except ApiKeyNotFound as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Revoked API key #{key.id} {key.name!r} ({key.prefix}…).")
