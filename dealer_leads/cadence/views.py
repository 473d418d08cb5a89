"""Follow-up plan pages."""

from flask import Blueprint

bp = Blueprint("cadence", __name__)
