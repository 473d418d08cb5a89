"""Leads out of an e-mail (pure): its ADF documents, or a plain inquiry from a person or a
web-site form mailer, kept whole as the lead's comments. The intake service calls this for the
"email" channel, so a message a person corrects in the needs-review queue runs the same way."""

from __future__ import annotations

import re
from dataclasses import replace

from dealer_leads.leads.adf import InvalidAdf, parse_adf
from dealer_leads.leads.channels import MAX_COMMENTS, InvalidPayload
from dealer_leads.leads.normalize import ContactIn, LeadIn, VehicleIn, clean_text, whole_number
from dealer_leads.messaging.mail_in import InMail, read_mail_once
from dealer_leads.messaging.mailbox_forwards import Forwarded

# "Label: value" lines of form mailers, by what the label means.
_LABELS = {
    "full_name": ("name", "full name", "your name", "customer name", "contact name"),
    "first_name": ("first name", "firstname", "given name", "prenom", "prénom"),
    "last_name": ("last name", "lastname", "surname", "family name", "nom"),
    "email": ("email", "e-mail", "email address", "e-mail address", "your email", "courriel"),
    "phone": ("phone", "telephone", "phone number", "tel", "cell", "mobile", "daytime phone"),
    "year": ("year", "vehicle year"),
    "make": ("make", "vehicle make"),
    "model": ("model", "vehicle model"),
    "vin": ("vin",),
    "stock": ("stock", "stock number", "stock #", "stock no"),
}
_BY_LABEL = {label: name for name, labels in _LABELS.items() for label in labels}
_FIELD_LINE = re.compile(r"^\s*\*?([A-Za-zÀ-ÿ][A-Za-zÀ-ÿ #._-]{0,30}?)\*?\s*[:=]\s*(.+?)\s*$")


def leads_from_email(raw: bytes) -> list[LeadIn]:
    """The prospects in a raw e-mail: every ADF document in it, else one plain inquiry."""
    mail = read_mail_once(raw)
    if mail.adf_documents:
        leads = []
        for document in mail.adf_documents:
            try:
                leads += parse_adf(document)
            except InvalidAdf as error:
                raise InvalidPayload(f"ADF document in the e-mail refused: {error}") from error
        return leads
    return [inquiry_from_mail(mail)]


def form_fields(text: str) -> dict[str, str]:
    """The known "Label: value" lines of a form mailer's body, first value of each kept."""
    found: dict[str, str] = {}
    for line in text.splitlines()[:400]:
        match = _FIELD_LINE.match(line)
        if not match:
            continue
        name = _BY_LABEL.get(match.group(1).strip().lower().rstrip(" .#"))
        if name is None:
            name = _BY_LABEL.get(match.group(1).strip().lower())
        if name and name not in found:
            found[name] = match.group(2)[:200]
    return found


def inquiry_from_mail(mail: InMail) -> LeadIn:
    """A person writing in, or a form mailer: the contact from the form fields, else the
    sender; the whole message (subject and text) becomes the comments."""
    fields = form_fields(mail.text)
    email = fields.get("email", "")
    match = re.search(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+", email)
    email = match.group(0) if match else ""
    phone = fields.get("phone", "")
    from_form = bool(email or phone)
    if not from_form:
        if mail.automatic:
            raise InvalidPayload("an automatic message with no customer contact in it")
        email = mail.reply_to or mail.from_address
    elif mail.automatic and email.lower() in (mail.from_address, mail.reply_to):
        raise InvalidPayload("an automatic message whose only contact is its own sender")
    name = fields.get("full_name", "") or ("" if from_form else mail.from_name)
    contact = ContactIn(
        first_name=fields.get("first_name", ""),
        last_name=fields.get("last_name", ""),
        full_name=name if not (fields.get("first_name") or fields.get("last_name")) else "",
        email=email,
        phones=[("voice", phone)] if phone else [],
    )
    if not (contact.email or contact.phones):
        raise InvalidPayload("the message has no sender address to answer")
    return LeadIn(
        contact=contact,
        vehicles=_vehicle(fields),
        comments=_comments(mail.subject, mail.text),
        warnings=list(mail.warnings),
    )


def forwarded_inquiry(mail: InMail, original: Forwarded) -> LeadIn:
    """A customer's message a member of staff forwarded: the contact comes from the original
    (its form fields, else its Reply-To or From; never the forwarder), and the whole forward,
    the forwarder's own lines included, is kept as the comments."""
    as_sent = replace(
        mail,
        from_name=original.from_name,
        from_address=original.from_address,
        reply_to=original.reply_to,
        subject=original.subject or mail.subject,
        text=original.text,
        auto_submitted=original.auto_submitted,
        auto_reply=False,
        report=False,
    )
    lead = inquiry_from_mail(as_sent)
    text = mail.text
    if original.attached:  # the outer text is only the forwarder's note: add the original
        sender = f"{original.from_name} <{original.from_address or original.reply_to}>".strip()
        heading = f"---------- Forwarded message ----------\nFrom: {sender}"
        text = f"{text}\n\n{heading}\nSubject: {original.subject}\n\n{original.text}"
    lead.comments = _comments(mail.subject, text)
    return lead


def _comments(subject: str, text: str) -> str:
    """The whole message as the lead's comments: its subject, then its text."""
    comments = f"Subject: {subject}\n\n{text}" if subject else text
    return comments.strip()[:MAX_COMMENTS]


def _vehicle(fields: dict[str, str]) -> list[VehicleIn]:
    year = fields.get("year", "").strip()
    wanted = VehicleIn(
        interest="buy",
        year=number if (number := whole_number(year)) and 1900 <= number <= 2100 else None,
        make=clean_text(fields.get("make", ""), 50),
        model=clean_text(fields.get("model", ""), 50),
        vin=clean_text(fields.get("vin", ""), 17).upper(),
        stock=clean_text(fields.get("stock", ""), 30),
    )
    return [wanted] if wanted.year or wanted.make or wanted.model or wanted.vin else []
