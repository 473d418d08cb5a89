"""Who may open which page: one table of role × URL → status."""

import pytest
from builders import ingest

ANON = None
# fmt: off
PAGES = [
    # url                      anon  supervisor  advisor  webmaster  admin
    ("/leads/",                302,  200,        200,     403,       200),
    ("/leads/{lead}",          302,  200,        404,     403,       200),
    ("/leads/new",             302,  200,        200,     403,       200),
    ("/leads/review",          302,  200,        403,     403,       200),
    ("/leads/{lead}/merge",    302,  200,        403,     403,       200),
    ("/merges",                302,  200,        403,     403,       200),
    ("/templates/",            302,  200,        403,     403,       200),
    ("/inquiry/embed-code",    302,  200,        403,     200,       200),
    ("/settings/api-keys",     302,  403,        403,     200,       200),
    ("/admin/users",           302,  403,        403,     403,       200),
    ("/admin/settings",        302,  403,        403,     403,       200),
    ("/inventory/feeds",       302,  403,        403,     200,       200),
    ("/inventory/promotions",  302,  200,        403,     200,       200),
    ("/dashboard",             302,  200,        403,     403,       200),
    ("/dashboard/objectives",  302,  200,        403,     403,       200),
    ("/customers",             302,  200,        403,     403,       200),
    ("/customers/export.csv",  302,  200,        403,     403,       200),
    ("/inquiry",               200,  200,        200,     200,       200),
    ("/login",                 200,  200,        200,     200,       200),
    ("/api/v1/openapi.json",   200,  200,        200,     200,       200),
    ("/mailbox",               302,  200,        403,     403,       200),
    ("/directory",             302,  200,        200,     200,       200),
    ("/directory.vcf",         302,  200,        200,     200,       200),
    ("/appointments",          302,  200,        200,     403,       200),
    ("/appointments/calendar", 302,  200,        200,     403,       200),
    ("/calendar/unknown.ics",  404,  404,        404,     404,       404),
    ("/book/forged-token",     404,  404,        404,     404,       404),
]
# fmt: on
ROLES = [ANON, "supervisor", "advisor", "webmaster", "admin"]


@pytest.mark.parametrize("role_index, role", list(enumerate(ROLES)))
def test_role_table(client, login_as, role_index, role):
    lead_id = ingest().lead_id  # assigned to nobody: no advisor exists yet
    if role:
        login_as(role)
    for row in PAGES:
        url, expected = row[0].format(lead=lead_id), row[1 + role_index]
        response = client.get(url)
        assert response.status_code == expected, f"{role} {url}"


def test_advisor_sees_own_lead_only(client, make_user, login_as):
    advisor = login_as("advisor")
    other = make_user("advisor")
    mine = ingest().lead_id
    theirs = ingest().lead_id
    from dealer_leads.extensions import db
    from dealer_leads.leads.models import Lead

    db.session.get(Lead, mine).assigned_to_id = advisor.id
    db.session.get(Lead, theirs).assigned_to_id = other.id
    db.session.commit()
    assert client.get(f"/leads/{mine}").status_code == 200
    assert client.get(f"/leads/{theirs}").status_code == 404
    page = client.get("/leads/").get_data(as_text=True)
    assert f"/leads/{mine}" in page and f"/leads/{theirs}" not in page


def test_webmaster_sees_no_personal_data(client, login_as):
    ingest(customer={"first_name": "Secret", "last_name": "Person", "email": "s@example.com"})
    login_as("webmaster")
    for url in ("/", "/inquiry/embed-code"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200
        assert "s@example.com" not in response.get_data(as_text=True)
