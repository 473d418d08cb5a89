"""Merge pages: pick two leads (or customers), choose field by field, merge; list and undo."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.auth.models import SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.leads.merge import (
    CUSTOMER_MERGE_FIELDS,
    LEAD_MERGE_FIELDS,
    MergeRefused,
    merge_customers,
    merge_leads,
)
from dealer_leads.leads.merge_forms import MergeForm, UndoForm
from dealer_leads.leads.merge_queries import (
    compare_customers,
    compare_leads,
    list_merge_candidates,
    list_merges,
)
from dealer_leads.leads.merge_undo import undo_merge
from dealer_leads.leads.normalize import whole_number
from dealer_leads.leads.services import LeadNotFound, get_lead

bp = Blueprint("merge", __name__)
supervising = role_required(*SUPERVISING_ROLES)


def _pair_args() -> tuple[int, int]:
    survivor = request.args.get("survivor", type=int)
    merged = request.args.get("merged", type=int)
    if not survivor or not merged:
        abort(400, "Give the ids of both rows: ?survivor=…&merged=…")
    return survivor, merged


def _posted_choices(fields: tuple[str, ...]) -> dict[str, str]:
    return {f: request.form[f"choice-{f}"] for f in fields if f"choice-{f}" in request.form}


def _valid_form() -> MergeForm:
    form = MergeForm()
    if not form.validate_on_submit():
        abort(400, "Choose the two rows to merge.")
    return form


@bp.get("/leads/<int:lead_id>/merge")
@supervising
def choose_lead(lead_id: int):
    try:
        lead = get_lead(current_user, lead_id)
        candidates = list_merge_candidates(lead_id)
    except LeadNotFound as error:
        abort(404, str(error))
    return render_template("leads/merge_choose.html", lead=lead, candidates=candidates)


@bp.get("/leads/merge")
@supervising
def compare_leads_page():
    survivor, merged = _pair_args()
    try:
        rows = compare_leads(survivor, merged)
    except MergeRefused as error:
        abort(409, str(error))
    return render_template(
        "leads/merge_compare.html",
        kind="lead",
        rows=rows,
        fields=LEAD_MERGE_FIELDS,
        survivor=survivor,
        merged=merged,
        action=url_for("merge.merge_leads_post"),
        back_to_lead=None,
    )


@bp.post("/leads/merge")
@supervising
def merge_leads_post():
    form = _valid_form()
    try:
        merge = merge_leads(
            current_user, form.survivor.data, form.merged.data, _posted_choices(LEAD_MERGE_FIELDS)
        )
    except MergeRefused as error:
        abort(409, str(error))
    flash(
        f"Lead #{merge.merged_id} was merged into this lead (merge #{merge.id}; it can be "
        f"undone from the merges page).",
        "success",
    )
    return redirect(url_for("leads.detail", lead_id=merge.survivor_id))


@bp.get("/customers/merge")
@supervising
def compare_customers_page():
    survivor, merged = _pair_args()
    try:
        rows = compare_customers(survivor, merged)
    except MergeRefused as error:
        abort(409, str(error))
    return render_template(
        "leads/merge_compare.html",
        kind="customer",
        rows=rows,
        fields=CUSTOMER_MERGE_FIELDS,
        survivor=survivor,
        merged=merged,
        action=url_for("merge.merge_customers_post"),
        back_to_lead=request.args.get("lead", type=int),
    )


@bp.post("/customers/merge")
@supervising
def merge_customers_post():
    form = _valid_form()
    try:
        merge = merge_customers(
            current_user,
            form.survivor.data,
            form.merged.data,
            _posted_choices(CUSTOMER_MERGE_FIELDS),
        )
    except MergeRefused as error:
        abort(409, str(error))
    flash(
        f"Customer #{merge.merged_id} was merged into customer #{merge.survivor_id} "
        f"(merge #{merge.id}).",
        "success",
    )
    lead_id = form.back_to_lead.data
    if whole_number(lead_id) is not None:
        return redirect(url_for("leads.detail", lead_id=whole_number(lead_id)))
    return redirect(url_for("merge.merges"))


@bp.get("/merges")
@supervising
def merges():
    return render_template("leads/merges.html", entries=list_merges(200), form=UndoForm())


@bp.post("/merges/<int:merge_id>/undo")
@supervising
def undo(merge_id: int):
    if not UndoForm().validate_on_submit():
        abort(400, "The form was not sent correctly.")
    try:
        merge = undo_merge(current_user, merge_id)
    except MergeRefused as error:
        flash(str(error), "error")
    else:
        flash(
            f"Merge #{merge.id} undone: {merge.kind} #{merge.merged_id} and "
            f"#{merge.survivor_id} are separate again.",
            "success",
        )
    return redirect(url_for("merge.merges"))
