"""Accounts: register (customers only), log in, log out; the session user and role checks."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import UserMixin, current_user, login_user, logout_user

from shop.domain.accounts import User
from shop.domain.errors import Conflict, InvalidCredentials, InvalidInput
from shop.domain.sessions import SessionPolicy, SessionStamp, SessionState
from shop.services import accounts
from shop.web.access import public
from shop.web.auditing import audit
from shop.web.errors import translate_error
from shop.web.extensions import get_db, limiter, login_manager
from shop.web.forms import LoginForm, LogoutForm, RegisterForm

bp = Blueprint("auth", __name__, url_prefix="/auth")
log = logging.getLogger(__name__)


class SessionUser(UserMixin):
    """The logged-in user as Flask-Login sees it; wraps the domain User."""

    def __init__(self, user: User):
        self.user = user
        self.id = user.user_id

    def __getattr__(self, name):
        return getattr(self.user, name)

    @property
    def is_active(self) -> bool:
        return self.user.is_active


def _session_policy() -> SessionPolicy:
    return SessionPolicy(idle_seconds=current_app.config["SESSION_IDLE_SECONDS"],
                         absolute_seconds=current_app.config["SESSION_MAX_SECONDS"])


def start_session(user: User) -> None:
    """Log `user` in on a fresh session stamped with the account's current epoch (shop.domain.sessions)."""
    session.clear()  # nothing planted before the login survives it
    login_user(SessionUser(user))
    now = time.time()
    session.update(SessionStamp(user.session_epoch, now, now).as_session())


@login_manager.user_loader
def load_user(user_id: str) -> SessionUser | None:
    if not (user_id.isascii() and user_id.isdigit()):
        return None
    user = accounts.active_user(get_db(), int(user_id))
    if user is None:
        return None
    now = time.time()
    stamp = SessionStamp.from_session(session)
    state = _session_policy().state(stamp, user.session_epoch, now)
    if state is not SessionState.VALID:
        g.session_ended = state
        for key in ("_user_id", "_fresh", "_id", "_epoch", "_started", "_seen"):
            session.pop(key, None)
        return None
    if SessionPolicy.needs_touch(stamp, now):
        session["_seen"] = now
    return SessionUser(user)


@login_manager.unauthorized_handler
def unauthorized():
    """Pages send a person to the login form; API callers get a 401 JSON answer."""
    from shop.web.errors import error_response, wants_json

    ended = g.get("session_ended") is not None
    message = (gettext("Your session has ended; log in again.") if ended
               else gettext("You need to log in to do that."))
    if wants_json():
        return error_response(401, message)
    if ended:
        flash(message, "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


login_manager.login_view = "auth.login"
login_manager.login_message = None  # the login page itself says what to do
login_manager.session_protection = "strong"


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: a login link can never send someone to another site."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("catalog.index")


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(login_limit, methods=["POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(get_db(), form.email.data, form.password.data)
        except InvalidCredentials as error:
            log.info("failed login")
            audit("login.failed", email=(form.email.data or "")[:254])
            form.password.errors.append(translate_error(error))
            status = 401
        else:
            start_session(user)
            audit("login.succeeded", f"user:{user.user_id}", actor=user)
            flash(gettext("Welcome, %(name)s.", name=user.full_name), "success")
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/register", methods=["GET", "POST"])
@public
def register():
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.register_customer(get_db(), form.email.data, form.full_name.data, form.password.data)
        except (InvalidInput, Conflict) as error:
            form.email.errors.append(translate_error(error))
            status = 409 if isinstance(error, Conflict) else 400
        else:
            start_session(user)
            audit("user.registered", f"user:{user.user_id}", actor=user)
            flash(gettext("Your account is ready. Welcome, %(name)s.", name=user.full_name), "success")
            return redirect(url_for("catalog.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/register.html", form=form), status


@bp.post("/logout")
@public
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        # Every session of the account ends, not only this browser's: a copied cookie dies with it.
        accounts.end_sessions(get_db(), current_user.user_id)
        audit("logout", f"user:{current_user.user_id}")
    logout_user()
    session.clear()
    flash(gettext("You have logged out."), "info")
    return redirect(url_for("catalog.index"))


@bp.post("/language/<code>")
@public
def language(code: str):
    from shop.web.extensions import SUPPORTED_LOCALES

    if code not in SUPPORTED_LOCALES:
        abort(404)
    session["locale"] = code
    return redirect(_safe_next(request.form.get("next")))
