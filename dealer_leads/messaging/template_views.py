"""Template editor."""

from flask import Blueprint

bp = Blueprint("templates_admin", __name__, url_prefix="/templates")
