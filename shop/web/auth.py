"""Accounts: register (customers only), log in, log out; the session user and role checks."""

from __future__ import annotations

import hashlib
import logging
import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import UserMixin, current_user, login_user, logout_user
from itsdangerous import BadSignature

from shop.domain.accounts import Role, User
from shop.domain.errors import N_, InvalidCredentials, InvalidInput
from shop.domain.order_effects import MailKind
from shop.domain.sessions import SessionPolicy, SessionStamp, SessionState
from shop.domain.visitor_cart import VisitorCart
from shop.services import accounts, carts
from shop.web.access import public
from shop.web.auditing import audit
from shop.web.errors import error_response, translate_error, wants_json
from shop.web.extensions import get_db, get_store, limiter, login_manager, shop_settings
from shop.web.forms import LoginForm, LogoutForm, PasswordResetForm, PasswordResetRequestForm, RegisterForm
from shop.web.languages import SUPPORTED_LOCALES, in_language, select_locale
from shop.web.links import activation_tokens, reset_tokens

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
    return SessionPolicy(idle_seconds=shop_settings().session_idle_minutes * 60,
                         absolute_seconds=shop_settings().session_max_hours * 3600)


def start_session(user: User) -> None:
    """Log `user` in on a fresh session stamped with the account's current epoch (shop.domain.sessions),
    in the language the account last chose. A customer's cart gets what they chose before logging
    in (a visitor's cart, kept in the session until now)."""
    chosen = VisitorCart.from_session(session)
    session.clear()  # nothing planted before the login survives it
    language = get_db().users.language_of(user.user_id)
    if language in SUPPORTED_LOCALES:
        session["locale"] = language
    login_user(SessionUser(user))
    now = time.time()
    session.update(SessionStamp(user.session_epoch, now, now).as_session())
    if chosen and user.role is Role.CUSTOMER and carts.join_visitor_cart(get_db(), get_store(), user.user_id, chosen):
        flash(gettext("Your cart now also holds what you chose before logging in."), "info")


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
    if stamp is not None and SessionPolicy.needs_touch(stamp, now):  # a valid session has a stamp
        session["_seen"] = now
    return SessionUser(user)


