"""/metrics for Prometheus (behind METRICS_TOKEN), and the request latency of every response."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Flask, Response, abort, g, request

from shop import metrics
from shop.adapters.errors import DatabaseError
from shop.services import readiness
from shop.web.access import public
from shop.web.extensions import get_db, shop_settings
from shop.web.health import database_pings

bp = Blueprint("monitoring", __name__)


def init_app(app: Flask) -> None:
    @app.before_request
    def start_clock() -> None:
        g.started_at = time.perf_counter()

    @app.after_request
    def observe(response):
        started = g.pop("started_at", None)
        if started is not None:
            endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
            metrics.REQUEST_SECONDS.labels(endpoint, request.method, str(response.status_code)).observe(
                time.perf_counter() - started)
        return response


@bp.get("/metrics")
@public  # not public in fact: without METRICS_TOKEN it does not exist, with it the token is required
def scrape():
    settings = shop_settings()
    token = settings.metrics_token
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(given.encode(), token.encode()):
        abort(404)  # the same answer as when there is no endpoint: nothing to learn by probing
    try:
        mail_backlog = get_db().outbox.backlog()
    except DatabaseError:  # the other numbers are still worth having; these are left out
        mail_backlog = None
    state = readiness.check(database_pings(settings.readiness_timeout_seconds), settings.data_dir)
    ready = (state.ready, {name: result == "ok" for name, result in state.checks.items()})
    return Response(metrics.render(settings.audit_spool_path, settings.outbox_dir,
                                   multiprocess_dir=settings.metrics_multiprocess_dir, mail_backlog=mail_backlog,
                                   ready=ready),
                    mimetype="text/plain; version=0.0.4")
