"""/settings/api-keys: the webmaster and admin create and revoke lead providers' keys."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from dealer_leads.api.forms import RevokeApiKeyForm, api_key_form
from dealer_leads.api.services import (
    ApiKeyNotFound,
    InvalidApiKey,
    UnknownScope,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from dealer_leads.auth.models import SITE_ROLES
from dealer_leads.auth.services import role_required

bp = Blueprint("api_keys", __name__)


@bp.route("/settings/api-keys", methods=["GET", "POST"])
@role_required(*SITE_ROLES)
def index():
    """The keys, and a form to make one; a new key is shown on this answer only."""
    form, created, secret = api_key_form(current_user.role), None, None
    if form.validate_on_submit():
        try:
            created, secret = create_api_key(form.name.data, form.scopes.data)
        except InvalidApiKey as error:
            field = form.scopes if isinstance(error, UnknownScope) else form.name
            field.errors = [*field.errors, str(error)]
        else:
            form = api_key_form(current_user.role, formdata=None)
    status = 400 if form.errors else 200
    response = render_template(
        "api/keys.html",
        form=form,
        keys=list_api_keys(),
        revoke_form=RevokeApiKeyForm(),
        created=created,
        secret=secret,
    )
    headers = {"Cache-Control": "no-store"} if secret else {}
    return response, status, headers


@bp.post("/settings/api-keys/<int:key_id>/revoke")
@role_required(*SITE_ROLES)
def revoke(key_id: int):
    if not RevokeApiKeyForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    try:
        key = revoke_api_key(key_id)
    except ApiKeyNotFound:
        abort(404, f"There is no API key #{key_id}.")
    flash(f"Revoked the key {key.name} ({key.prefix}…); requests using it are refused.", "info")
    return redirect(url_for("api_keys.index"))
