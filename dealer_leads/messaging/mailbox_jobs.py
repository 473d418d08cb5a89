"""The mailbox poll the worker runs."""

from __future__ import annotations

import imaplib
import logging

from flask import current_app

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.messaging.imap_poller import ImapSettings, MailboxError, PollResult, poll
from dealer_leads.messaging.mailbox_services import receive_email

log = logging.getLogger(__name__)


def poll_mailbox() -> PollResult | None:
    """Read new messages from the leads mailbox (when IMAP_HOST is set)."""
    config = current_app.config
    if not config.get("IMAP_HOST"):
        return None
    settings = ImapSettings.from_config(config)

    def handle(raw: bytes, uid: int, size: int):
        return receive_email(raw, now_utc(), full_size=size)

    try:
        result = poll(settings, handle, now_utc())
    except (OSError, imaplib.IMAP4.error, MailboxError) as error:
        # The server is down or refuses us: the next poll tries again; nothing was lost.
        db.session.rollback()
        log.warning("leads mailbox %s: poll failed: %s", settings.mailbox, error)
        return None
    if result.handled:
        log.info("leads mailbox %s: %d new message(s)", settings.mailbox, result.handled)
    return result
