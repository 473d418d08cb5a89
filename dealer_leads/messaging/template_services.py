"""Message templates in the database: the shipped defaults, reading, checking and saving them.

A shipped template that nobody has edited yet is served from DEFAULT_TEMPLATES (unsaved), so a
fresh installation lists and sends them before `ensure_default_templates` has run.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError

from dealer_leads.extensions import db
from dealer_leads.messaging.merge_fields import dealership_values
from dealer_leads.messaging.models import MessageTemplate
from dealer_leads.messaging.templates import (
    DEFAULT_TEMPLATES,
    SAMPLE_CONTEXT,
    Rendered,
    render_template,
    validate_template,
)

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
FIELDS = ("name", "subject", "body_text", "body_html")
DEFAULTS = {entry["key"]: entry for entry in DEFAULT_TEMPLATES}


class InvalidTemplate(ValueError):
    """A template that cannot be saved; `problems` lists every reason, for the editor."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class UnknownTemplate(LookupError):
    """No saved or shipped template has this key."""


def _saved(key: str) -> MessageTemplate | None:
    return db.session.scalar(db.select(MessageTemplate).where(MessageTemplate.key == key))


def get_template(key: str) -> MessageTemplate:
    """The saved template, or the shipped default (not saved) when nobody has edited it yet."""
    template = _saved(key)
    if template is not None:
        return template
    if key in DEFAULTS:
        return MessageTemplate(**DEFAULTS[key])
    raise UnknownTemplate(f"no message template {key!r}")


def list_templates() -> list[MessageTemplate]:
    """Every template: the shipped ones in plan order (saved or not), then the others by name."""
    saved = {t.key: t for t in db.session.scalars(db.select(MessageTemplate))}
    shipped = [saved.pop(key, None) or MessageTemplate(**entry) for key, entry in DEFAULTS.items()]
    return shipped + sorted(saved.values(), key=lambda t: t.name.lower())


def _clean(values: dict[str, Any], channel: str) -> dict[str, str]:
    """Form text as stored: Unix line endings; a text message has no subject or HTML part."""
    cleaned = {name: str(values.get(name) or "").replace("\r\n", "\n") for name in FIELDS}
    cleaned["name"] = cleaned["name"].strip()
    if channel == "sms":
        cleaned.update(subject="", body_html="")
    return cleaned


def check_template(key: str, channel: str, values: dict[str, str]) -> list[str]:
    """Every reason these values cannot be saved under this key."""
    problems = [] if KEY.match(key) else ["The key must be lower-case letters, digits and _."]
    if not values["name"]:
        problems.append("The template needs a name.")
    return problems + validate_template(
        channel, values["subject"], values["body_text"], values["body_html"]
    )


def _channel(key: str, template: MessageTemplate | None, values: dict[str, Any]) -> str:
    """A template keeps its channel: plans refer to it by key for an e-mail or a text step."""
    if template is not None:
        return template.channel
    if key in DEFAULTS:
        return DEFAULTS[key]["channel"]
    return str(values.get("channel") or "")


def save_template(key: str, values: dict[str, Any], user: Any | None) -> MessageTemplate:
    """Check and store a template (creating a shipped one on its first edit); commits.

    `values`: name, subject, body_text, body_html; `channel` only for a key not known yet."""
    template = _saved(key)
    channel = _channel(key, template, values)
    cleaned = _clean(values, channel)
    problems = check_template(key, channel, cleaned)
    if problems:
        raise InvalidTemplate(problems)
    if template is None:
        template = MessageTemplate(key=key, channel=channel)
        db.session.add(template)
    for name, value in cleaned.items():
        setattr(template, name, value)
    template.updated_by_id = getattr(user, "id", None)
    try:
        db.session.commit()
    except IntegrityError as error:  # the same new key saved twice at once
        db.session.rollback()
        raise InvalidTemplate(["Saved by someone else just now; reload and try again."]) from error
    return template


def ensure_default_templates() -> int:
    """Save the shipped templates that are missing (edited ones are kept); commits. Returns the
    number created."""
    existing = set(db.session.scalars(db.select(MessageTemplate.key)))
    created = 0
    for key, entry in DEFAULTS.items():
        if key in existing:
            continue
        try:
            with db.session.begin_nested():  # another process seeding at once is fine
                db.session.add(MessageTemplate(**entry))
            created += 1
        except IntegrityError:
            continue
    db.session.commit()
    return created


def preview_template(channel: str, values: dict[str, Any], dealership: Any) -> Rendered:
    """The template filled with sample merge fields and the real dealership (InvalidTemplate
    when it does not pass the checks)."""
    cleaned = _clean(values, channel)
    problems = validate_template(
        channel, cleaned["subject"], cleaned["body_text"], cleaned["body_html"]
    )
    if problems:
        raise InvalidTemplate(problems)
    context = {**SAMPLE_CONTEXT, "dealership": dealership_values(dealership)}
    return render_template(MessageTemplate(channel=channel, **cleaned), context)
