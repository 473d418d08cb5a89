"""The admin's pages: users and roles, dealership settings."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for

from dealer_leads.admin.forms import SettingsForm, UserStateForm
from dealer_leads.admin.services import InvalidSettings, get_dealership, save_dealership
from dealer_leads.auth.forms import UserForm
from dealer_leads.auth.services import InvalidUser, create_user, list_users, role_required
from dealer_leads.auth.services import set_user_state as update_user

bp = Blueprint("admin", __name__, url_prefix="/admin")

DEPARTMENT_FIELDS = ("service", "parts", "finance")


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = UserForm()
    if form.validate_on_submit():
        try:
            create_user(
                form.email.data,
                form.role.data,
                form.name.data,
                form.password.data,
                form.phone.data or "",
            )
        except InvalidUser as error:
            form.email.errors = [str(error)]
        else:
            flash(f"User {form.email.data} created.", "success")
            return redirect(url_for("admin.users"), 303)
    status = 422 if form.errors else 200
    return render_template(
        "admin/users.html", form=form, users=list_users(), state_form=UserStateForm
    ), status


@bp.route("/users/<int:user_id>", methods=["POST"])
@role_required("admin")
def user_state(user_id: int):
    form = UserStateForm()
    if not form.validate_on_submit():
        abort(400, "choose a known role")
    try:
        update_user(
            user_id, role=form.role.data, active=form.active.data, on_shift=form.on_shift.data
        )
    except InvalidUser as error:
        abort(404, str(error))
    flash("User updated.", "success")
    return redirect(url_for("admin.users"), 303)


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings():
    dealership = get_dealership()
    form = SettingsForm(obj=dealership)
    if not form.is_submitted():
        for department in DEPARTMENT_FIELDS:
            form[f"{department}_email"].data = (dealership.department_emails or {}).get(department)
    if form.validate_on_submit():
        values = {
            name: form[name].data
            for name in form._fields
            if name != "csrf_token" and not name.endswith("_email")
        }
        values["email"] = form.email.data or ""
        values["department_emails"] = {d: form[f"{d}_email"].data or "" for d in DEPARTMENT_FIELDS}
        values["country"] = values["country"].upper()
        try:
            save_dealership(values)
        except InvalidSettings as error:
            for name, problem in error.fields.items():
                form[name].errors = [problem]
        else:
            flash("Settings saved.", "success")
            return redirect(url_for("admin.settings"), 303)
    status = 422 if form.errors else 200
    return render_template("admin/settings.html", form=form), status
