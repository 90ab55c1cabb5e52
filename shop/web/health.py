"""Liveness (/healthz: the process answers) and readiness (/readyz: both databases answer)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from shop.services import readiness
from shop.web import watchdog
from shop.web.access import public
from shop.web.extensions import get_db, get_store, shop_settings

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """The process answers — and none of its requests is stuck past REQUEST_STUCK_SECONDS (then 503,
    so a load balancer stops sending work that would queue behind it; shop.web.watchdog)."""
    bound = shop_settings().request_stuck_seconds
    stuck = watchdog.stuck_requests(bound)
    if stuck:
        return jsonify(status="wedged", stuck_requests=len(stuck), bound_seconds=bound), 503
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz():
    """Both databases answer within READINESS_TIMEOUT_SECONDS, or 503 with the reason (a stopped
    MongoDB otherwise held this for the driver's 5 s server selection; load balancers give up sooner).
    Under load this request waits for a free request thread like any other: load balancers ask the
    listener on HEALTH_PORT instead (shop.health_server), which answers at once."""
    settings = shop_settings()
    state = readiness.check(database_pings(settings.readiness_timeout_seconds), settings.data_dir)
    return jsonify(state.as_json()), 200 if state.ready else 503


def database_pings(seconds: float) -> dict:
    """Both databases' pings, for readiness (also /metrics' `shop_ready`)."""
    return {"postgres": lambda: get_db().ping(), "mongodb": lambda: get_store().ping(seconds)}
