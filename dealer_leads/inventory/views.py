"""Vehicle pages: list, vehicle page, new and edit (with VIN decoding), status, CSV import.

Supervisors, admins and webmasters manage the inventory; advisors see the list and the vehicle
pages only.
"""

from __future__ import annotations

from datetime import date, tzinfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from jinja2.filters import do_filesizeformat
from werkzeug.exceptions import RequestEntityTooLarge

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.models import STOCK_ROLES
from dealer_leads.auth.services import check_csrf, role_required
from dealer_leads.database import now_utc
from dealer_leads.extensions import csrf
from dealer_leads.inventory import imports, services
from dealer_leads.inventory.csv_import import IMPORT_FIELDS
from dealer_leads.inventory.feed_services import vehicle_feed_panel
from dealer_leads.inventory.forms import (
    STATUS_LABELS,
    ImportApplyForm,
    ImportUploadForm,
    StatusForm,
    VehicleForm,
    vehicle_form_data,
)
from dealer_leads.inventory.models import CONDITIONS, Vehicle
from dealer_leads.inventory.photo_publishing import ON_THE_LOT, days_to_photo
from dealer_leads.inventory.vehicle_values import InvalidVehicle
from dealer_leads.inventory.vpic import decode_vin
from dealer_leads.leads.normalize import whole_number

bp = Blueprint("inventory", __name__, url_prefix="/inventory")

VIEWERS = (*STOCK_ROLES, "advisor")
LIST_ARGS = ("status", "condition", "make", "year_from", "year_to", "q", "per_page")


def _today(zone: tzinfo) -> date:
    """Today on the dealership's calendar."""
    return now_utc().astimezone(zone).date()


def _number_arg(name: str, default: int | None, high: int = 100_000) -> int | None:
    value = request.args.get(name, "").strip()
    number = whole_number(value)
    return number if number is not None and 0 < number <= high else default


def _filters() -> services.VehicleFilters:
    return services.VehicleFilters(
        status=request.args.get("status", "") or services.IN_STOCK,
        condition=request.args.get("condition", ""),
        make=request.args.get("make", "")[:50],
        year_from=_number_arg("year_from", None, 9999),
        year_to=_number_arg("year_to", None, 9999),
        search=request.args.get("q", "")[:100],
    )


def _can_manage() -> bool:
    return current_user.role in STOCK_ROLES


@bp.route("/")
@role_required(*VIEWERS)
def index():
    page = services.list_vehicles(
        _filters(), page=_number_arg("page", 1) or 1, per_page=_number_arg("per_page", 50) or 50
    )
    page.args = {key: request.args.get(key, "") for key in LIST_ARGS}
    zone = dealership_zone()
    return render_template(
        "inventory/list.html",
        page=page,
        args=page.args,
        statuses=STATUS_LABELS,
        conditions=CONDITIONS,
        today=_today(zone),
        days_in_stock=services.days_in_stock,
        days_to_photo=lambda vehicle: days_to_photo(vehicle, zone),
        on_the_lot=ON_THE_LOT,
        can_manage=_can_manage(),
        status_form=StatusForm(),
    )


def _vehicle_or_404(vehicle_id: int) -> Vehicle:
    try:
        return services.get_vehicle(vehicle_id)
    except services.VehicleNotFound:
        abort(404, f"There is no vehicle #{vehicle_id}.")


@bp.route("/<int:vehicle_id>")
@role_required(*VIEWERS)
def detail(vehicle_id: int):
    vehicle = _vehicle_or_404(vehicle_id)
    zone = dealership_zone()
    return render_template(
        "inventory/detail.html",
        vehicle=vehicle,
        days=services.days_in_stock(vehicle, _today(zone)),
        days_to_photo=days_to_photo(vehicle, zone),
        statuses=STATUS_LABELS,
        can_manage=_can_manage(),
        status_form=StatusForm(status=vehicle.status),
        feed=vehicle_feed_panel(vehicle.id, now_utc()),
    )


def _render_edit(
    form: VehicleForm, vehicle: Vehicle | None, status: int = 200, *, needs_override: bool = False
):
    """The form; the override box shows once a VIN needed it (or was confirmed before)."""
    confirmed = bool(vehicle and vehicle.vin_override)
    show_override = needs_override or confirmed or bool(form.override_vin.data)
    page = render_template(
        "inventory/edit.html", form=form, vehicle=vehicle, show_override=show_override
    )
    return page, status


def _save(form: VehicleForm, vehicle: Vehicle | None):
    """One call to the service; its refusal is shown on the form, field by field."""
    try:
        saved = services.save_vehicle(
            form.values(),
            override_vin=form.override_vin.data,
            vehicle_id=vehicle.id if vehicle else None,
            decoder=decode_vin,
            must_be_new=vehicle is None,
        )
    except InvalidVehicle as error:
        for name, problem in error.fields.items():
            if name in form:
                form[name].errors = [*form[name].errors, problem]
        flash(error.message, "error")
        return _render_edit(form, vehicle, 422, needs_override=error.needs_override)
    if saved.decode_state == "pending":
        flash("NHTSA vPIC could not be reached: the vehicle is saved, decode pending.", "info")
    flash(f"Saved {saved.title or saved.vin}.", "success")
    return redirect(url_for("inventory.detail", vehicle_id=saved.id), 303)