@login_manager.unauthorized_handler
def unauthorized():
    """Pages send a person to the login form; API callers get a 401 JSON answer."""
    ended = g.get("session_ended") is not None
    message = (gettext("Your session has ended; log in again.") if ended
               else gettext("You need to log in to do that."))
    if wants_json():
        return error_response(401, message, "session_ended" if ended else "login_required")
    if ended:
        flash(message, "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _session_identifier() -> str:
    """What a "strong" session is bound to: the client's address and browser. The address is the
    connection's (or, behind TRUSTED_PROXIES load balancers, what ProxyFix took from them), never an
    X-Forwarded-For header the client wrote itself, which Flask-Login's default would believe."""
    agent = request.headers.get("User-Agent", "")
    return hashlib.sha512(f"{request.remote_addr}|{agent}".encode()).hexdigest()


login_manager._session_identifier_generator = _session_identifier
login_manager.login_view = "auth.login"
login_manager.login_message = None  # the login page itself says what to do
login_manager.session_protection = "strong"


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: a login link can never send someone to another site."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("catalog.index")


def login_limit() -> str:
    return shop_settings().login_rate_limit


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
            # in the language the account chose, whatever the address of the login form
            return redirect(in_language(_safe_next(request.args.get("next")), session.get("locale") or select_locale()))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


def register_limit() -> str:
    return shop_settings().register_rate_limit


@bp.route("/register", methods=["GET", "POST"])
@public
@limiter.limit(register_limit, methods=["POST"])
def register():
    """The same answer whether or not the address has an account: "check your e-mail". The e-mail
    says which it was — an activation link, or a note that the address already has an account."""
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            registration = accounts.register_customer(get_db(), form.email.data, form.full_name.data,
                                                      form.password.data)
        except InvalidInput as error:
            form.email.errors.append(translate_error(error))
            status = 400
        else:
            user = registration.user
            if registration.created:  # order e-mails will speak the language the account was made in
                accounts.remember_language(get_db(), user.user_id, select_locale())
            if registration.activation is not None:
                accounts.queue_account_mail(get_db(), MailKind.ACCOUNT_ACTIVATION, user, select_locale())
                if registration.created:
                    audit("user.registered", f"user:{user.user_id}", actor=user)
            else:
                accounts.queue_account_mail(get_db(), MailKind.ACCOUNT_EXISTS, user, select_locale())
                audit("user.registration_for_existing_account", f"user:{user.user_id}")
            settings = shop_settings()
            outbox = None if settings.smtp_host else settings.outbox_dir  # development: say where
            return render_template("auth/check_email.html", email=user.email, outbox=outbox), 200
    elif request.method == "POST":
        status = 400
    return render_template("auth/register.html", form=form), status


@bp.get("/activate/<token>")
@public
def activate(token: str):
    max_age = shop_settings().activation_link_hours * 3600
    try:
        claims = activation_tokens().loads(token, max_age=max_age)
        user = accounts.activate(get_db(), claims) if isinstance(claims, dict) else None
    except (BadSignature, KeyError, TypeError, ValueError):
        user = None
    if user is None:
        raise InvalidInput(N_("This activation link is not valid any more: it was used, expired, or a newer one "
                              "was sent. Log in if your account is active; otherwise register again with the "
                              "same address to get a new link."))
    start_session(user)
    audit("user.activated", f"user:{user.user_id}", actor=user)
    flash(gettext("Your account is ready. Welcome, %(name)s.", name=user.full_name), "success")
    return redirect(url_for("catalog.index"))


def send_password_reset(user: User) -> None:
    """E-mail `user` a link to set a new password, through the outbox (also used by staff,
    shop.web.staff_users); the link is signed when the mail is written."""
    accounts.queue_account_mail(get_db(), MailKind.PASSWORD_RESET, user, select_locale())


@bp.route("/password-reset", methods=["GET", "POST"])
@public
@limiter.limit(lambda: shop_settings().password_reset_rate_limit, methods=["POST"])
def request_password_reset():
    """"Forgot my password": the same answer whether or not the address has an account."""
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        found = accounts.password_reset_claims(get_db(), email=form.email.data)
        if found is not None:
            send_password_reset(found[0])
            audit("password.reset_requested", f"user:{found[0].user_id}", actor=found[0])
        return render_template("auth/reset_sent.html", email=form.email.data.strip()), 200
    return render_template("auth/reset_request.html", form=form), 400 if request.method == "POST" else 200


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
@public
@limiter.limit(login_limit, methods=["POST"])
def reset_password(token: str):
    max_age = shop_settings().password_reset_link_minutes * 60
    try:
        claims = reset_tokens().loads(token, max_age=max_age)
        if not isinstance(claims, dict) or not (str(claims.get("u", "")).isascii() and str(claims["u"]).isdigit()):
            raise BadSignature("malformed claims")
        if not accounts.reset_link_is_current(get_db(), claims):
            raise BadSignature("used, or the password changed since")
    except BadSignature:
        raise InvalidInput(N_("This password link is not valid any more: it was used, the password changed since, "
                              "or it expired. Ask for a new one.")) from None
    form = PasswordResetForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.reset_password(get_db(), claims, form.password.data)
        except InvalidInput as error:
            form.password.errors.append(translate_error(error))
            status = 400
        else:
            start_session(user)
            audit("password.reset", f"user:{user.user_id}", actor=user)
            flash(gettext("Your password has changed. Any other session of your account has ended."), "success")
            return redirect(url_for("catalog.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/_new_password.html", form=form, heading=gettext("Set a new password")), status


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
    if code not in SUPPORTED_LOCALES:
        abort(404)
    if current_user.is_authenticated:  # their pages without a language prefix, and their mails
        session["locale"] = code
        accounts.remember_language(get_db(), current_user.user_id, code)
    # A visitor's language is only ever in the address (shop.web.languages): no session is started.
    return redirect(in_language(_safe_next(request.form.get("next")), code))
