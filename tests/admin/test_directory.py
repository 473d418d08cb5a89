"""The staff directory page and its vCard export."""

from __future__ import annotations

from flask import g

from dealer_leads.admin.directory import Entry, vcard
from dealer_leads.admin.models import Dealership
from dealer_leads.extensions import db


def test_vcard_escapes_and_folds():
    entry = Entry("u1", "Lee, Jr; the \\ best", "Sales advisor", "Sales", "lee@x.example", "+1 416")
    card = vcard(entry, "Maple Ridge Motors " + "é" * 80)
    assert card.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n") and card.endswith("END:VCARD\r\n")
    assert "FN:Lee\\, Jr\\; the \\\\ best\r\n" in card
    assert "TEL;TYPE=work,voice;VALUE=uri:tel:+1416\r\n" in card
    assert all(len(line.encode()) <= 75 for line in card.split("\r\n"))
    unfolded = card.replace("\r\n ", "")
    assert "ORG:Maple Ridge Motors " + "é" * 80 + ";Sales" in unfolded


def test_directory_lists_staff_by_department(app, client, login_as, make_user):
    make_user("advisor", name="Ana Advisor", phone="+14165550101")
    make_user("advisor", name="Old Advisor", active=False)
    make_user("webmaster", name="Wes Web")
    db.session.add(
        Dealership(
            name="Maple Ridge", phone="+14165550100", department_emails={"service": "s@d.example"}
        )
    )
    db.session.commit()
    g.pop("dealership", None)
    login_as("advisor", name="Me Advisor")
    page = client.get("/directory").get_data(as_text=True)
    assert "Ana Advisor" in page and "+14165550101" in page and "Wes Web" in page
    assert "Old Advisor" not in page
    assert "Service department" in page and "s@d.example" in page
    assert (
        page.index("<h2>Sales</h2>")
        < page.index("<h2>Service</h2>")
        < page.index("<h2>Web site</h2>")
    )


def test_vcard_export_of_everyone_and_of_one(app, client, login_as, make_user):
    ana = make_user("advisor", name="Ana Advisor", phone="+14165550101")
    login_as("webmaster")
    everyone = client.get("/directory.vcf")
    assert everyone.mimetype == "text/vcard"
    assert everyone.get_data(as_text=True).count("BEGIN:VCARD") == 2
    one = client.get(f"/directory/u{ana.id}.vcf")
    assert one.status_code == 200 and "FN:Ana Advisor" in one.get_data(as_text=True)
    assert 'filename="ana-advisor.vcf"' in one.headers["Content-Disposition"]
    assert client.get("/directory/u999999.vcf").status_code == 404


def test_directory_needs_a_login(client):
    assert client.get("/directory").status_code == 302
    assert client.get("/directory.vcf").status_code == 302
