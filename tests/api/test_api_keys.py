"""API keys: the service, `flask api-keys …`, and the /settings/api-keys page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from dealer_leads.api.services import (
    ApiKeyNotFound,
    InvalidApiKey,
    MissingApiKey,
    RevokedApiKey,
    UnknownApiKey,
    UnknownScope,
    authenticate_api_key,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from dealer_leads.auth.models import ApiKey
from dealer_leads.database import now_utc
from dealer_leads.extensions import db

KEY_PATTERN = re.compile(r"dl_[A-Za-z0-9_-]{43}")


# --- the service -------------------------------------------------------------------------------


def test_created_key_is_stored_as_a_hash_only(app):
    key, secret = create_api_key("  Cars.com  ", ["leads", "feeds", "leads"])
    assert KEY_PATTERN.fullmatch(secret)
    assert key.name == "Cars.com" and key.scope_list == ["leads", "feeds"]
    assert key.key_hash == ApiKey.hash_key(secret) and len(key.key_hash) == 64
    assert key.prefix == secret[:10] and secret not in (key.key_hash, key.prefix)
    assert create_api_key("Cars.com", ["leads"])[1] != secret


@pytest.mark.parametrize(
    "name, scopes, error",
    [
        ("", ["leads"], InvalidApiKey),
        ("x" * 121, ["leads"], InvalidApiKey),
        ("Cars.com", [], InvalidApiKey),
        ("Cars.com", [" "], InvalidApiKey),
        ("Cars.com", ["leads", "admin"], UnknownScope),
    ],
)
def test_bad_key_requests_are_refused(app, name, scopes, error):
    with pytest.raises(error):
        create_api_key(name, scopes)
    assert list_api_keys() == []


def test_authenticate_checks_and_notes_the_use(app):
    key, secret = create_api_key("Web site", ["leads"])
    assert key.last_used_at is None
    assert authenticate_api_key(secret).id == key.id
    first_use = db.session.get(ApiKey, key.id).last_used_at
    assert first_use is not None
    authenticate_api_key(secret)  # within the minute: not written again
    assert db.session.get(ApiKey, key.id).last_used_at == first_use
    later = now_utc() + timedelta(minutes=5)
    authenticate_api_key(secret, now=later)
    assert db.session.get(ApiKey, key.id).last_used_at == later


@pytest.mark.parametrize(
    "token, error",
    [
        (None, MissingApiKey),
        ("", MissingApiKey),
        ("dl_wrong", UnknownApiKey),
        ("x" * 5000, UnknownApiKey),
        ("clé", UnknownApiKey),
    ],
)
def test_authenticate_refuses_missing_and_unknown_keys(app, token, error):
    create_api_key("Web site", ["leads"])
    with pytest.raises(error):
        authenticate_api_key(token)


def test_revoked_key_is_refused_and_revoking_twice_keeps_the_date(app):
    key, secret = create_api_key("Old", ["leads"])
    revoked_at = revoke_api_key(key.id).revoked_at
    assert revoked_at is not None
    assert revoke_api_key(key.id, now=now_utc() + timedelta(days=1)).revoked_at == revoked_at
    with pytest.raises(RevokedApiKey):
        authenticate_api_key(secret)
    with pytest.raises(ApiKeyNotFound):
        revoke_api_key(999_999)


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_create_prints_the_key_alone_on_the_last_line(runner):
    result = runner.invoke(args=["api-keys", "create", "Cars.com", "--scope", "leads"])
    assert result.exit_code == 0, result.output
    secret = result.output.splitlines()[-1]
    assert KEY_PATTERN.fullmatch(secret)
    assert secret not in "\n".join(result.output.splitlines()[:-1])
    key = authenticate_api_key(secret)
    assert key.name == "Cars.com" and key.scope_list == ["leads"]


def test_cli_create_takes_several_scopes_and_needs_one(runner):
    result = runner.invoke(
        args=["api-keys", "create", "Feeds", "--scope", "inventory", "--scope", "feeds"]
    )
    assert result.exit_code == 0
    assert authenticate_api_key(result.output.splitlines()[-1]).scope_list == ["inventory", "feeds"]
    assert runner.invoke(args=["api-keys", "create", "None"]).exit_code != 0
    assert runner.invoke(args=["api-keys", "create", "Bad", "--scope", "root"]).exit_code != 0
    assert runner.invoke(args=["api-keys", "create", " ", "--scope", "leads"]).exit_code != 0
    assert len(list_api_keys()) == 1


def test_cli_list_and_revoke(runner):
    key, secret = create_api_key("Cars.com", ["leads"])
    listed = runner.invoke(args=["api-keys", "list"])
    assert listed.exit_code == 0
    assert "Cars.com" in listed.output and key.prefix in listed.output
    assert secret not in listed.output and "active" in listed.output
    revoked = runner.invoke(args=["api-keys", "revoke", str(key.id)])
    assert revoked.exit_code == 0 and "Revoked" in revoked.output
    assert "revoked" in runner.invoke(args=["api-keys", "list"]).output
    with pytest.raises(RevokedApiKey):
        authenticate_api_key(secret)
    missing = runner.invoke(args=["api-keys", "revoke", "999999"])
    assert missing.exit_code != 0 and "no API key" in missing.output


# --- the settings page -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, status",
    [
        (None, 302),
        ("supervisor", 403),
        ("advisor", 403),
        ("webmaster", 200),
        ("admin", 200),
    ],
)
def test_page_by_role(client, login_as, role, status):
    if role:
        login_as(role)
    assert client.get("/settings/api-keys").status_code == status
    response = client.post("/settings/api-keys", data={"name": "X", "scopes": ["leads"]})
    assert response.status_code == (200 if status == 200 else status)
    assert len(list_api_keys()) == (1 if status == 200 else 0)


def test_page_creates_a_key_and_shows_it_once(client, login_as):
    login_as("webmaster")
    response = client.post(
        "/settings/api-keys", data={"name": "CarGurus", "scopes": ["leads", "feeds"]}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    [secret] = set(KEY_PATTERN.findall(page))
    key = authenticate_api_key(secret)
    assert key.name == "CarGurus" and key.scope_list == ["leads", "feeds"]
    again = client.get("/settings/api-keys").get_data(as_text=True)
    assert "CarGurus" in again and key.prefix in again and secret not in again


def test_page_escapes_the_key_name(client, login_as):
    login_as("admin")
    client.post("/settings/api-keys", data={"name": "<script>x()</script>", "scopes": ["leads"]})
    page = client.get("/settings/api-keys").get_data(as_text=True)
    assert "<script>x()" not in page and "&lt;script&gt;x()" in page


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "scopes": ["leads"]},
        {"name": "No scope"},
        {"name": "Bad scope", "scopes": ["root"]},
        {"name": "x" * 121, "scopes": ["leads"]},
    ],
)
def test_page_refuses_bad_input(client, login_as, data):
    login_as("webmaster")
    response = client.post("/settings/api-keys", data=data)
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
    assert list_api_keys() == []


def test_page_revokes_a_key(client, login_as):
    login_as("webmaster")
    key, secret = create_api_key("Edmunds", ["leads"])
    response = client.post(f"/settings/api-keys/{key.id}/revoke")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/settings/api-keys")
    with pytest.raises(RevokedApiKey):
        authenticate_api_key(secret)
    page = client.get("/settings/api-keys").get_data(as_text=True)
    assert "Revoked the key Edmunds" in page
    assert client.post("/settings/api-keys/999999/revoke").status_code == 404


def test_revoke_needs_the_role(client, login_as):
    key, secret = create_api_key("Edmunds", ["leads"])
    login_as("advisor")
    assert client.post(f"/settings/api-keys/{key.id}/revoke").status_code == 403
    assert authenticate_api_key(secret).id == key.id


def test_forms_need_the_csrf_token(app_factory, make_user):

    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        email = make_user("webmaster").email
        key_id = create_api_key("Edmunds", ["leads"])[0].id
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    signed_in = client.post(
        "/login", data={"email": email, "password": "password123", "csrf_token": token}
    )
    assert signed_in.status_code == 302
    assert (
        client.post("/settings/api-keys", data={"name": "X", "scopes": ["leads"]}).status_code
        == 400
    )
    assert client.post(f"/settings/api-keys/{key_id}/revoke").status_code == 400
    page = client.get("/settings/api-keys").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    created = client.post(
        "/settings/api-keys", data={"name": "X", "scopes": ["leads"], "csrf_token": token}
    )
    assert created.status_code == 200
    assert (
        client.post(f"/settings/api-keys/{key_id}/revoke", data={"csrf_token": token}).status_code
        == 302
    )
    with app.app_context():
        assert db.session.get(ApiKey, key_id).revoked_at is not None


def test_only_an_admin_may_grant_reading_every_lead(client, login_as):
    login_as("webmaster")
    page = client.get("/settings/api-keys").get_data(as_text=True)
    assert 'value="leads:read"' not in page
    response = client.post("/settings/api-keys", data={"name": "CRM", "scopes": ["leads:read"]})
    assert response.status_code == 400 and list_api_keys() == []
    assert "leads:read&#39; is not a valid choice" in response.get_data(as_text=True)

    login_as("admin")
    assert 'value="leads:read"' in client.get("/settings/api-keys").get_data(as_text=True)
    response = client.post("/settings/api-keys", data={"name": "CRM", "scopes": ["leads:read"]})
    assert response.status_code == 200
    assert [key.scope_list for key in list_api_keys()] == [["leads:read"]]
