"""Message templates: a locked-down Jinja sandbox, checks at save time, rendering, merge fields.

Templates are edited by staff, so they run in an immutable sandbox with StrictUndefined: only the
documented variables exist, a misspelt one fails when saved (not when a customer's e-mail is
due), and nothing reaches Python internals. The context is plain dicts and strings built here
from the ORM objects by merge_fields.build_context; no model object is handed to the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup, escape

from dealer_leads.messaging.default_copy import DEFAULT_TEMPLATES, SAMPLE_CONTEXT
from dealer_leads.messaging.merge_fields import ALLOWED_VARIABLES, build_context

__all__ = [
    "ALLOWED_VARIABLES",
    "DEFAULT_TEMPLATES",
    "SAMPLE_CONTEXT",
    "Rendered",
    "build_context",
    "render_template",
    "template_warnings",
    "validate_template",
]

SMS_STATIC_LIMIT = 480  # three concatenated GSM-7 segments, roughly; longer texts get split badly


class _MessageSandbox(ImmutableSandboxedEnvironment):
    """Dicts expose their keys only: `customer.items` is unknown, not dict.items."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, dict):
            return obj[argument] if argument in obj else self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)


def _nl2br(value: Any) -> Markup:
    return Markup("<br>\n").join(escape(line) for line in str(value).splitlines())


def _environment(autoescape: bool) -> _MessageSandbox:
    # No trim_blocks: a line ending in an inline {% endif %} keeps its line break, as staff
    # expect; blank lines left by blocks on lines of their own are tidied after rendering.
    env = _MessageSandbox(undefined=StrictUndefined, autoescape=autoescape)
    env.globals.clear()  # no range, lipsum, cycler…: only the documented variables exist
    env.filters["nl2br"] = _nl2br if autoescape else str
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


@lru_cache(maxsize=256)
def _compile(source: str, html: bool) -> Template:
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


# --- checks --------------------------------------------------------------------------------------


def validate_template(channel: str, subject: str, body_text: str, body_html: str) -> list[str]:
    """Every reason this template cannot be saved (syntax, unknown fields, missing parts)."""
    if channel not in ("email", "sms"):
        return [f"Unknown channel {channel!r}: email or sms."]
    problems = []
    if channel == "email" and not subject.strip():
        problems.append("An e-mail needs a subject.")
    if not body_text.strip():
        problems.append(
            "A text message needs a body."
            if channel == "sms"
            else "An e-mail needs a plain-text body (some people only read that part)."
        )
    parts = [("Subject", subject, False), ("Text body", body_text, False)]
    if channel == "email":
        parts.append(("HTML body", body_html, True))
    for label, source, html in parts:
        if source:
            problems += _check_part(label, source, html)
    return problems


def template_warnings(channel: str, body_text: str) -> list[str]:
    """Things worth a second look that do not stop a save (a text message that is too long)."""
    if channel != "sms":
        return []
    try:
        ast = TEXT_ENV.parse(body_text)
    except TemplateSyntaxError:
        return []
    static = sum(len(node.data) for node in ast.find_all(nodes.TemplateData))
    if static > SMS_STATIC_LIMIT:
        return [
            f"The text message has {static} characters before merge fields (over "
            f"{SMS_STATIC_LIMIT}): phones split it into several messages."
        ]
    return []


def _check_part(label: str, source: str, html: bool) -> list[str]:
    env = HTML_ENV if html else TEXT_ENV
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as error:
        return [f"{label}, line {error.lineno}: {error.message}"]
    problems = [
        f"{label}: unknown variable {name!r} (known: {', '.join(ALLOWED_VARIABLES)})"
        for name in sorted(meta.find_undeclared_variables(ast) - set(ALLOWED_VARIABLES))
    ]
    problems += _check_fields(label, ast)
    if not problems:
        problems += _trial_render(label, source, html)
    return problems


def _check_fields(label: str, ast: nodes.Template) -> list[str]:
    """`customer.frist_name` is refused even inside an {% if %} a sample would not take."""
    problems = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        field = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(field, str) and field.startswith("_"):
            problems.append(f"{label}, line {node.lineno}: names starting with _ are not allowed")
        elif isinstance(node.node, nodes.Name) and isinstance(field, str):
            known = ALLOWED_VARIABLES.get(node.node.name)
            if known and field not in known:
                problems.append(
                    f"{label}, line {node.lineno}: {node.node.name}.{field} is not a known field "
                    f"(known: {', '.join(known)})"
                )
    return problems


def _trial_render(label: str, source: str, html: bool) -> list[str]:
    try:
        _compile(source, html).render(SAMPLE_CONTEXT)
    except SecurityError as error:
        return [f"{label}: not allowed: {error}"]
    except TemplateError as error:
        return [f"{label}: {error.message}"]
    except Exception as error:  # noqa: BLE001  (staff input: any failure is a message, not a 500)
        return [f"{label}: {type(error).__name__}: {error}"]
    return []


# --- rendering -----------------------------------------------------------------------------------


class TemplateLike(Protocol):
    subject: str
    body_text: str
    body_html: str


@dataclass(frozen=True)
class Rendered:
    """A template filled in: one-line subject, plain text, HTML ('' when the template has none)."""

    subject: str
    text: str
    html: str


def render_template(tpl: TemplateLike, context: dict) -> Rendered:
    """Fill a saved template with a context from build_context (errors: jinja2 exceptions)."""
    subject = " ".join(_compile(tpl.subject, False).render(context).split()) if tpl.subject else ""
    text = _tidy(_compile(tpl.body_text, False).render(context))
    html = _compile(tpl.body_html, True).render(context) if tpl.body_html.strip() else ""
    return Rendered(subject=subject, text=text, html=html)


def _tidy(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"


_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")
