"""Forms for the API keys page (Flask-WTF, so CSRF applies)."""

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from dealer_leads.auth.models import API_SCOPES


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    scopes = SelectMultipleField(
        "Scopes",
        choices=[(scope, scope) for scope in API_SCOPES],
        default=["leads"],
        validators=[DataRequired(message="Choose at least one scope.")],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class RevokeApiKeyForm(FlaskForm):
    """Only the CSRF token: revoking is a button."""
