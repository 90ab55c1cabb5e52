"""Audit events from the web layer: who (user, role), from where (IP, user agent), did what."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from shop.domain.audit import AuditEvent
from shop.web.extensions import get_audit_log


def audit(action: str, target: str | None = None, *, actor=None, **details) -> None:
    """Record an event for the current request; never raises (see shop.services.audit)."""
    user = actor if actor is not None else (current_user if current_user.is_authenticated else None)
    event = AuditEvent(action=action, target=target, actor_id=user.user_id if user else None,
                       actor_role=user.role.value if user else None, ip=request.remote_addr,
                       user_agent=request.user_agent.string or None, details=details)
    try:
        get_audit_log().record(event)
    except Exception:  # even building the log must not break the request
        current_app.logger.exception("audit event %s lost", action)
