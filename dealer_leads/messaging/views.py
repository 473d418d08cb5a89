"""Unsubscribe pages."""

from flask import Blueprint

bp = Blueprint("unsubscribe", __name__)
