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


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PLAIN_FIELDS = (
    "name",
    "street",
    "city",
    "region",
    "postal_code",
    "phone",
    "website",
    "timezone",
    "duplicate_window_days",
    "auto_assign",
    "compliance_regime",
    "quiet_start",
    "quiet_end",
)


def _hours_text(span) -> str:
    return f"{span[0]}-{span[1]}" if span else "closed"


def _hours_value(text: str):
    """'09:00-21:00' → ["09:00", "21:00"]; 'closed' or empty → None."""
    text = text.strip().lower()
    if text in ("", "closed"):
        return None
    start, _, end = text.partition("-")
    return [start.strip(), end.strip()]


def _fill_settings_form(form: SettingsForm, dealership) -> None:
    for department in DEPARTMENT_FIELDS:
        form[f"{department}_email"].data = (dealership.department_emails or {}).get(department)
    for day in WEEKDAYS:
        form[f"hours_{day}"].data = _hours_text((dealership.business_hours or {}).get(day))
    form.holidays.data = "\n".join(dealership.holidays or [])


def _settings_values(form: SettingsForm) -> dict:
    values = {name: form[name].data for name in PLAIN_FIELDS}
    values["email"] = form.email.data or ""
    values["country"] = form.country.data.upper()
    values["department_emails"] = {d: form[f"{d}_email"].data or "" for d in DEPARTMENT_FIELDS}
    values["business_hours"] = {d: _hours_value(form[f"hours_{d}"].data or "") for d in WEEKDAYS}
    values["holidays"] = [
        line.strip() for line in (form.holidays.data or "").splitlines() if line.strip()
    ]
    return values


@bp.route("/settings", methods=["GET", "POST"])
@role_required("admin")
def settings():
    dealership = get_dealership()
    form = SettingsForm(obj=dealership)
    if not form.is_submitted():
        _fill_settings_form(form, dealership)
    if form.validate_on_submit():
        try:
            save_dealership(_settings_values(form))
        except InvalidSettings as error:
            for name, problem in error.fields.items():
                form[name].errors = [problem]
        else:
            flash("Settings saved.", "success")
            return redirect(url_for("admin.settings"), 303)
    status = 422 if form.errors else 200
    return render_template("admin/settings.html", form=form, weekdays=WEEKDAYS), status
