"""`flask inventory …`: DMS import."""

from flask.cli import AppGroup

inventory_cli = AppGroup("inventory", help="Vehicle inventory.")
