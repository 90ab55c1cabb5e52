"""A load balancer's readiness check is answered at once while every request thread is busy: the
listener on HEALTH_PORT (shop.health_server) does not queue behind checkouts, as /readyz on the
shop's own port does."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import psycopg2

from shop.domain.accounts import Role
from shop.embedded import free_port
from shop.services.accounts import hash_password
from tests.e2e.conftest import start_shop, stop_shop
from tests.e2e.test_concurrent_buyers import PASSWORD, Buyer, own_databases, shop_env

EMAIL = "busy@example.com"


def _get(url: str, timeout: float) -> tuple[int, dict, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http://127.0.0.1
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, json.loads(body), time.monotonic() - started


def _wait_for(url: str, status: int, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = _get(url, 2)
            if answer[0] == status:
                return answer[1]
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never answered {status}")
        time.sleep(0.2)


def test_readiness_on_its_own_port_answers_at_once_while_every_request_thread_waits(servers, tmp_path):
    with own_databases(servers, "shop_ready") as (pg_url, db_name, db, _store):
        db.users.insert(EMAIL, "Busy Buyer", hash_password(PASSWORD), Role.CUSTOMER)
        health_port = free_port()
        # One worker (4 request threads): 16 blocked requests surely take them all (with two workers,
        # how the connections spread between them is up to the kernel).
        env = shop_env(servers, pg_url, db_name, HEALTH_PORT=str(health_port), WEB_CONCURRENCY="1")
        shop = start_shop(tmp_path / "var", extra_env=env)
        readyz = f"http://127.0.0.1:{health_port}/readyz"
        try:
            assert _wait_for(readyz, 200) == {"status": "ready", "checks": {"postgres": "ok", "mongodb": "ok"}}
            buyer = Buyer(shop.url, EMAIL)
            buyer.log_in()
            locker = psycopg2.connect(pg_url)
            locker.cursor().execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # every logged-in request waits
            answers: list[int] = []
            crowd = [threading.Thread(target=lambda: answers.append(buyer.request("/orders/")[0])) for _ in range(16)]
            for thread in crowd:
                thread.start()
            time.sleep(1.5)  # the worker's 4 threads all taken, the other requests queued
            try:
                _get(f"{shop.url}/readyz", timeout=2)
                queued = False
            except TimeoutError:
                queued = True
            assert queued, "the shop's own /readyz answered: the request threads were not all busy"
            status, body, seconds = _get(readyz, timeout=2)
            assert (status, body["status"]) == (200, "ready") and seconds < 0.5
            locker.rollback()
            locker.close()
            for thread in crowd:
                thread.join(60)
            assert answers == [200] * 16
            (shop.data_dir / "draining").touch()
            assert _wait_for(readyz, 503) == {"status": "draining", "checks": {}}
        finally:
            stop_shop(shop)
        assert "Traceback" not in shop.log()
