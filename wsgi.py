"""Entry point for gunicorn (`gunicorn wsgi:app`) and the `flask` command."""

import os

from config import Config, ProductionConfig
from dealer_leads import create_app

app = create_app(ProductionConfig if os.environ.get("FLASK_ENV") == "production" else Config)
