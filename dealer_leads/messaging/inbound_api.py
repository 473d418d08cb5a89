"""POST /api/v1/inbound/email: a raw RFC 822 message from a provider that posts inbound mail.

Answers 201 when the message made a new lead, 200 when it was acted on otherwise (a reply, a
bounce, a note, a repeat of a message already received), 202 when it was stored for a person
to review, and 413 when it was over the size limit (its headers are kept for review).
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from dealer_leads import error_response
from dealer_leads.api.auth import require_api_key
from dealer_leads.database import now_utc
from dealer_leads.messaging.mailbox_services import receive_email

bp = Blueprint("inbound_email_api", __name__, url_prefix="/api/v1")

CONTENT_TYPES = ("message/rfc822", "text/plain", "application/octet-stream")
HEAD_BYTES = 1024 * 1024  # of a body known to be too large, enough to hold its headers
_CHUNK = 64 * 1024


@bp.post("/inbound/email")
@require_api_key("leads")
def inbound_email():
    """One raw e-mail: stored, then turned into a lead, a reply, a bounce or a note."""
    if request.mimetype not in CONTENT_TYPES:
        return error_response(
            415, "unsupported_media_type", f"send the raw message as {CONTENT_TYPES[0]}"
        )
    limit = current_app.config["MAX_INBOUND_EMAIL_BYTES"]
    declared = request.content_length or 0
    request.max_content_length = None  # this view reads at most limit + 1 bytes itself
    raw = _read(HEAD_BYTES if declared > limit else limit + 1)
    if not raw.strip():
        return error_response(400, "empty_body", "the body must hold one RFC 822 message")
    outcome = receive_email(
        raw,
        now_utc(),
        full_size=max(declared, len(raw)),
        api_key_id=g.api_key.id,
        source_ip=request.remote_addr or "",
    )
    if outcome.kind == "too_large":
        return error_response(
            413,
            "payload_too_large",
            f"the message is over {limit} bytes; its headers are kept as payload "
            f"#{outcome.inbound_id} for review",
        )
    status = 202 if outcome.kind == "needs_review" else 200
    if outcome.kind in ("adf", "inquiry"):
        status = 201
    return jsonify(outcome.as_dict()), status


def _read(most: int) -> bytes:
    """At most `most` bytes of the body, however long it says it is."""
    chunks, size = [], 0
    while size < most:
        chunk = request.stream.read(min(_CHUNK, most - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
