"""When an instance tells its load balancer it is ready, and what it says when it is not."""

import os
import subprocess
import sys
import threading
import time

import pytest

from shop.health_server import Prober
from shop.services import readiness


def ok() -> None:
    pass


def refused() -> None:
    raise ConnectionRefusedError("connection refused")


def test_an_instance_whose_databases_answer_is_ready(tmp_path):
    state = readiness.check({"postgres": ok, "mongodb": ok}, tmp_path)
    assert state.ready and state.as_json() == {"status": "ready", "checks": {"postgres": "ok", "mongodb": "ok"}}


def test_a_database_that_does_not_answer_makes_the_instance_unavailable_and_says_which(tmp_path):
    state = readiness.check({"postgres": ok, "mongodb": refused}, tmp_path)
    assert not state.ready
    assert state.as_json() == {"status": "unavailable",
                               "checks": {"postgres": "ok", "mongodb": "unavailable: ConnectionRefusedError"}}


def test_a_draining_instance_is_not_ready_without_asking_the_databases(tmp_path):
    (tmp_path / readiness.DRAINING_FILE).touch()
    state = readiness.check({"postgres": refused}, tmp_path)
    assert state.as_json() == {"status": "draining", "checks": {}}


def test_a_worker_with_a_stuck_request_makes_the_instance_wedged_until_its_marker_goes(tmp_path):
    readiness.mark_wedged(tmp_path, True)
    state = readiness.check({"postgres": ok}, tmp_path)
    assert state.status == "wedged" and state.as_json()["wedged_workers"] == 1
    readiness.mark_wedged(tmp_path, False)
    assert readiness.check({"postgres": ok}, tmp_path).ready


def test_the_marker_of_a_worker_that_has_ended_is_ignored_and_removed(tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    readiness.mark_wedged(tmp_path, True, pid=int(ended.stdout))
    assert readiness.check({"postgres": ok}, tmp_path).ready
    assert os.listdir(tmp_path / readiness.WEDGED_DIR) == []


def test_a_prober_reports_its_latest_ping_and_fails_at_once_while_a_ping_hangs_past_the_timeout():
    release = threading.Event()
    answers = iter([None, "hang"])

    def ping() -> None:
        if next(answers, "hang") == "hang":
            release.wait(10)

    prober = Prober("db", ping, timeout=0.3, interval=0.05)
    with pytest.raises(RuntimeError, match="not checked yet"):
        prober.ping()
    prober.start()
    time.sleep(0.1)  # the first ping has answered; the second hangs
    prober.ping()
    time.sleep(0.4)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no answer within 0.3 s"):
        prober.ping()
    assert time.monotonic() - started < 0.05
    release.set()
