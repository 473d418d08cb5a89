"""/api/v1/vehicles/<vin>/photos: photo upload for photo apps and the DMS."""

from flask import Blueprint

bp = Blueprint("api_photos", __name__, url_prefix="/api/v1")