@bp.route("/new", methods=["GET", "POST"])
@role_required(*STOCK_ROLES)
def new():
    form = VehicleForm()
    if form.validate_on_submit():
        return _save(form, None)
    return _render_edit(form, None, 422 if form.errors else 200)


@bp.route("/<int:vehicle_id>/edit", methods=["GET", "POST"])
@role_required(*STOCK_ROLES)
def edit(vehicle_id: int):
    vehicle = _vehicle_or_404(vehicle_id)
    form = VehicleForm(data=None if request.method == "POST" else vehicle_form_data(vehicle))
    if form.validate_on_submit():
        return _save(form, vehicle)
    return _render_edit(form, vehicle, 422 if form.errors else 200)


@bp.get("/decode")
@role_required(*STOCK_ROLES)
def decode():
    """JSON for the form's "Decode VIN" button: the VIN's check and what vPIC (or the VIN
    itself, offline) tells."""
    return jsonify(services.preview_decode(request.args.get("vin", "")[:40], decode_vin))


def _back(default: str) -> str:
    """The page to return to: a path on this site only."""
    target = request.form.get("next", "")
    return target if target.startswith("/inventory") and "//" not in target else default


@bp.post("/<int:vehicle_id>/status")
@role_required(*STOCK_ROLES)
def change_status(vehicle_id: int):
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400, "Choose a status.")
    try:
        vehicle = services.change_status(vehicle_id, form.status.data)
    except services.VehicleNotFound:
        abort(404, f"There is no vehicle #{vehicle_id}.")
    flash(f"{vehicle.title or vehicle.vin}: {STATUS_LABELS[vehicle.status].lower()}.", "success")
    return redirect(_back(url_for("inventory.detail", vehicle_id=vehicle_id)), 303)


# --- DMS import ------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@role_required(*STOCK_ROLES)
def import_upload():
    """The DMS file, up to MAX_IMPORT_BYTES (a stock list with descriptions outgrows the
    app-wide body limit); previewed, nothing imported yet."""
    limit = current_app.config["MAX_IMPORT_BYTES"]
    if request.method == "GET":
        return _import_page(ImportUploadForm(), 200)
    request.max_content_length = limit
    try:
        check_csrf()
        form = ImportUploadForm()
    except RequestEntityTooLarge:
        form = ImportUploadForm(formdata=None)
        size = do_filesizeformat(limit, binary=True)
        problem = f"The file is over {size}; import it with the command below."
        form.file.errors = [problem]
        return _import_page(form, 413)
    if form.validate():
        upload = form.file.data
        try:
            record = imports.preview_import(upload.read(), upload.filename or "", user=current_user)
        except imports.InvalidImport as error:
            form.file.errors = [error.message]
        else:
            return redirect(url_for("inventory.import_preview", import_id=record.id), 303)
    return _import_page(form, 422)


# The body is parsed only once the view has raised the size limit; CSRFProtect's before_request
# would parse it first under the app-wide MAX_CONTENT_LENGTH, so the view checks CSRF itself.
csrf.exempt(import_upload)


def _import_page(form: ImportUploadForm, status: int):
    page = render_template(
        "inventory/import.html",
        form=form,
        recent=imports.list_imports(),
        limit=current_app.config["MAX_IMPORT_BYTES"],
    )
    return page, status


@bp.get("/import/<int:import_id>")
@role_required(*STOCK_ROLES)
def import_preview(import_id: int):
    form = ImportApplyForm()
    try:
        preview = imports.get_import_preview(import_id)
    except imports.ImportNotFound:
        abort(404, f"There is no import #{import_id}.")
    return render_template(
        "inventory/import_preview.html", preview=preview, form=form, fields=IMPORT_FIELDS
    )


@bp.post("/import/<int:import_id>")
@role_required(*STOCK_ROLES)
def import_apply(import_id: int):
    """Re-map the columns ("Refresh preview") or apply the import ("Import")."""
    form = ImportApplyForm()
    if not form.validate_on_submit():
        abort(400, "The form is not valid.")
    mapping = {key[4:]: value for key, value in request.form.items() if key.startswith("map:")}
    back = redirect(url_for("inventory.import_preview", import_id=import_id), 303)
    try:
        if request.form.get("action") == "remap":
            imports.remap_import(import_id, mapping)
            flash("Preview updated with the new mapping.", "success")
            return back
        record = imports.apply_import(
            import_id,
            complete=form.complete.data,
            user=current_user,
            mapping=mapping,
            accept_vin_warnings=form.accept_vin_warnings.data,
        )
    except imports.ImportNotFound:
        abort(404, f"There is no import #{import_id}.")
    except (imports.InvalidImport, imports.ImportFailed) as error:
        flash(_problem_text(error), "error")
        return back
    flash(_summary(record), "success" if record.status == "applied" else "error")
    return back


def _problem_text(error: Exception) -> str:
    fields = getattr(error, "fields", {})
    details = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
    return f"{error} {details}".strip()


def _summary(record) -> str:
    text = (
        f"Imported: {record.rows_created} created, {record.rows_updated} updated, "
        f"{record.rows_failed} failed, {record.marked_sold} marked sold."
    )
    if record.status == "partial":
        text += " Rows with errors were skipped; nothing was marked sold."
    return text
