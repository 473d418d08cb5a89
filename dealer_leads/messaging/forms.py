"""The message-template editor's form (the template checks themselves live in templates.py)."""

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

MAX_BODY = 20_000


class TemplateForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    subject = StringField("Subject (e-mail)", validators=[Length(max=250)])
    body_text = TextAreaField("Text", validators=[Length(max=MAX_BODY)])
    body_html = TextAreaField("HTML (e-mail)", validators=[Length(max=MAX_BODY)])
