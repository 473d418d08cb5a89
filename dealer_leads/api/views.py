"""/api/v1: lead intake (JSON and ADF), lead reads, and the OpenAPI document.

Intake answers 201 when at least one prospect became a new lead and 200 when every prospect
was a duplicate (landed on a lead that existed already); a replayed Idempotency-Key answer
carries the first status again and an `Idempotent-Replayed: true` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, current_app, g, jsonify, request, url_for

from dealer_leads import error_response
from dealer_leads.api import services
from dealer_leads.api.auth import own_leads_only, require_api_key
from dealer_leads.api.openapi import openapi_document
from dealer_leads.api.schemas import lead_to_dict
from dealer_leads.cadence.services import cadence_summaries
from dealer_leads.leads.channels import ADF_CONTENT_TYPES
from dealer_leads.leads.models import LEAD_STATUSES
from dealer_leads.leads.normalize import whole_number
from dealer_leads.leads.services import LeadNotFound

bp = Blueprint("api", __name__, url_prefix="/api/v1")

JSON_CONTENT_TYPES = ("application/json",)
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25
_READ_CHUNK = 64 * 1024


class InvalidParameter(ValueError):
    """A query parameter that cannot be used; `name` says which."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name} {problem}")
        self.name, self.problem = name, problem


@bp.post("/leads")
@require_api_key("leads")
def create_lead():
    """One JSON lead (optional Idempotency-Key)."""
    return _intake("api", JSON_CONTENT_TYPES)


@bp.post("/leads/adf")
@require_api_key("leads")
def create_adf_leads():
    """An ADF/XML document: one result per prospect."""
    return _intake("adf", ADF_CONTENT_TYPES)


@bp.get("/leads/<int:lead_id>")
@require_api_key("leads", "leads:read")
def get_lead(lead_id: int):
    """One lead, normalised, with its sources and timeline (a `leads` key: one it sent)."""
    try:
        lead = services.get_lead(lead_id, own_leads_only())
    except LeadNotFound:
        return error_response(404, "not_found", f"there is no lead #{lead_id}")
    return jsonify(lead_to_dict(lead, cadence_summaries([lead.id]).get(lead.id)))


@bp.get("/leads")
@require_api_key("leads", "leads:read")
def list_leads():
    """Leads newest first, filtered and paged; `next` is the next page's URL or null."""
    try:
        filters, page, per_page = _list_arguments(request.args)
    except InvalidParameter as error:
        return error_response(400, "invalid_parameter", str(error), {error.name: error.problem})
    filters.sent_with_key = own_leads_only()
    found = services.list_leads(filters, page, per_page)
    plans = cadence_summaries([lead.id for lead in found.items])
    return jsonify(
        items=[lead_to_dict(lead, plans.get(lead.id)) for lead in found.items],
        total=found.total,
        next=_page_url(page + 1) if found.has_next else None,
    )


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI document; public, so tools can read it without a key."""
    return jsonify(openapi_document())


def _intake(channel: str, accepted: tuple[str, ...]):
    if request.mimetype not in accepted:
        return error_response(
            415,
            "unsupported_media_type",
            f"send the body with Content-Type {' or '.join(accepted)}",
        )
    limit = current_app.config["MAX_LEAD_BODY_BYTES"]
    raw = read_body(limit)
    if raw is None:
        return error_response(413, "payload_too_large", f"the body is over {limit} bytes")
    try:
        answer = services.submit_inbound(
            channel,
            raw,
            api_key_id=g.api_key.id,
            content_type=request.content_type or "",
            source_ip=request.remote_addr or "",
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
    except services.InvalidIdempotencyKey as error:
        return error_response(
            400, "invalid_idempotency_key", str(error), {"Idempotency-Key": str(error)}
        )
    except services.IdempotencyKeyReused as error:
        return error_response(422, "idempotency_key_reused", str(error))
    except services.IdempotencyKeyInProgress as error:
        return error_response(409, "idempotency_key_in_progress", str(error))
    return _intake_response(answer)


def read_body(limit: int) -> bytes | None:
    """The body, or None when it is over `limit`. Never reads more than limit + 1 bytes, so a
    missing or lying Content-Length cannot make us buffer a huge body."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    while size <= limit:
        chunk = request.stream.read(min(_READ_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


def _intake_response(answer: services.IntakeAnswer):
    if answer.error is not None:
        error = answer.error
        response, status = error_response(422, error["code"], error["message"], error["fields"])
    else:
        results = answer.results or []
        status = 201 if any(not result["duplicate"] for result in results) else 200
        response = jsonify(results=results)
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response, status


def _list_arguments(args: Mapping[str, str]) -> tuple[services.LeadFilters, int, int]:
    status = args.get("status", "").strip()
    if status and status not in LEAD_STATUSES:
        raise InvalidParameter("status", f"must be one of {', '.join(LEAD_STATUSES)}")
    filters = services.LeadFilters(
        status=status,
        source=args.get("source", "").strip(),
        received_from=_moment(args, "received_from"),
        received_to=_moment(args, "received_to"),
    )
    page = _whole_number(args, "page", 1, 1, 1_000_000)
    per_page = _whole_number(args, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    return filters, page, per_page


def _moment(args: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC."""
    value = args.get(name, "").strip()
    if not value:
        return None
    if "T" in value and " " in value:
        value = value.replace(" ", "+")  # an unencoded '+' in the offset arrives as a space
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(
            name, "must be an ISO 8601 date or date-time, e.g. 2025-05-01T09:00:00-04:00"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _whole_number(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, "").strip()
    if not value:
        return default
    number = whole_number(value)
    if number is None or not low <= number <= high:
        raise InvalidParameter(name, f"must be a whole number from {low} to {high}")
    return number


def _page_url(page: int) -> str:
    """This list's URL with the same filters, at `page`."""
    kept = {
        name: request.args[name]
        for name in ("status", "source", "received_from", "received_to", "per_page")
        if request.args.get(name)
    }
    return url_for("api.list_leads", page=page, _external=True, **kept)
