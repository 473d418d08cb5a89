"""Forms of the appointment pages; Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from dealer_leads.appointments.models import APPOINTMENT_KINDS

DURATIONS = {30: "30 min", 45: "45 min", 60: "1 hour", 90: "1 h 30", 120: "2 hours"}
MARKS = {"confirmed": "Confirmed", "shown": "Shown", "no_show": "No-show", "sold": "Sold"}


class BookForm(FlaskForm):
    """Book or move a visit: local date and time in the dealership's zone."""

    advisor_id = SelectField("Advisor", coerce=int)
    day = DateField("Date", validators=[DataRequired("choose a date")])
    clock = TimeField("Time", validators=[DataRequired("choose a time")])
    duration = SelectField("Length", coerce=int, choices=DURATIONS, default=60)
    kind = SelectField("Type", choices=APPOINTMENT_KINDS, default="test_drive")
    vehicle_ids = SelectMultipleField("Have ready", coerce=int, validate_choice=False)
    other_vehicles = StringField(
        "Other stock numbers or VINs", validators=[Length(max=200)], description="comma-separated"
    )
    notes = TextAreaField("Notes", validators=[Length(max=2000)])


class RescheduleForm(FlaskForm):
    day = DateField("Date", validators=[DataRequired("choose a date")])
    clock = TimeField("Time", validators=[DataRequired("choose a time")])
    duration = SelectField("Length", coerce=int, choices=DURATIONS, default=60)


class MarkForm(FlaskForm):
    status = SelectField("Status", choices=MARKS)


class CancelForm(FlaskForm):
    reason = StringField("Why", validators=[Length(max=200)])


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired("the note is empty"), Length(max=2000)])


class ReassignForm(FlaskForm):
    advisor_id = SelectField("Move to", coerce=int)


class ChooseSlotForm(FlaskForm):
    """The customer's choice on the self-scheduling page."""

    starts_at = HiddenField("Time", validators=[DataRequired("choose a time")])
    kind = SelectField(
        "What for",
        choices={
            "test_drive": "Test drive",
            "appraisal": "Trade-in appraisal",
            "general": "Just to talk",
        },
        default="test_drive",
    )


class BoardFilterForm(FlaskForm):
    class Meta:
        csrf = False

    day = DateField("Day", validators=[Optional()])
    span = SelectField("Show", choices={"day": "Day", "week": "Week"}, default="day")
    advisor = IntegerField("Advisor", validators=[Optional(), NumberRange(min=1)])
