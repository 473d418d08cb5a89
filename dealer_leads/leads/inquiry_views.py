"""The public web-site inquiry form, standalone or embedded in the dealer's site."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeSerializer

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.services import role_required
from dealer_leads.database import now_utc
from dealer_leads.extensions import csrf, limiter
from dealer_leads.leads.channels import InvalidPayload, decode_form
from dealer_leads.leads.contact_services import record_web_form_consent
from dealer_leads.leads.form_retries import set_aside_corrected_attempts
from dealer_leads.leads.ingest import process_inbound, store_inbound

bp = Blueprint("inquiry", __name__)

HONEYPOT = "website"  # hidden from people by CSS; bots fill every field
TEXT_CONSENT = "sms_consent"  # the "Text me about my inquiry" box; never ticked in advance
# Shown beside the box and kept on the lead's timeline as what the customer agreed to (TCPA:
# express written consent, not a condition of purchase; CASL: who asks, and how to withdraw).
TEXT_CONSENT_STATEMENT = (
    "By ticking this box I agree that {dealer} may send me text messages, including automated "
    "ones, about my inquiry at the phone number above. Consent is not a condition of purchase. "
    "Msg & data rates may apply. Reply STOP to stop, HELP for help."
)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="inquiry-form")


def _spam_reason(form: dict[str, str]) -> str:
    """Why this post looks automated, or '' for a person. Forms copied onto the dealer's own
    site carry no timing token; those are checked by the honeypot alone."""
    if form.get(HONEYPOT, "").strip():
        return "honeypot field filled"
    token = form.get("ts", "")
    if not token:
        return ""
    try:
        shown_at = float(_signer().loads(token))
    except (BadSignature, ValueError, TypeError):
        return "timing token forged"
    if time.time() - shown_at < current_app.config["INQUIRY_MIN_FILL_SECONDS"]:
        return "form filled faster than a person can"
    return ""


def text_consent_statement() -> str:
    """The consent statement beside the box, with the dealership's name."""
    return TEXT_CONSENT_STATEMENT.format(dealer=get_dealership().name or "the dealership")


def _ticked(form: dict[str, str]) -> bool:
    return form.get(TEXT_CONSENT, "").strip().lower() in ("yes", "on", "1", "true")


def _wants_json() -> bool:
    return (
        request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json"
    )


def _page(form: dict, errors: dict | None = None, status: int = 200):
    embed = request.args.get("embed") == "1"
    response = current_app.make_response(
        (
            render_template(
                "inquiry/form.html",
                form=form,
                errors=errors or {},
                embed=embed,
                ts=_signer().dumps(str(time.time())),
                honeypot=HONEYPOT,
                text_consent=TEXT_CONSENT,
                text_consent_ticked=_ticked(form),
                text_consent_statement=text_consent_statement(),
            ),
            status,
        )
    )
    return response


@bp.after_request
def _frameable(response):
    """The form is meant to be framed by the dealer's site and posted to from it."""
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    response.headers.pop("X-Frame-Options", None)
    if request.method == "POST" and response.mimetype == "application/json":
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/inquiry", methods=["GET"])
def form():
    prefill = {
        key: request.args.get(key, "")[:100]
        for key in ("stock", "vin", "year", "make", "model", "condition", "source")
    }
    return _page(prefill)


@bp.route("/inquiry", methods=["POST"])
@csrf.exempt
@limiter.limit(lambda: current_app.config["INQUIRY_RATE_LIMIT"])
def submit():
    raw = request.get_data(cache=True)
    try:
        fields = decode_form(raw)
    except InvalidPayload:
        fields = {}
    reason = _spam_reason(fields)
    if reason:
        store_inbound(
            "form",
            raw,
            content_type=request.content_type or "",
            source_ip=request.remote_addr or "",
            status="spam",
            error=reason,
        )
        return _thanks()
    inbound = store_inbound(
        "form", raw, content_type=request.content_type or "", source_ip=request.remote_addr or ""
    )
    received_at = now_utc()
    try:
        results = process_inbound(inbound.id, now=received_at)
    except InvalidPayload as error:
        if _wants_json():
            body = {
                "error": {
                    "code": "invalid_inquiry",
                    "message": error.message,
                    "fields": error.fields,
                }
            }
            return jsonify(body), 422
        return _page(fields, error.fields or {"form": error.message}, 422)
    set_aside_corrected_attempts(inbound.id, fields, now_utc())
    if _ticked(fields):
        # After intake, which owns its transaction: the lead and customer exist now.
        record_web_form_consent(
            results[0].lead_id,
            results[0].customer_id,
            fields.get("phone", ""),
            text_consent_statement(),
            received_at,
        )
    return _thanks(results[0].lead_id)


def _thanks(lead_id: int | None = None):
    """The same answer for people and for caught bots, so a bot learns nothing."""
    if _wants_json():
        return jsonify({"ok": True, "message": "Thank you: we will be in touch shortly."}), 201
    return redirect(url_for("inquiry.thanks", embed=request.args.get("embed") or None), 303)


@bp.route("/inquiry/thanks")
def thanks():
    return render_template("inquiry/thanks.html", embed=request.args.get("embed") == "1")


@bp.route("/inquiry/embed-code")
@role_required("webmaster", "admin", "supervisor")
def embed_code():
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return render_template(
        "inquiry/embed_code.html",
        base=base,
        honeypot=HONEYPOT,
        text_consent=TEXT_CONSENT,
        text_consent_statement=text_consent_statement(),
    )
