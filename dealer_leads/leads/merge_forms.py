"""Forms of the merge pages; the per-field choices are radio buttons read by name."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired, NumberRange, Optional


class MergeForm(FlaskForm):
    """Which row survives and which is merged into it (the choices come as `choice-<field>`)."""

    survivor = IntegerField("Survivor", validators=[InputRequired(), NumberRange(min=1)])
    merged = IntegerField("Merged", validators=[InputRequired(), NumberRange(min=1)])
    back_to_lead = HiddenField(validators=[Optional()])


class UndoForm(FlaskForm):
    """Nothing but the CSRF token."""
