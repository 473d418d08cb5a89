"""The staff directory: employees by department, exportable as vCards."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, render_template

from dealer_leads.admin import directory
from dealer_leads.auth.models import ROLES
from dealer_leads.auth.services import role_required

bp = Blueprint("directory", __name__)


@bp.get("/directory")
@role_required(*ROLES)
def index():
    """Staff directory."""
    return render_template("admin/directory.html", groups=directory.list_directory())


@bp.get("/directory.vcf")
@role_required(*ROLES)
def export_all():
    """Everyone in the directory as one vCard file."""
    entries = [entry for _, rows in directory.list_directory() for entry in rows]
    return _vcard_response(directory.vcards(entries), "staff-directory.vcf")


@bp.get("/directory/<key>.vcf")
@role_required(*ROLES)
def export_one(key: str):
    """One person's (or one department's) vCard."""
    try:
        entry = directory.get_entry(key)
    except directory.EntryNotFound as missing:
        abort(404, str(missing))
    name = re.sub(r"[^A-Za-z0-9]+", "-", entry.name).strip("-").lower() or "contact"
    return _vcard_response(directory.vcards([entry]), f"{name}.vcf")


def _vcard_response(body: str, filename: str) -> Response:
    response = Response(body, mimetype="text/vcard")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
