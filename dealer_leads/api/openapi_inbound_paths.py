"""The OpenAPI operations of the inbound channels: the SMS provider's webhooks and the leads
mailbox's e-mail endpoint."""

from __future__ import annotations

from dealer_leads.api.openapi_builders import KEY_REFUSALS, error, ref, too_large
from dealer_leads.messaging.mailbox_reads import KINDS as MAIL_KINDS

# --- the SMS provider's webhooks ---------------------------------------------------------------

_SIGNATURE = {
    "name": "X-Twilio-Signature",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": (
        "The provider's signature, checked instead of an API key: Base64 of the HMAC-SHA1, keyed "
        "with SMS_AUTH_TOKEN, of the public URL called (PUBLIC_BASE_URL + path and query) "
        "followed by each form field's name and value, sorted by name (Twilio's algorithm)"
    ),
}
_WEBHOOK_REFUSALS = {
    "403": error(
        "The X-Twilio-Signature header is missing (`missing_signature`) or does not match "
        "(`bad_signature`); nothing is stored"
    ),
    "413": too_large("64 KiB", "SMS_MAX_BODY_BYTES", "request_entity_too_large"),
    "503": error("SMS is not configured: no SMS_AUTH_TOKEN to check with (`not_configured`)"),
}


def _form(schema: str) -> dict:
    return {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": ref(schema)}},
    }


WEBHOOK_PATHS = {
    "/inbound/sms": {
        "post": {
            "operationId": "receiveSms",
            "summary": "A text a customer sent to our number (provider webhook)",
            "description": (
                "Stored raw, then acted on: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT or "
                "ARRET opts the number out, START or UNSTOP back in; anything else is a reply on "
                "the customer's lead (a number no customer has goes to review). A retry of a "
                "MessageSid already received is not acted on twice."
            ),
            "tags": ["webhooks"],
            "security": [],
            "parameters": [_SIGNATURE],
            "requestBody": _form("InboundSms"),
            "responses": {
                "200": {
                    "description": "Received: empty TwiML, nothing is sent back",
                    "content": {
                        "text/xml": {
                            "schema": {"type": "string"},
                            "example": '<?xml version="1.0" encoding="UTF-8"?><Response/>',
                        }
                    },
                },
                **_WEBHOOK_REFUSALS,
            },
        },
    },
    "/inbound/sms/status": {
        "post": {
            "operationId": "smsDeliveryStatus",
            "summary": "A delivery report on a text we sent (provider status callback)",
            "description": (
                "A late report never moves a text back to an earlier state; an undelivered or "
                "failed text is noted on its lead's timeline."
            ),
            "tags": ["webhooks"],
            "security": [],
            "parameters": [_SIGNATURE],
            "requestBody": _form("SmsStatus"),
            "responses": {
                "204": {"description": "Noted (unknown message ids and states are ignored)"},
                **_WEBHOOK_REFUSALS,
            },
        },
    },
}

# --- the leads mailbox ---------------------------------------------------------------------------

_MAIL_OUTCOME = {
    "type": "object",
    "required": ["inbound_id", "kind", "lead_ids", "detail"],
    "properties": {
        "inbound_id": {"type": "integer", "description": "The stored message"},
        "kind": {
            "type": "string",
            # what a stored message became (too large is a 413, not a result), or a repeat
            "enum": [*(kind for kind in MAIL_KINDS if kind != "too_large"), "duplicate"],
        },
        "lead_ids": {"type": "array", "items": {"type": "integer"}},
        "detail": {"type": "string"},
    },
}


def _mail_answer(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": _MAIL_OUTCOME}},
    }


MAIL_PATHS = {
    "/inbound/email": {
        "post": {
            "operationId": "receiveEmail",
            "summary": "A raw e-mail (RFC 822) for the leads mailbox",
            "description": (
                "Stored raw, then acted on: ADF in the message (text, HTML or an .xml "
                "attachment) or a plain inquiry becomes a lead; a reply to one of our e-mails "
                "pauses the lead's automatic follow-up; a delivery-status notification (RFC "
                "3464) marks the address bounced; an automatic reply or out-of-office is noted "
                "on the lead. A Message-ID already received is not acted on twice. Nothing is "
                "ever sent back to the sender."
            ),
            "tags": ["webhooks"],
            "requestBody": {
                "required": True,
                "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
            },
            "responses": {
                "201": _mail_answer("The message made one or more new leads"),
                "200": _mail_answer("Acted on: a reply, bounce, note, or a repeat"),
                "202": _mail_answer("Stored as needs review for a person"),
                "400": error("An empty body; code `empty_body`"),
                **KEY_REFUSALS,
                "413": error(
                    "The message is over MAX_INBOUND_EMAIL_BYTES; its headers are kept for "
                    "review; code `payload_too_large`"
                ),
                "415": error("Not sent as message/rfc822; code `unsupported_media_type`"),
            },
        },
    },
}
