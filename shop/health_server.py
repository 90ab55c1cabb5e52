"""Readiness on a listener of its own: `python -m shop.health_server`, on HEALTH_PORT.

/readyz on the shop's own port waits for a free request thread like any request, so during a
burst of checkouts a load balancer's check queued for seconds and then said 200 (or timed out and
took a healthy instance out). The runner starts this process beside the web server when HEALTH_PORT
is set: it pings each database from a thread of its own once a second (each with the readiness
timeout) and answers `GET /readyz` from the latest results at once — 200 `ready`, or 503 with the
reason: `unavailable` (a database did not answer in time), `draining` (the instance is being
stopped), `wedged` (a web worker has a request stuck past REQUEST_STUCK_SECONDS). The same
decision as /readyz (shop.services.readiness).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from shop.config import Settings, load_settings
from shop.services import readiness

log = logging.getLogger("shop.health_server")
PING_INTERVAL_SECONDS = 1.0


class Prober(threading.Thread):
    """Pings one database again and again; `ping()` then says how the latest ping went, and fails
    at once while the current one has run longer than the timeout."""

    def __init__(self, name: str, ping: Callable[[], None], timeout: float, interval: float = PING_INTERVAL_SECONDS):
        super().__init__(name=f"ping-{name}", daemon=True)
        self._ping, self.timeout, self.interval = ping, timeout, interval
        self._error: Exception | None = RuntimeError("not checked yet")
        self._ping_started: float | None = None

    def run(self) -> None:
        while True:
            self._ping_started = time.monotonic()
            try:
                self._ping()
                self._error = None
            except Exception as error:  # the reason is what readiness reports
                self._error = error
            self._ping_started = None
            time.sleep(self.interval)

    def ping(self) -> None:
        started = self._ping_started
        if started is not None and time.monotonic() - started > self.timeout:
            raise TimeoutError(f"no answer within {self.timeout:g} s")
        if self._error is not None:
            raise self._error


def serve(settings: Settings, probers: dict[str, Prober]) -> ThreadingHTTPServer:
    """The listener (not yet serving: call serve_forever)."""
    pings = {name: prober.ping for name, prober in probers.items()}
    data_dir: Path = settings.data_dir

    class Handler(BaseHTTPRequestHandler):
        server_version = "shop-health"
        sys_version = ""

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/readyz":
                self._answer(404, {"status": "not found", "paths": ["/readyz"]})
                return
            state = readiness.check(pings, data_dir)
            self._answer(200 if state.ready else 503, state.as_json())

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            pass  # a check every two seconds per balancer: not worth a log line each

    server = ThreadingHTTPServer((settings.host, settings.health_port), Handler)
    server.daemon_threads = True
    return server


def _database_probers(settings: Settings) -> dict[str, Prober]:
    from shop import bootstrap  # the database drivers: only once settings are read

    timeout = settings.readiness_timeout_seconds
    db = bootstrap.postgres(settings, 1)
    store = bootstrap.mongo(settings, timeout_ms=int(timeout * 1000))
    return {"postgres": Prober("postgres", db.ping, timeout),
            "mongodb": Prober("mongodb", lambda: store.ping(timeout), timeout)}


def _stop_when_orphaned(server: ThreadingHTTPServer) -> None:
    """A runner killed outright (SIGKILL) cannot stop us: once our parent has gone, stop."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)
    log.warning("the runner (pid %d) has gone; the health listener stops", parent)
    server.shutdown()


def main() -> int:
    settings = load_settings()
    from shop.web.requestlog import configure_logging  # the web layer's logging, without loading Flask first

    configure_logging(settings.log_level, json_lines=settings.is_production)
    probers = _database_probers(settings)
    for prober in probers.values():
        prober.start()
    server = serve(settings, probers)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the runner, which stops us
    signal.signal(signal.SIGTERM, lambda signum, frame: threading.Thread(target=server.shutdown).start())
    threading.Thread(target=_stop_when_orphaned, args=(server,), name="parent-watch", daemon=True).start()
    log.info("readiness listener on %s:%d (pid %d)", settings.host, settings.health_port, os.getpid())
    server.serve_forever(poll_interval=0.5)
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
