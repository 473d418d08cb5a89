"""Forms for the API keys page (Flask-WTF, so CSRF applies)."""

from flask_wtf import FlaskForm
from wtforms import Field, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from dealer_leads.auth.models import ADMIN_ONLY_SCOPES, API_SCOPES


def _at_least_one(form: FlaskForm, field: Field) -> None:
    """Like DataRequired, without the `required` attribute (it would demand every box)."""
    if not field.data:
        raise ValidationError("Choose at least one scope.")


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    scopes = SelectMultipleField(
        "Scopes",
        choices={scope: scope for scope in API_SCOPES},
        default=["leads"],
        validators=[_at_least_one],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


def api_key_form(role: str, **options) -> ApiKeyForm:
    """The form offering the scopes `role` may grant: `leads:read` (every lead) is the admin's."""
    form = ApiKeyForm(**options)
    form.scopes.choices = [
        (scope, scope) for scope in API_SCOPES if role == "admin" or scope not in ADMIN_ONLY_SCOPES
    ]
    return form


class RevokeApiKeyForm(FlaskForm):
    """Only the CSRF token: revoking is a button."""
