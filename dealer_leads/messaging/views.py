"""The public unsubscribe page and the RFC 8058 one-click endpoint behind List-Unsubscribe.

GET only shows a page (mail scanners and link previews fetch links; a GET must change nothing).
POST unsubscribes: from the page's button, or from the mail client's one-click request, which
carries `List-Unsubscribe=One-Click` and cannot carry a CSRF token, so this view is exempt:
the signed token in the URL is what proves the request came from the e-mail.
"""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request

from dealer_leads.extensions import csrf
from dealer_leads.messaging.consent import InvalidAddress, InvalidChannel
from dealer_leads.messaging.unsubscribe import (
    InvalidUnsubscribeToken,
    Unsubscribe,
    is_unsubscribed,
    read_unsubscribe_token,
    suppress,
)

bp = Blueprint("unsubscribe", __name__)

ONE_CLICK = "One-Click"


NOT_VALID = "This unsubscribe link is not valid. Please use the link in the e-mail."


def _read(token: str) -> Unsubscribe:
    try:
        return read_unsubscribe_token(token)
    except InvalidUnsubscribeToken:
        abort(404, NOT_VALID)


def masked(address: str) -> str:
    """d***@example.com: enough to recognise, not enough to harvest from a forwarded link."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else f"***{address[-4:]}"


def _private(body: str, status: int = 200):
    """Token URLs stay out of caches, search engines and Referer headers."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/unsubscribe/<token>")
def confirm(token: str):
    """Show what will be unsubscribed, with a button; nothing changes on GET."""
    wanted = _read(token)
    try:
        done = is_unsubscribed(wanted.address, wanted.channel)
    except (InvalidAddress, InvalidChannel):  # signed by us, yet no longer a usable address
        abort(404, NOT_VALID)
    page = render_template(
        "messaging/unsubscribe.html",
        address=masked(wanted.address),
        channel=wanted.channel,
        done=done,
    )
    return _private(page)


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str):
    """Unsubscribe at once (idempotent): the page's button or a one-click POST (RFC 8058)."""
    wanted = _read(token)
    one_click = request.form.get("List-Unsubscribe") == ONE_CLICK
    source = "one_click" if one_click else "unsubscribe_page"
    reason = "List-Unsubscribe one-click" if one_click else "unsubscribe link in an e-mail"
    try:
        suppress(wanted.address, wanted.channel, source, reason)
    except (InvalidAddress, InvalidChannel):
        abort(404, NOT_VALID)
    page = render_template(
        "messaging/unsubscribed.html", address=masked(wanted.address), channel=wanted.channel
    )
    return _private(page)
