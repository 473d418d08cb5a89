"""The leads mailbox: messages read, what each became, and the ones that need a person."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from dealer_leads.auth.models import SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.leads.normalize import whole_number
from dealer_leads.messaging import mailbox_reads
from dealer_leads.messaging.mail_in import split_quoted

bp = Blueprint("mailbox", __name__)


def _id_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    if not value:
        return None
    number = whole_number(value)
    if number is None:
        abort(400, f"{name} must be a message number")
    return number


@bp.get("/mailbox")
@role_required(*SUPERVISING_ROLES)
def index():
    """Received e-mails, newest first, with what each became; a page at a time."""
    kind = request.args.get("kind", "")
    if kind and kind not in mailbox_reads.KINDS:
        abort(400, f"kind must be one of {', '.join(mailbox_reads.KINDS)}")
    before, after = _id_arg("before"), _id_arg("after")
    page = mailbox_reads.list_mail(kind, before=before, after=after)
    return render_template(
        "mailbox/index.html",
        page=page,
        rows=page.rows,
        paged=before is not None or after is not None,
        kind=kind,
        kinds=mailbox_reads.KINDS,
        states=mailbox_reads.mailbox_states(),
        imap_host=current_app.config.get("IMAP_HOST", ""),
    )


@bp.get("/mailbox/<int:inbound_id>")
@role_required(*SUPERVISING_ROLES)
def message(inbound_id: int):
    """One received e-mail, readable, with its quoted part folded and its raw source."""
    try:
        row = mailbox_reads.get_mail(inbound_id)
    except mailbox_reads.MailNotFound as missing:
        abort(404, str(missing))
    written, quoted = split_quoted(row.mail.text)
    return render_template("mailbox/message.html", row=row, written=written, quoted=quoted)
