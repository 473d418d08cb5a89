"""The message-template editor: list, edit with the checks shown on save, preview."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.models import SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.messaging.email import dealership_footer, html_with_footer, text_with_footer
from dealer_leads.messaging.forms import TemplateForm
from dealer_leads.messaging.merge_fields import dealership_values
from dealer_leads.messaging.template_services import (
    InvalidTemplate,
    UnknownTemplate,
    get_template,
    list_templates,
    preview_template,
    save_template,
)
from dealer_leads.messaging.templates import (
    ALLOWED_VARIABLES,
    SAMPLE_CONTEXT,
    Rendered,
    template_warnings,
)

bp = Blueprint("templates_admin", __name__, url_prefix="/templates")


@bp.get("/")
@role_required(*SUPERVISING_ROLES)
def index():
    return render_template("messaging/templates_list.html", templates=list_templates())


def _values(form: TemplateForm) -> dict[str, str]:
    return {name: form[name].data or "" for name in ("name", "subject", "body_text", "body_html")}


def _preview(channel: str, values: dict[str, str]):
    """(rendered, problems): the message as it would be sent (footer included), when the
    template passes its checks."""
    dealership = get_dealership()
    try:
        rendered = preview_template(channel, values, dealership)
    except InvalidTemplate as error:
        return None, error.problems
    if channel != "email":
        return rendered, []
    footer_text, footer_html = dealership_footer(dealership)
    link = SAMPLE_CONTEXT["unsubscribe_url"]
    html = html_with_footer(rendered.html, footer_html, link) if rendered.html else ""
    text = text_with_footer(rendered.text, footer_text, link)
    return Rendered(rendered.subject, text, html), []


def _warnings(channel: str, body_text: str) -> list[str]:
    warnings = template_warnings(channel, body_text)
    if channel == "email" and not dealership_values(get_dealership())["address"]:
        warnings.append(
            "The dealership's postal address is not set: CASL and CAN-SPAM want it in every "
            "e-mail's footer. An admin can add it under Settings."
        )
    return warnings


def _save(key: str, channel: str, values: dict[str, str]):
    """A redirect to the list once saved, or the problems that stopped the save."""
    try:
        save_template(key, values, current_user)
    except InvalidTemplate as error:
        return error.problems
    flash(f"Template “{values['name']}” saved.", "success")
    for warning in template_warnings(channel, values["body_text"]):
        flash(warning, "warning")
    return redirect(url_for("templates_admin.index"), 303)


@bp.route("/<key>", methods=["GET", "POST"])
@role_required(*SUPERVISING_ROLES)
def edit(key: str):
    try:
        template = get_template(key)
    except UnknownTemplate:
        abort(404, f"There is no message template {key!r}.")
    form = TemplateForm(obj=template)
    problems: list[str] = []
    if form.validate_on_submit() and request.form.get("action") != "preview":
        outcome = _save(key, template.channel, _values(form))
        if not isinstance(outcome, list):
            return outcome
        problems = outcome
    preview, preview_problems = _preview(template.channel, _values(form))
    problems = problems or preview_problems
    status = 422 if form.is_submitted() and (problems or form.errors) else 200
    return render_template(
        "messaging/template_edit.html",
        template=template,
        form=form,
        problems=problems,
        warnings=_warnings(template.channel, form.body_text.data or ""),
        preview=preview,
        variables=ALLOWED_VARIABLES,
    ), status
