"""The admin's forms: dealership settings and user state."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from dealer_leads.auth.models import ROLES


class SettingsForm(FlaskForm):
    name = StringField("Dealership name", validators=[DataRequired(), Length(max=120)])
    street = StringField("Street", validators=[Length(max=200)])
    city = StringField("City", validators=[Length(max=100)])
    region = StringField("Province / state", validators=[Length(max=50)])
    postal_code = StringField("Postal code", validators=[Length(max=20)])
    country = StringField(
        "Country (ISO code, e.g. CA)", validators=[DataRequired(), Length(min=2, max=2)]
    )
    phone = StringField("Phone", validators=[Length(max=40)])
    email = EmailField("E-mail", validators=[Optional(), Length(max=254)])
    website = StringField("Web site", validators=[Length(max=200)])
    timezone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
    duplicate_window_days = IntegerField(
        "Repeat-inquiry window (days)", validators=[DataRequired(), NumberRange(0, 365)]
    )
    auto_assign = BooleanField("Assign new sales leads round robin")
    service_email = EmailField(
        "Service department e-mail", validators=[Optional(), Length(max=254)]
    )
    parts_email = EmailField("Parts department e-mail", validators=[Optional(), Length(max=254)])
    finance_email = EmailField(
        "Finance department e-mail", validators=[Optional(), Length(max=254)]
    )

    compliance_regime = SelectField(
        "Messaging rules",
        choices={"CA": "Canada (CASL)", "US": "United States (CAN-SPAM, TCPA)"},
    )
    quiet_start = StringField("Calls and texts from (HH:MM)", validators=[Length(max=5)])
    quiet_end = StringField("Calls and texts until (HH:MM)", validators=[Length(max=5)])
    hours_mon = StringField("Monday", validators=[Length(max=20)])
    hours_tue = StringField("Tuesday", validators=[Length(max=20)])
    hours_wed = StringField("Wednesday", validators=[Length(max=20)])
    hours_thu = StringField("Thursday", validators=[Length(max=20)])
    hours_fri = StringField("Friday", validators=[Length(max=20)])
    hours_sat = StringField("Saturday", validators=[Length(max=20)])
    hours_sun = StringField("Sunday", validators=[Length(max=20)])
    holidays = TextAreaField(
        "Holidays (one date a line, e.g. 2026-12-25)", validators=[Length(max=5000)]
    )

    def validate_timezone(self, field):
        try:
            ZoneInfo(field.data or "")
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValidationError("not a known time zone (e.g. America/Toronto)") from error


class UserStateForm(FlaskForm):
    role = SelectField("Role", choices={r: r.title() for r in ROLES})
    active = BooleanField("Active")
    on_shift = BooleanField("On shift")
