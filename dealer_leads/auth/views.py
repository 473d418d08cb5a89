"""Sign in, sign out, and the home page that sends each role where its work is."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from dealer_leads.auth.forms import LoginForm
from dealer_leads.auth.services import authenticate
from dealer_leads.extensions import limiter

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {
    "supervisor": "leads.queue",
    "admin": "leads.queue",
    "advisor": "leads.queue",
    "webmaster": "inventory.index",
}


def _safe_next(target: str | None) -> str | None:
    """Only follow same-site relative redirects after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/")
@login_required
def home():
    return redirect(url_for(HOME_BY_ROLE[current_user.role]))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
        flash("That e-mail and password do not match an active user.", "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
