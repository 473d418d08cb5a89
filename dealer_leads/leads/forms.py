"""Forms of the triage pages; Flask-WTF adds the CSRF token to each."""

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from dealer_leads.leads.contact_services import (
    CONSENT_CHANNELS,
    CONSENT_METHODS,
    OPT_OUT_CHANNELS,
)
from dealer_leads.leads.models import LEAD_STATUSES
from dealer_leads.leads.services import CALL_OUTCOMES

MANUAL_SOURCES = ("Phone", "Walk-in", "Chat", "Referral", "Other")


class AssignForm(FlaskForm):
    advisor_id = SelectField("Advisor", coerce=int)


class BulkAssignForm(FlaskForm):
    lead_ids = SelectMultipleField("Leads", coerce=int, validate_choice=False)
    advisor_id = SelectField("Assign to", coerce=int)


class CallForm(FlaskForm):
    outcome = SelectField("Outcome", choices=dict(CALL_OUTCOMES))
    notes = TextAreaField("Notes", validators=[Length(max=2000)])


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired(), Length(max=5000)])


class StatusForm(FlaskForm):
    status = SelectField("Status", choices={s: s.title() for s in LEAD_STATUSES})
    reason = StringField("Reason (required for lost)", validators=[Length(max=200)])


class ManualLeadForm(FlaskForm):
    """A lead taken by phone, at the showroom door or from a chat."""

    source = SelectField("How did they reach us?", choices={s: s for s in MANUAL_SOURCES})
    first_name = StringField("First name", validators=[DataRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[Length(max=100)])
    email = EmailField("E-mail", validators=[Length(max=254)])
    phone = StringField("Phone", validators=[Length(max=40)])
    department = SelectField(
        "Department",
        choices={
            "": "Decide from the inquiry",
            "sales": "Sales",
            "service": "Service",
            "parts": "Parts",
            "finance": "Finance",
        },
    )
    condition = SelectField("New or used", choices={"": "—", "new": "New", "used": "Used"})
    year = IntegerField("Year", validators=[Optional(), NumberRange(1900, 2100)])
    make = StringField("Make", validators=[Length(max=50)])
    model = StringField("Model", validators=[Length(max=50)])
    stock = StringField("Stock #", validators=[Length(max=30)])
    vin = StringField("VIN", validators=[Length(max=17)])
    comments = TextAreaField("What they asked", validators=[Length(max=10000)])


class ReprocessForm(FlaskForm):
    raw = TextAreaField("Payload", validators=[DataRequired(), Length(max=2_000_000)])


class DiscardForm(FlaskForm):
    pass


class ContactForm(FlaskForm):
    """The customer's e-mail and phone, corrected by staff; the service checks the values."""

    email = EmailField("E-mail", validators=[Length(max=254)])
    phone = StringField("Phone", validators=[Length(max=40)])


class OptOutForm(FlaskForm):
    channel = SelectField("Opt out of", choices=dict(OPT_OUT_CHANNELS))


class ConsentForm(FlaskForm):
    """The customer told a person they want texts or e-mail: which, and how they said so."""

    channel = SelectField("Customer gave express consent to", choices=dict(CONSENT_CHANNELS))
    method = SelectField("How", choices=dict(CONSENT_METHODS))
    note = StringField("Note (required for other)", validators=[Length(max=200)])
