"""The worker watchdog: requests in flight per thread, a request stuck past REQUEST_STUCK_SECONDS
logged once with its thread's stack, and /healthz answering 503 while one is stuck — so a load
balancer takes a wedged instance out instead of sending it more requests that would queue behind
the stuck one (a thread waiting on itself, a lock nobody releases)."""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, g, request

from shop.services import readiness

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InFlight:
    started: float  # time.monotonic()
    method: str
    path: str
    request_id: str


# Requests being served in this process, by the thread serving them. Written by that thread only,
# read by the watchdog and /healthz (a dict's single-key operations are atomic in CPython).
_IN_FLIGHT: dict[int, InFlight] = {}
_REPORTED: set[tuple[int, float]] = set()


def init_app(app: Flask) -> None:
    @app.before_request
    def note_request() -> None:
        _IN_FLIGHT[threading.get_ident()] = InFlight(time.monotonic(), request.method, request.path,
                                                     g.get("request_id", "-"))

    @app.teardown_request
    def forget_request(_error=None) -> None:
        _IN_FLIGHT.pop(threading.get_ident(), None)


def stuck_requests(bound_seconds: float, now: float | None = None) -> dict[int, InFlight]:
    """The requests of this process running for longer than `bound_seconds`, by thread."""
    now = time.monotonic() if now is None else now
    return {thread: seen for thread, seen in list(_IN_FLIGHT.items()) if now - seen.started > bound_seconds}


def report_stuck(bound_seconds: float) -> int:
    """Log each request stuck past the bound once, with the stack of the thread serving it; returns
    how many are stuck now."""
    stuck = stuck_requests(bound_seconds)
    frames = sys._current_frames()
    for thread, seen in stuck.items():
        if (thread, seen.started) in _REPORTED:
            continue
        _REPORTED.add((thread, seen.started))
        stack = "".join(traceback.format_stack(frames[thread])) if thread in frames else "(thread gone)\n"
        log.error("request %s %s [%s] has run for %.0f s (over REQUEST_STUCK_SECONDS=%s); its thread's stack:\n%s",
                  seen.method, seen.path, seen.request_id, time.monotonic() - seen.started, bound_seconds, stack)
    for key in [key for key in _REPORTED if key[0] not in stuck or stuck[key[0]].started != key[1]]:
        _REPORTED.discard(key)
    return len(stuck)


class Watchdog(threading.Thread):
    """Checks this process's requests every few seconds (a daemon thread per worker process), and
    while one is stuck leaves a marker in `data_dir` that readiness reads (shop.services.readiness):
    the listener on HEALTH_PORT, in another process, then says "wedged" too."""

    def __init__(self, bound_seconds: float, data_dir: Path | None = None):
        super().__init__(name="request-watchdog", daemon=True)
        self.bound_seconds = bound_seconds
        self.data_dir = data_dir
        self._stopping = threading.Event()

    def run(self) -> None:
        marked = False
        while not self._stopping.wait(min(5.0, self.bound_seconds / 2)):
            try:
                wedged = report_stuck(self.bound_seconds) > 0
                if self.data_dir is not None and wedged != marked:
                    readiness.mark_wedged(self.data_dir, wedged)
                    marked = wedged
            except Exception:  # the watchdog must outlive anything it watches
                log.exception("the request watchdog failed; checking again")

    def stop(self) -> None:
        self._stopping.set()
