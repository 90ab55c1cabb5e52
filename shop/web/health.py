"""Liveness (/healthz: the process answers) and readiness (/readyz: both databases answer)."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from shop.web.access import public
from shop.web.extensions import get_db, get_store

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
@public
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz():
    checks = {}
    for name, ping in (("postgres", lambda: get_db().ping()), ("mongodb", lambda: get_store().ping())):
        try:
            ping()
            checks[name] = "ok"
        except Exception as error:  # any failure means "not ready"; the reason goes to the caller
            log.warning("readiness check %s failed: %s", name, error)
            checks[name] = f"unavailable: {type(error).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
