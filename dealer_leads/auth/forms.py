"""Sign-in and user forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from dealer_leads.auth.models import ROLES


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class UserForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices={r: r.title() for r in ROLES})
    phone = StringField("Phone", validators=[Length(max=40)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)])
