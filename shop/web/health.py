"""Liveness (/healthz: the process answers) and readiness (/readyz: both databases answer)."""

from __future__ import annotations

import logging

import pymongo
from flask import Blueprint, current_app, jsonify

from shop.web import watchdog
from shop.web.access import public
from shop.web.extensions import get_db, get_store

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
@public
def healthz():
    """The process answers — and none of its requests is stuck past REQUEST_STUCK_SECONDS (then 503,
    so a load balancer stops sending work that would queue behind it; shop.web.watchdog)."""
    bound = current_app.config["SHOP_SETTINGS"].request_stuck_seconds
    stuck = watchdog.stuck_requests(bound)
    if stuck:
        return jsonify(status="wedged", stuck_requests=len(stuck), bound_seconds=bound), 503
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz():
    """Both databases answer within READINESS_TIMEOUT_SECONDS, or 503 with the reason (a stopped
    MongoDB otherwise held this for the driver's 5 s server selection; load balancers give up sooner)."""
    settings = current_app.config["SHOP_SETTINGS"]
    if (settings.data_dir / "draining").exists():
        # Being stopped (deploy/systemd/shop.service's ExecStop): the load balancer takes this instance
        # out while it still answers the requests it has.
        return jsonify(status="draining", checks={}), 503
    seconds = settings.readiness_timeout_seconds

    def ping_mongodb() -> None:
        with pymongo.timeout(seconds):
            get_store().ping()

    checks = {}
    for name, ping in (("postgres", lambda: get_db().ping()), ("mongodb", ping_mongodb)):
        try:
            ping()
            checks[name] = "ok"
        except Exception as error:  # any failure means "not ready"; the reason goes to the caller
            log.warning("readiness check %s failed: %s", name, error)
            checks[name] = f"unavailable: {type(error).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), 200 if ready else 503
