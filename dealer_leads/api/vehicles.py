"""/api/v1/vehicles: create or update by VIN, read."""

from flask import Blueprint

bp = Blueprint("api_vehicles", __name__, url_prefix="/api/v1")
