"""Triage pages: the queue, the lead page and its actions, manual entry, needs review."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.admin.services import dealership_zone
from dealer_leads.appointments.views import lead_panel_context as appointment_panel_context
from dealer_leads.auth.models import LEAD_ROLES, SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.cadence.task_services import count_overdue_tasks, lead_panel_context
from dealer_leads.database import now_utc
from dealer_leads.leads import contact_services, services
from dealer_leads.leads.channels import RERUNNABLE_CHANNELS, InvalidPayload
from dealer_leads.leads.forms import (
    AssignForm,
    BulkAssignForm,
    CallForm,
    ConsentForm,
    ContactForm,
    DiscardForm,
    ManualLeadForm,
    NoteForm,
    OptOutForm,
    ReprocessForm,
    StatusForm,
)
from dealer_leads.leads.ingest import InboundAlreadyHandled, process_inbound
from dealer_leads.leads.models import LEAD_STATUSES
from dealer_leads.leads.normalize import DEPARTMENTS, whole_number
from dealer_leads.leads.queue import (
    QueueFilters,
    count_open_by_department,
    list_queue,
    list_sources,
)
from dealer_leads.messaging.consent import get_consent_states

bp = Blueprint("leads", __name__, url_prefix="/leads")


def _local_date(name: str) -> datetime | None:
    """A yyyy-mm-dd query parameter as the start of that day in the dealership's zone."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        abort(400, f"{name} must be a date like 2026-01-31")
    return datetime.combine(day, time.min, tzinfo=dealership_zone())


def _queue_filters() -> QueueFilters:
    advisor = request.args.get("advisor", "")
    received_to = _local_date("to")
    return QueueFilters(
        status=request.args.get("status", ""),
        source=request.args.get("source", ""),
        advisor_id=whole_number(advisor),
        unassigned=advisor == "none",
        department=request.args.get("department", ""),
        received_from=_local_date("from"),
        received_to=received_to + timedelta(days=1) if received_to else None,
        search=request.args.get("q", "")[:100],
    )


def _number_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    number = whole_number(value)
    return number if number is not None and 0 < number < 100_000 else default


def _advisor_choices(blank: str = "— nobody —") -> dict[int, str]:
    choices = {0: blank}
    for advisor in services.list_advisors():
        choices[advisor.id] = advisor.name + ("" if advisor.on_shift else " (off shift)")
    return choices


@bp.route("/")
@role_required(*LEAD_ROLES)
def queue():
    page = list_queue(
        current_user,
        _queue_filters(),
        page=_number_arg("page", 1),
        per_page=_number_arg("per_page", 50),
    )
    page.args = {
        key: request.args.get(key, "")
        for key in ("status", "source", "advisor", "department", "from", "to", "q", "per_page")
    }
    bulk = BulkAssignForm()
    bulk.advisor_id.choices = _advisor_choices()
    return render_template(
        "leads/queue.html",
        page=page,
        bulk=bulk,
        statuses=LEAD_STATUSES,
        departments=DEPARTMENTS,
        sources=list_sources(),
        advisors=services.list_advisors(),
        args=page.args,
        review_count=services.count_needs_review() if current_user.supervises else 0,
        department_counts=count_open_by_department(current_user),
        overdue_tasks=count_overdue_tasks(current_user),
    )


@bp.route("/bulk-assign", methods=["POST"])
@role_required(*SUPERVISING_ROLES)
def bulk_assign():
    form = BulkAssignForm()
    form.advisor_id.choices = _advisor_choices()
    if not form.validate_on_submit():
        abort(400, "choose leads and an advisor")
    try:
        changed = services.bulk_assign(
            current_user, form.lead_ids.data, form.advisor_id.data or None
        )
    except services.InvalidAction as error:
        flash(str(error), "error")
    else:
        flash(f"{changed} lead{'s' if changed != 1 else ''} assigned.", "success")
    return redirect(request.referrer or url_for("leads.queue"))


def _lead_or_404(lead_id: int):
    try:
        return services.get_lead(current_user, lead_id)
    except services.LeadNotFound:
        abort(404, f"There is no lead #{lead_id} you can see.")


@bp.route("/<int:lead_id>")
@role_required(*LEAD_ROLES)
def detail(lead_id: int):
    lead = _lead_or_404(lead_id)
    assign = AssignForm(advisor_id=lead.assigned_to_id or 0)
    assign.advisor_id.choices = _advisor_choices()
    return render_template(
        "leads/detail.html",
        lead=lead,
        assign=assign,
        call=CallForm(),
        contact=ContactForm(email=lead.customer.email, phone=lead.customer.phone),
        note=NoteForm(),
        status_form=StatusForm(status=lead.status),
        opt_out=OptOutForm(),
        consent_form=ConsentForm(),
        consent_states=get_consent_states(lead.customer, now_utc()),
        **lead_panel_context(lead.id),
        **appointment_panel_context(lead),
    )


def _act(lead_id: int, action, success: str):
    """Run one triage action and come back to the lead page with what happened."""
    try:
        action()
    except services.LeadNotFound:
        abort(404, f"There is no lead #{lead_id} you can see.")
    except services.InvalidAction as error:
        flash(str(error), "error")
        return detail(lead_id), 422
    flash(success, "success")
    return redirect(url_for("leads.detail", lead_id=lead_id), 303)


def _invalid(form) -> str:
    return "; ".join(
        f"{getattr(form, name).label.text}: {', '.join(errors)}"
        for name, errors in form.errors.items()
    )


