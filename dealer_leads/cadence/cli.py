"""`flask plans …`: the shipped follow-up plans and message templates."""

import click
from flask.cli import AppGroup

plans_cli = AppGroup("plans", help="Follow-up plans.")


@plans_cli.command("install-defaults")
def install_defaults_command() -> None:
    """Add the shipped plans, rules and templates that are missing (edited ones are kept)."""
    from dealer_leads.cadence.defaults import ensure_default_plans, replace_earlier_rules
    from dealer_leads.messaging.template_services import ensure_default_templates

    templates = ensure_default_templates()
    plans = ensure_default_plans()
    click.echo(f"Added {plans} plans and {templates} templates.")
    if replace_earlier_rules():
        click.echo(
            "Updated the plan rules as shipped: a purchase that also offers a trade-in now gets "
            "the new- or used-vehicle plan; the trade-in plan is for appraisal-only leads."
        )
