"""Sign-in, roles, CSRF, rate limit, and the users CLI."""

import pytest
from support import login

from dealer_leads.auth.models import User
from dealer_leads.auth.services import InvalidUser, authenticate, create_user
from dealer_leads.extensions import db


def test_passwords_are_hashed_and_checked(app):
    user = create_user("Boss@Example.com", "supervisor", "Boss", "correct horse")
    assert user.email == "boss@example.com" and "correct horse" not in user.password_hash
    assert authenticate("BOSS@example.com", "correct horse") == user
    assert authenticate("boss@example.com", "wrong") is None
    user.active = False
    db.session.commit()
    assert authenticate("boss@example.com", "correct horse") is None


@pytest.mark.parametrize(
    "email, role, password, message",
    [
        ("a@example.com", "king", "password1", "unknown role"),
        ("not-an-email", "advisor", "password1", "not an e-mail"),
        ("a@example.com", "advisor", "short", "at least 8"),
    ],
)
def test_create_user_refusals(app, email, role, password, message):
    with pytest.raises(InvalidUser, match=message):
        create_user(email, role, "Name", password)


def test_login_logout_and_next(client, make_user):
    user = make_user("supervisor")
    assert client.get("/leads/").status_code == 302
    response = client.post(
        "/login?next=/leads/review", data={"email": user.email, "password": "password123"}
    )
    assert response.headers["Location"] == "/leads/review"
    assert client.get("/leads/").status_code == 200
    assert client.get("/logout").status_code == 405  # signing out is a POST
    client.post("/logout")
    assert client.get("/leads/").status_code == 302


def test_login_refuses_offsite_next(client, make_user):
    user = make_user("advisor")
    response = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": "password123"}
    )
    assert response.headers["Location"] == "/"


def test_wrong_password_is_401_and_names_no_detail(client, make_user):
    user = make_user("advisor")
    response = client.post("/login", data={"email": user.email, "password": "nope"})
    assert response.status_code == 401
    assert "do not match an active user" in response.get_data(as_text=True)


def test_login_is_rate_limited(app_factory, make_user):
    app = app_factory(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [
        client.post("/login", data={"email": "x@example.com", "password": "bad"}).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_forms_refuse_a_post_without_csrf_token(app_factory, make_user):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    user = make_user("supervisor")
    response = client.post("/login", data={"email": user.email, "password": "password123"})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"email": user.email, "password": "password123", "csrf_token": token}
    )
    assert response.status_code == 302
    assert client.post("/leads/1/note", data={"text": "x"}).status_code == 400


def test_session_cookie_settings(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_inactive_user_is_signed_out(client, make_user):
    user = make_user("supervisor")
    login(client, user)
    user.active = False
    db.session.commit()
    assert client.get("/leads/").status_code == 302


def test_users_create_cli(runner):
    result = runner.invoke(
        args=["users", "create", "new@example.com", "--role", "advisor", "--name", "New Advisor"]
    )
    assert result.exit_code == 0, result.output
    password = result.output.strip().splitlines()[-1]
    assert authenticate("new@example.com", password).role == "advisor"
    again = runner.invoke(
        args=[
            "users",
            "create",
            "new@example.com",
            "--role",
            "advisor",
            "--name",
            "Again",
            "--password",
            "password123",
        ]
    )
    assert again.exit_code != 0 and "exists already" in again.output
    listing = runner.invoke(args=["users", "list"])
    assert "new@example.com" in listing.output
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1
