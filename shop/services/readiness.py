"""Readiness: may a load balancer send this instance requests? Both databases answer within the
readiness timeout, the instance is not being stopped (the `draining` file), and no web worker has a
request stuck past REQUEST_STUCK_SECONDS (shop.web.watchdog leaves a marker file per wedged worker).

Asked by /readyz, by the listener of its own on HEALTH_PORT (shop.health_server, which answers
however busy the request threads are) and by /metrics (the `shop_ready` gauge). No Flask here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shop.domain.json import JsonObject

log = logging.getLogger(__name__)

DRAINING_FILE = "draining"  # deploy/systemd/shop.service's ExecStop creates it in the data directory
WEDGED_DIR = "wedged"  # one file per web worker process with a stuck request, named by its pid


@dataclass(frozen=True)
class Readiness:
    status: str  # "ready", "unavailable" (a database), "draining", "wedged"
    checks: dict[str, str] = field(default_factory=dict)  # database → "ok" or "unavailable: <why>"
    wedged_workers: int = 0

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def as_json(self) -> JsonObject:
        answer: JsonObject = {"status": self.status, "checks": self.checks}
        if self.wedged_workers:
            answer["wedged_workers"] = self.wedged_workers
        return answer


def check(pings: Mapping[str, Callable[[], None]], data_dir: Path) -> Readiness:
    """Run each database's ping (each must bound its own time) and read the instance's markers."""
    if is_draining(data_dir):  # the balancer takes the instance out while it finishes what it has
        return Readiness("draining")
    checks = {}
    for name, ping in pings.items():
        try:
            ping()
            checks[name] = "ok"
        except Exception as error:  # any failure means "not ready"; the reason goes to the caller
            log.warning("readiness check %s failed: %s", name, error)
            checks[name] = f"unavailable: {type(error).__name__}"
    wedged = wedged_workers(data_dir)
    if wedged:
        return Readiness("wedged", checks, wedged)
    return Readiness("ready" if all(v == "ok" for v in checks.values()) else "unavailable", checks)


def is_draining(data_dir: Path) -> bool:
    return (data_dir / DRAINING_FILE).exists()


def mark_wedged(data_dir: Path, wedged: bool, pid: int | None = None) -> None:
    """Leave (or remove) this worker's marker: it has a request stuck past its bound."""
    marker = data_dir / WEDGED_DIR / str(pid or os.getpid())
    if wedged:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def wedged_workers(data_dir: Path) -> int:
    """Workers with a stuck request, ignoring (and removing) markers of processes that have ended."""
    import psutil  # optional where it has no wheel: then the CPU is not reported

    directory = data_dir / WEDGED_DIR
    if not directory.is_dir():
        return 0
    count = 0
    for marker in directory.iterdir():
        if marker.name.isdigit() and psutil.pid_exists(int(marker.name)):
            count += 1
        else:
            marker.unlink(missing_ok=True)
    return count
