"""How a call to /api/v1 says who makes it, checked before any view runs.

- `Authorization: Bearer <access token>`: a customer's token from `POST /api/v1/auth/token`, signed
  (never stored), valid ACCESS_TOKEN_SECONDS and only while the account keeps the session epoch it
  was issued in (logout, a password or role change, deactivation end it).
- `Authorization: Bearer shk_…`: a staff member's API key; its scopes limit what it may do
  (`scope_required`), and every call with it is written to the audit log.
- No Authorization header: the browser's session cookie, as the pages use it; then anything that
  changes state needs the CSRF token (X-CSRFToken), exactly as a form does.

A bearer call never reads or writes the session cookie, so it needs no CSRF token and sets no cookie.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import abort, g, request
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from shop.domain.accounts import User
from shop.domain.api_access import ACCESS_TOKEN_SECONDS, Scope
from shop.domain.errors import N_, InvalidCredentials
from shop.services import accounts
from shop.services import api_access as api_access_service
from shop.services.api_access import KeyHolder
from shop.web.api_v1.blueprint import bp
from shop.web.auditing import audit
from shop.web.extensions import csrf, get_db, limiter, shop_settings

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BearerRefused(InvalidCredentials):
    """A bearer credential that is not (or no longer) valid: 401 with WWW-Authenticate."""
    code = "invalid_token"


@dataclass(frozen=True)
class Caller:
    via: str  # "token", "key" or "session"
    key: KeyHolder | None = None


def access_tokens():
    from flask import current_app
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-access-token")


def issue_access_token(user: User) -> str:
    return access_tokens().dumps({"u": user.user_id, "s": user.session_epoch})


def _user_of_access_token(token: str) -> User:
    try:
        claims = access_tokens().loads(token, max_age=ACCESS_TOKEN_SECONDS)
    except SignatureExpired:
        raise BearerRefused(N_("That access token has expired; get a new one with your refresh token.")) from None
    except BadSignature:
        raise BearerRefused(N_("That access token is not valid.")) from None
    if not (isinstance(claims, dict) and isinstance(claims.get("u"), int) and isinstance(claims.get("s"), int)):
        raise BearerRefused(N_("That access token is not valid."))
    user = accounts.active_user(get_db(), claims["u"])
    if user is None or user.session_epoch != claims["s"]:
        raise BearerRefused(N_("That access token has been revoked; log in again."))
    return user


def _as_current_user(user: User) -> None:
    """Flask-Login's current_user for this request only (nothing goes into the session)."""
    from shop.web.auth import SessionUser
    g._login_user = SessionUser(user)


def caller() -> Caller:
    """Who makes this call, worked out once per request (the rate limiter asks first, before any
    view or blueprint hook runs): a refused credential raises BearerRefused (401)."""
    found = g.get("api_caller")
    if found is None:
        found = g.api_caller = _identify()
    return found


def _identify() -> Caller:
    header = request.headers.get("Authorization")
    if header is None:
        return Caller("session")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise BearerRefused(N_("Send Authorization: Bearer followed by an access token or an API key."))
    if credential.startswith("shk_"):
        holder = api_access_service.key_holder(get_db(), credential)
        if holder is None:
            raise BearerRefused(N_("That API key is not valid, has expired or was revoked."))
        _as_current_user(holder.user)
        audit("api_key.used", f"api_key:{holder.key.key_id}", method=request.method, path=request.path[:200])
        return Caller("key", holder)
    _as_current_user(_user_of_access_token(credential))
    return Caller("token")


def _per_caller() -> str:
    found = caller()
    if found.key is not None:
        return f"api-key:{found.key.key.key_id}"
    if current_user.is_authenticated:
        return f"user:{current_user.user_id}"
    return request.remote_addr or "-"


@bp.before_request
def identify_caller() -> None:
    # A call riding on a logged-in browser session: the same CSRF check as a form. (With no one
    # logged in, a forged request could do nothing a stranger cannot; the token endpoint takes
    # credentials in its body and sets no cookie.)
    if caller().via == "session" and request.method not in _SAFE_METHODS and current_user.is_authenticated:
        csrf.protect()


def scope_required(scope: Scope):
    """A staff key must hold `scope` (an auditor's key never holds a write scope); a staff member's
    own session needs no scope (their role decides, as on the pages)."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            holder = caller().key
            if holder is not None and scope not in holder.scopes:
                abort(403)
            return view(*args, **kwargs)
        wrapped.required_scope = scope
        return wrapped
    return decorator


# The blueprint's own CSRF rule (above) replaces the app-wide one, and every call counts against
# API_RATE_LIMIT for its caller. Declared once, on the module's blueprint and the module's limiter.
csrf.exempt(bp)
limiter.limit(lambda: shop_settings().api_rate_limit, key_func=_per_caller)(bp)
