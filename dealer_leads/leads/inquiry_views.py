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

from dealer_leads.auth.services import role_required
from dealer_leads.database import now_utc
from dealer_leads.extensions import csrf, limiter
from dealer_leads.leads.channels import InvalidPayload, decode_form
from dealer_leads.leads.form_retries import set_aside_corrected_attempts
from dealer_leads.leads.ingest import process_inbound, store_inbound

bp = Blueprint("inquiry", __name__)

HONEYPOT = "website"  # hidden from people by CSS; bots fill every field


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
    try:
        results = process_inbound(inbound.id)
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
    return render_template("inquiry/embed_code.html", base=base, honeypot=HONEYPOT)
