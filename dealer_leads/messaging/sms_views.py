"""SMS provider webhooks: texts customers send us, and delivery reports on the texts we sent.

Both are signed by the provider (`X-Twilio-Signature`, see `sms.twilio_signature`) over the
PUBLIC URL it called: PUBLIC_BASE_URL (scheme, host and any path prefix the app is mounted
under, as the provider sees them) + the request path and query. Behind a proxy the URL this
app sees differs, so it is never used. A missing or bad signature gets 403 and nothing is
stored: forged requests would only fill the database with junk. Without SMS_AUTH_TOKEN nothing
can be checked, so the webhooks answer 503.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from dealer_leads import error_response
from dealer_leads.database import now_utc
from dealer_leads.messaging.sms import valid_signature
from dealer_leads.messaging.sms_inbound import receive_sms, record_delivery_status

bp = Blueprint("sms_webhooks", __name__, url_prefix="/api/v1")

MAX_BODY_BYTES = 64 * 1024  # a text is at most 1,600 characters; the form around it is small
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@bp.before_request
def _limit_body() -> None:
    # Larger bodies are refused with 413 as they are read (Content-Length or chunked).
    request.max_content_length = current_app.config.get("SMS_MAX_BODY_BYTES", MAX_BODY_BYTES)


@bp.post("/inbound/sms")
def inbound_sms():
    """A text sent to our number; answered with empty TwiML (the provider sends nothing)."""
    raw = request.get_data(cache=True)  # before request.form, which then parses this copy
    refusal = _refusal()
    if refusal is not None:
        return refusal
    receive_sms(
        request.form.to_dict(),
        raw,
        now_utc(),
        content_type=request.content_type or "",
        source_ip=request.remote_addr or "",
    )
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/inbound/sms/status")
def sms_status():
    """A delivery report (queued, sent, delivered, undelivered, failed) on a text we sent."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    record_delivery_status(request.form.to_dict(), now_utc())
    return "", 204


def public_url() -> str:
    """The URL the provider called and signed."""
    path = request.full_path if request.query_string else request.path
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def _refusal():
    """503 when SMS is not configured, 403 unless the provider's signature checks out."""
    token = current_app.config.get("SMS_AUTH_TOKEN", "")
    if not token:
        return error_response(503, "not_configured", "SMS is not configured")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return error_response(403, "missing_signature", "the X-Twilio-Signature header is missing")
    if not valid_signature(public_url(), request.form, signature, token):
        current_app.logger.warning(
            "SMS webhook with a bad signature from %s for %s", request.remote_addr, public_url()
        )
        return error_response(403, "bad_signature", "the X-Twilio-Signature does not match")
    return None
