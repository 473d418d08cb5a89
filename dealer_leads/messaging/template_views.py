"""The message-template editor: list, edit with the checks shown on save, preview."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.services import role_required
from dealer_leads.messaging.email import dealership_footer, html_with_footer, text_with_footer
from dealer_leads.messaging.forms import TemplateForm
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

EDITORS = ("supervisor", "admin")


@bp.get("/")
@role_required(*EDITORS)
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


@bp.route("/<key>", methods=["GET", "POST"])
@role_required(*EDITORS)
def edit(key: str):
    try:
        template = get_template(key)
    except UnknownTemplate:
        abort(404, f"There is no message template {key!r}.")
    form = TemplateForm(obj=template)
    problems: list[str] = []
    if form.validate_on_submit():
        values = _values(form)
        if request.form.get("action") != "preview":
            try:
                save_template(key, values, current_user)
            except InvalidTemplate as error:
                problems = error.problems
            else:
                flash(f"Template “{values['name']}” saved.", "success")
                for warning in template_warnings(template.channel, values["body_text"]):
                    flash(warning, "warning")
                return redirect(url_for("templates_admin.index"), 303)
    preview, preview_problems = _preview(template.channel, _values(form))
    problems = problems or preview_problems
    status = 422 if form.is_submitted() and (problems or form.errors) else 200
    return render_template(
        "messaging/template_edit.html",
        template=template,
        form=form,
        problems=problems,
        warnings=template_warnings(template.channel, form.body_text.data or ""),
        preview=preview,
        variables=ALLOWED_VARIABLES,
    ), status
