"""Photo pages: upload, order, hero, placeholder, delete; public derivatives."""

from flask import Blueprint

bp = Blueprint("photos", __name__)
