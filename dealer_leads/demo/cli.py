"""`flask demo seed`: a living demo dealership."""

import click
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing when users exist already.")
def seed_command(if_empty: bool) -> None:
    """Fill the database with a demo dealership."""
    from dealer_leads.demo.seed import echo_log_ins, list_demo_log_ins, seed_demo

    added = seed_demo(if_empty=if_empty, echo=click.echo)
    # Nothing seeded this time: still show the log-ins, as `make run` does on every start.
    log_ins = [] if added["users"] else list_demo_log_ins()
    if log_ins:
        echo_log_ins(click.echo, log_ins)