@bp.route("/<int:lead_id>/assign", methods=["POST"])
@role_required(*SUPERVISING_ROLES)
def assign(lead_id: int):
    form = AssignForm()
    form.advisor_id.choices = _advisor_choices()
    if not form.validate_on_submit():
        abort(400, _invalid(form))
    return _act(
        lead_id,
        lambda: services.assign_lead(current_user, lead_id, form.advisor_id.data or None),
        "Assigned.",
    )


@bp.route("/<int:lead_id>/call", methods=["POST"])
@role_required(*LEAD_ROLES)
def log_call(lead_id: int):
    form = CallForm()
    if not form.validate_on_submit():
        abort(400, _invalid(form))
    return _act(
        lead_id,
        lambda: services.log_call(current_user, lead_id, form.outcome.data, form.notes.data or ""),
        "Call logged.",
    )


@bp.route("/<int:lead_id>/contact", methods=["POST"])
@role_required(*LEAD_ROLES)
def edit_contact(lead_id: int):
    """Correct the customer's e-mail and phone (the supervisor or the lead's advisor)."""
    form = ContactForm()
    if not form.validate_on_submit():
        abort(400, _invalid(form))
    return _act(
        lead_id,
        lambda: contact_services.update_contact(
            current_user, lead_id, form.email.data or "", form.phone.data or ""
        ),
        "Contact corrected.",
    )


@bp.route("/<int:lead_id>/note", methods=["POST"])
@role_required(*LEAD_ROLES)
def add_note(lead_id: int):
    form = NoteForm()
    if not form.validate_on_submit():
        abort(400, _invalid(form))
    return _act(
        lead_id, lambda: services.add_note(current_user, lead_id, form.text.data), "Note added."
    )


@bp.route("/<int:lead_id>/status", methods=["POST"])
@role_required(*LEAD_ROLES)
def change_status(lead_id: int):
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400, _invalid(form))
    return _act(
        lead_id,
        lambda: services.change_status(
            current_user, lead_id, form.status.data, form.reason.data or ""
        ),
        "Status changed.",
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required(*LEAD_ROLES)
def new():
    form = ManualLeadForm()
    if form.validate_on_submit():
        fields = {
            name: str(field.data or "")
            for name, field in form._fields.items()
            if name != "csrf_token"
        }
        try:
            results = services.create_manual_lead(
                current_user, urlencode(fields).encode(), request.remote_addr or ""
            )
        except InvalidPayload as error:
            for name, problem in error.fields.items():
                if name in form:
                    form[name].errors = [*form[name].errors, problem]
            flash(error.message, "error")
            return render_template("leads/new.html", form=form), 422
        result = results[0]
        flash(
            "Added to the existing open lead." if result.duplicate else "Lead created.", "success"
        )
        return redirect(url_for("leads.detail", lead_id=result.lead_id), 303)
    status = 422 if form.errors else 200
    return render_template("leads/new.html", form=form), status


@bp.route("/review")
@role_required(*SUPERVISING_ROLES)
def review():
    return render_template("leads/review.html", payloads=services.list_needs_review())


@bp.route("/review/<int:inbound_id>", methods=["GET", "POST"])
@role_required(*SUPERVISING_ROLES)
def review_detail(inbound_id: int):
    try:
        inbound = services.get_inbound(inbound_id)
    except services.LeadNotFound:
        abort(404, f"There is no payload #{inbound_id}.")
    form = ReprocessForm(raw=inbound.text)
    if form.validate_on_submit():
        if inbound.channel not in RERUNNABLE_CHANNELS:
            abort(409, f"A {inbound.channel} message cannot be re-run; set it aside instead.")
        try:
            results = process_inbound(
                inbound_id, raw=form.raw.data.encode("utf-8"), by=current_user
            )
        except InvalidPayload as error:
            flash(f"Still not readable: {error.message}", "error")
            return redirect(url_for("leads.review_detail", inbound_id=inbound_id), 303)
        except InboundAlreadyHandled as error:
            flash(str(error), "error")
            return redirect(url_for("leads.review"), 303)
        flash(f"Processed: {len(results)} lead(s).", "success")
        return redirect(url_for("leads.detail", lead_id=results[0].lead_id), 303)
    return render_template(
        "leads/review_detail.html",
        inbound=inbound,
        form=form,
        discard=DiscardForm(),
        rerunnable=RERUNNABLE_CHANNELS,
    )


@bp.route("/review/<int:inbound_id>/discard", methods=["POST"])
@role_required(*SUPERVISING_ROLES)
def discard(inbound_id: int):
    if not DiscardForm().validate_on_submit():
        abort(400, "the form is not valid")
    try:
        services.discard_inbound(current_user, inbound_id)
    except services.LeadNotFound:
        abort(404, f"There is no payload #{inbound_id}.")
    except services.InvalidAction as error:
        flash(str(error), "error")
    else:
        flash(f"Payload #{inbound_id} set aside; it stays stored.", "success")
    return redirect(url_for("leads.review"), 303)


@bp.route("/<int:lead_id>/opt-out", methods=["POST"])
@role_required(*LEAD_ROLES)
def opt_out(lead_id: int):
    form = OptOutForm()
    if not form.validate_on_submit():
        abort(400, _invalid(form))
    return _act(
        lead_id,
        lambda: contact_services.mark_opt_out(current_user, lead_id, form.channel.data),
        "Opt-out recorded: it applies at once.",
    )


@bp.route("/<int:lead_id>/consent", methods=["POST"])
@role_required(*LEAD_ROLES)
def record_consent(lead_id: int):
    """The customer gave express consent to texts or e-mail to a person (phone, signed form)."""
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400, _invalid(form))
    return _act(
        lead_id,
        lambda: contact_services.record_consent_given(
            current_user, lead_id, form.channel.data, form.method.data, form.note.data or ""
        ),
        "Consent recorded.",
    )
