"""The staff directory: active staff grouped by department, and vCards (RFC 6350) of them."""

from __future__ import annotations

from dataclasses import dataclass

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.models import User
from dealer_leads.extensions import db

# Staff accounts belong to a department through their role; service, parts and finance are
# reached through the shared addresses the admin sets in the dealership settings.
ROLE_DEPARTMENTS = {
    "supervisor": ("Sales", "Internet sales supervisor"),
    "advisor": ("Sales", "Sales advisor"),
    "webmaster": ("Web site", "Webmaster"),
    "admin": ("Administration", "Administrator"),
}
ORDER = ("Sales", "Service", "Parts", "Finance", "Web site", "Administration")


@dataclass(frozen=True)
class Entry:
    """One line of the directory: a person, or a department's shared address."""

    key: str
    name: str
    title: str
    department: str
    email: str
    phone: str


class EntryNotFound(LookupError):
    """No directory entry with that key."""


def list_directory() -> list[tuple[str, list[Entry]]]:
    """Departments in a fixed order, each with its people (by name) and shared addresses."""
    entries = [_person(user) for user in _active_staff()] + _department_addresses()
    groups = {department: [] for department in ORDER}
    for entry in entries:
        groups.setdefault(entry.department, []).append(entry)
    return [
        (name, sorted(rows, key=lambda e: e.name.lower())) for name, rows in groups.items() if rows
    ]


def get_entry(key: str) -> Entry:
    """One entry by its key (`u<id>` for a person, `d<department>` for a shared address)."""
    for _, rows in list_directory():
        for entry in rows:
            if entry.key == key:
                return entry
    raise EntryNotFound(f"no one in the directory is {key!r}")


def _active_staff() -> list[User]:
    query = db.select(User).where(User.active.is_(True)).order_by(User.name)
    return list(db.session.scalars(query))


def _person(user: User) -> Entry:
    department, title = ROLE_DEPARTMENTS.get(user.role, ("Other", user.role))
    return Entry(f"u{user.id}", user.name, title, department, user.email, user.phone or "")


def _department_addresses() -> list[Entry]:
    dealership = get_dealership()
    found = []
    for department, address in sorted((dealership.department_emails or {}).items()):
        if address:
            label = department.capitalize()
            found.append(
                Entry(
                    f"d{department}",
                    f"{label} department",
                    "Shared address",
                    label,
                    address,
                    dealership.phone or "",
                )  # fmt: skip
            )
    return found


def _escape(value: str) -> str:
    """RFC 6350 text escaping: backslash, comma, semicolon and newlines."""
    return (
        value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\r\n", "\\n")
    ).replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with CRLF and a space (RFC 6350 3.2)."""
    data, parts = line.encode(), []
    while len(data) > 75:
        cut = 75
        while cut and (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        parts.append(data[:cut])
        data = data[cut:]
        if data:
            data = b" " + data
    parts.append(data)
    return b"\r\n".join(parts).decode()


def vcard(entry: Entry, organisation: str) -> str:
    """One vCard 4.0 for an entry."""
    lines = [
        "BEGIN:VCARD",
        "VERSION:4.0",
        f"FN:{_escape(entry.name)}",
        f"ORG:{_escape(organisation)};{_escape(entry.department)}",
        f"TITLE:{_escape(entry.title)}",
        f"EMAIL;TYPE=work:{_escape(entry.email)}",
    ]
    if entry.phone:
        lines.append(f"TEL;TYPE=work,voice;VALUE=uri:tel:{entry.phone.replace(' ', '')}")
    lines.append("END:VCARD")
    return "".join(_fold(line) + "\r\n" for line in lines)


def vcards(entries: list[Entry]) -> str:
    """Several vCards in one file, as address books import them."""
    organisation = get_dealership().name or ""
    return "".join(vcard(entry, organisation) for entry in entries)
