"""`flask users …`: create and list staff users."""

import secrets

import click
from flask.cli import AppGroup

from dealer_leads.auth.models import ROLES
from dealer_leads.auth.services import InvalidUser, create_user, list_users

users_cli = AppGroup("users", help="Staff users.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", required=True)
@click.option("--password", help="Generated and printed when not given.")
@click.option("--phone", default="")
def create_command(email: str, role: str, name: str, password: str | None, phone: str) -> None:
    """Create a user; a generated password is printed alone on the last line."""
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        user = create_user(email, role, name, password, phone)
    except InvalidUser as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.role} {user.email} (#{user.id}).")
    if generated:
        click.echo(password)


@users_cli.command("list")
def list_command() -> None:
    """List users with role and state."""
    for user in list_users():
        state = "active" if user.active else "disabled"
        click.echo(f"{user.id}\t{user.email}\t{user.role}\t{user.name}\t{state}")


@users_cli.command("calendar-url")
@click.argument("email")
@click.option("--reset", is_flag=True, help="Make a new address; the old one stops working.")
def calendar_url_command(email: str, reset: bool) -> None:
    """Print the user's private calendar subscription URL alone on the last line."""
    from dealer_leads.appointments.board import calendar_url_for

    try:
        url = calendar_url_for(email, reset=reset)
    except LookupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(url)
