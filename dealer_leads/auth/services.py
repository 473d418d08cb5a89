"""Users: creation, sign-in checks, and the one decorator every page uses for its role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app
from flask_login import current_user
from werkzeug.security import check_password_hash, generate_password_hash

from dealer_leads.auth.models import ROLES, User
from dealer_leads.extensions import csrf, db, login_manager


class InvalidUser(ValueError):
    """A user could not be created as asked; the message says why."""


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the signed-in user, if still active."""
    if not user_id.isdecimal():
        return None
    user = db.session.get(User, int(user_id))
    return user if user and user.active else None


def hash_password(password: str) -> str:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def create_user(email: str, role: str, name: str, password: str, phone: str = "") -> User:
    """Create a staff user; the e-mail must be new and the role known."""
    email = email.strip().lower()
    if role not in ROLES:
        raise InvalidUser(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if "@" not in email:
        raise InvalidUser(f"{email!r} is not an e-mail address")
    if len(password) < 8:
        raise InvalidUser("the password must have at least 8 characters")
    if db.session.scalar(db.select(User.id).where(User.email == email)):
        raise InvalidUser(f"a user with the e-mail {email} exists already")
    user = User(
        email=email,
        role=role,
        name=name.strip() or email,
        phone=phone,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None."""
    user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        return None
    return user if check_password_hash(user.password_hash, password) else None


def set_user_state(
    user_id: int,
    *,
    active: bool | None = None,
    on_shift: bool | None = None,
    role: str | None = None,
) -> User:
    """Switch a user on or off, on or off shift, or change the role."""
    user = db.session.get(User, user_id)
    if user is None:
        raise InvalidUser(f"no user #{user_id}")
    if role is not None:
        if role not in ROLES:
            raise InvalidUser(f"unknown role {role!r}")
        user.role = role
    if active is not None:
        user.active = active
    if on_shift is not None:
        user.on_shift = on_shift
    db.session.commit()
    return user


def list_users(role: str | None = None) -> list[User]:
    query = db.select(User).order_by(User.role, User.name)
    if role:
        query = query.where(User.role == role)
    return list(db.session.scalars(query))


def check_csrf() -> None:
    """The CSRF check, for a view exempt from the automatic one: a view that raises the body
    limit first (the automatic check would parse the body under the app-wide limit)."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def role_required(*roles: str) -> Callable:
    """Let only signed-in users with one of `roles` through; others get 401/403."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403, "Your role does not give access to this page.")
            return view(*args, **kwargs)

        return wrapped

    return decorator
