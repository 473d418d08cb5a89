"""Forms of the inventory pages; Flask-WTF adds the CSRF token to each.

The vehicle form only carries text: the rules (ranges, lengths, the VIN policy) live in the
service, so the page, the API and the DMS import answer alike.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField

from dealer_leads.inventory.models import CONDITIONS, ODOMETER_UNITS, VEHICLE_STATUSES, Vehicle
from dealer_leads.inventory.vehicle_values import VEHICLE_FIELDS

STATUS_LABELS = {status: status.replace("_", " ").capitalize() for status in VEHICLE_STATUSES}


class VehicleForm(FlaskForm):
    vin = StringField("VIN")
    stock_number = StringField("Stock #")
    year = StringField("Year")
    make = StringField("Make")
    model = StringField("Model")
    trim = StringField("Trim")
    body_style = StringField("Body style")
    condition = SelectField("Condition", choices={c: c.title() for c in CONDITIONS})
    odometer = StringField("Odometer")
    odometer_unit = SelectField("Unit", choices={u: u for u in ODOMETER_UNITS})
    exterior_color = StringField("Exterior colour")
    interior_color = StringField("Interior colour")
    drivetrain = StringField("Drivetrain")
    fuel = StringField("Fuel")
    transmission = StringField("Transmission")
    price = StringField("Price")
    msrp = StringField("MSRP")
    status = SelectField("Status", choices=STATUS_LABELS, default="available")
    in_stock_on = StringField("Date in stock")
    options = TextAreaField("Options (one per line)")
    description = TextAreaField("Description")
    override_vin = BooleanField("This VIN is right: save it although it has no check digit")

    def values(self) -> dict[str, str]:
        """The vehicle fields as typed, for the service to clean."""
        return {name: self[name].data or "" for name in VEHICLE_FIELDS}


def vehicle_form_data(vehicle: Vehicle) -> dict[str, str]:
    """A vehicle as the form shows it: text, options one per line."""
    data = {name: getattr(vehicle, name) for name in VEHICLE_FIELDS}
    data["options"] = "\n".join(vehicle.options or [])
    data["in_stock_on"] = vehicle.in_stock_on.isoformat() if vehicle.in_stock_on else ""
    return {name: "" if value is None else str(value) for name, value in data.items()}


class StatusForm(FlaskForm):
    status = SelectField("Status", choices=STATUS_LABELS)
    next = HiddenField()


class ImportUploadForm(FlaskForm):
    file = FileField("CSV file from the DMS", validators=[FileRequired("Choose a CSV file.")])


class ImportApplyForm(FlaskForm):
    """Apply or re-map; the column selects (`map:<column>`) are read by the view."""

    complete = BooleanField(
        "This file is the complete stock list: mark vehicles missing from it as sold"
    )
    accept_vin_warnings = BooleanField("Accept VINs without a check digit (checked by a person)")
