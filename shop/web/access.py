"""Who may call what: one declared policy per view, checked on the server, default deny.

Every view is decorated with `public`, `roles_required(...)` or `visitors_and(...)`. A request to a view without a
declared policy is refused (403) and logged, so a new route cannot be reachable by accident;
`tests/integration/test_access_policy.py` walks the whole URL map for every role.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import NoReturn

from flask import Flask, abort, request
from flask_login import current_user, login_required

from shop.domain.accounts import Role
from shop.web.auditing import audit
from shop.web.extensions import shop_settings

log = logging.getLogger(__name__)
# Staff: admins change things; auditors see everything admins see and change nothing.
STAFF = (Role.ADMIN, Role.AUDITOR)
# Endpoints added by extensions that only serve static files.
_STATIC_ENDPOINTS = {"static", "bootstrap.static"}


@dataclass(frozen=True)
class Policy:
    roles: frozenset[Role] | None  # None: anyone, logged in or not
    visitors: bool = False  # also someone not logged in (`roles` still binds whoever is)

    @property
    def is_public(self) -> bool:
        return self.roles is None


def public(view):
    """Anyone may call this view."""
    view.access_policy = Policy(roles=None)
    return view


def roles_required(*roles: Role):
    """Only logged-in users with one of `roles`; anonymous callers are sent to log in."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                _refuse()
            return view(*args, **kwargs)

        wrapped.access_policy = Policy(roles=frozenset(roles))
        return wrapped

    return decorator


def visitors_and(*roles: Role):
    """Someone not logged in, or a logged-in user with one of `roles` (a visitor's cart: a visitor
    or a customer; staff are refused)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.is_authenticated and current_user.role not in roles:
                _refuse()
            return view(*args, **kwargs)

        wrapped.access_policy = Policy(roles=frozenset(roles), visitors=True)
        return wrapped

    return decorator


def _refuse() -> NoReturn:
    """403 for the logged-in user, logged and audited."""
    log.warning("denied: user %s (%s) on %s %s", current_user.user_id, current_user.role.value,
                request.method, request.path)
    audit("access.denied", request.path, method=request.method, endpoint=request.endpoint)
    abort(403)


def policy_of(app: Flask, endpoint: str) -> Policy | None:
    if endpoint in _STATIC_ENDPOINTS:
        return Policy(roles=None)
    return getattr(app.view_functions.get(endpoint), "access_policy", None)


def init_app(app: Flask) -> None:
    @app.before_request
    def deny_views_without_a_policy() -> None:
        if request.endpoint is not None and policy_of(app, request.endpoint) is None:
            log.error("denied: view %s declares no access policy", request.endpoint)
            abort(403)

    @app.context_processor
    def permissions() -> dict:
        """What the person looking may do, spelled once for every template: `is_customer` (buys),
        `is_staff` (sees the staff pages), `is_auditor`, and `may_edit` (an admin: changes things).
        The server checks each action again (roles_required); these only decide what is shown."""
        role = current_user.role if current_user.is_authenticated else None
        return {"is_customer": role is Role.CUSTOMER, "is_staff": role in STAFF, "is_auditor": role is Role.AUDITOR,
                "may_edit": role is Role.ADMIN, "shop": shop_settings()}
