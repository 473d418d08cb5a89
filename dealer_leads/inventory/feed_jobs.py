"""The feed build the worker runs."""

from __future__ import annotations

import logging

from dealer_leads.database import now_utc
from dealer_leads.inventory.feed_files import build_feed_files

log = logging.getLogger(__name__)


def build_feeds() -> None:
    """Build every feed file for the pull URLs (a held build is logged as a warning)."""
    result = build_feed_files(now_utc())
    if result.status == "held":
        log.warning("feeds held: %s", result.note)
    else:
        log.info("feeds built: %s", result.listed)
