"""Several instances, one shop: HAProxy (deploy/haproxy/shop.cfg, Debian's package) in
front of two instances sharing Redis for the rate limits, 300 buyers for 7 units, one instance
SIGKILLed mid-burst and restarted. The stock invariant holds, and the only 5xx answers are requests
that were in flight on the killed instance (HAProxy's own log says which server each went to)."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from shop.domain.accounts import Role
from shop.embedded import free_port
from shop.services.accounts import hash_password
from tests.conftest import ROOT
from tests.e2e.conftest import start_shop, stop_shop, wait_ready
from tests.e2e.test_concurrent_buyers import PASSWORD, Buyer, _product, own_databases, shop_env
from tests.integration.invariant import assert_invariant_after_recovery

HAPROXY = "/usr/sbin/haproxy"
BUYERS, UNITS = 300, 7


def _haproxy(tmp_path: Path, port: int, shops: dict[str, dict[str, int]]) -> tuple[subprocess.Popen, Path]:
    """The repository's configuration, with this test's ports (each instance's PORT and HEALTH_PORT)."""
    config = (ROOT / "deploy" / "haproxy" / "shop.cfg").read_text().replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    for name, shipped in (("a", (5001, 6001)), ("b", (5002, 6002))):
        config = config.replace(f"127.0.0.1:{shipped[0]} check port {shipped[1]}",
                                f"127.0.0.1:{shops[name]['port']} check port {shops[name]['health']}")
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    log = tmp_path / "haproxy.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([HAPROXY, "-db", "-f", str(path)], stdout=out, stderr=subprocess.STDOUT)
    return process, log


def _wait_listening(port: int, seconds: float = 10.0) -> None:
    """HAProxy binds its port a moment after it starts: the first request must not come sooner."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _kill_tree(pid: int) -> None:
    parent = psutil.Process(pid)
    for process in [*parent.children(recursive=True), parent]:
        process.send_signal(signal.SIGKILL)


@pytest.fixture
def two_instances(servers, tmp_path):
    if not Path(HAPROXY).exists():
        pytest.fail(f"{HAPROXY} is missing: run `make test` (it installs Debian's haproxy)")
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/13").flushdb()
    with own_databases(servers, "shop_lb") as (pg_url, db_name, db, store):
        password_hash = hash_password(PASSWORD)
        emails = [f"buyer{i}@example.com" for i in range(BUYERS)]
        for email in emails:
            db.users.insert(email, "Buyer", password_hash, Role.CUSTOMER)
        env = shop_env(servers, pg_url, db_name, WEB_CONCURRENCY="2", SECRET_KEY="k" * 48, TRUSTED_PROXIES="1",
                       RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/13", LOGIN_RATE_LIMIT="100000 per minute",
                       CHECKOUT_LEASE_SECONDS="2", CHECKOUT_RATE_LIMIT="100000 per minute",
                       MAX_UNPAID_ORDERS="0", MAX_UNPAID_UNITS="0")
        ports = {name: {"port": free_port(), "health": free_port()} for name in ("a", "b")}
        shops = {name: start_shop(tmp_path / f"var-{name}", port=port["port"],
                                  extra_env={**env, "HEALTH_PORT": str(port["health"])})
                 for name, port in ports.items()}
        lb_port = free_port()
        lb, lb_log = _haproxy(tmp_path, lb_port, ports)
        try:
            _wait_listening(lb_port)
            yield {"url": f"http://127.0.0.1:{lb_port}", "shops": shops, "ports": ports, "env": env, "db": db,
                   "store": store, "emails": emails, "lb_log": lb_log, "tmp": tmp_path}
        finally:
            lb.terminate()
            lb.wait(10)
            for shop in shops.values():
                stop_shop(shop)


def test_300_buyers_through_the_load_balancer_while_one_instance_is_killed_and_restarted(two_instances):
    lb = two_instances
    product_id = _product(lb["db"], lb["store"], "Oferta relámpago", UNITS)
    buyers = [Buyer(lb["url"], email) for email in lb["emails"]]
    forms: list = [None] * BUYERS
    for index, buyer in enumerate(buyers):  # log in and open the product page, through the balancer
        buyer.log_in()
        forms[index] = buyer.product_form(product_id)

    statuses: list = [None] * BUYERS
    go = threading.Event()

    def buy(index: int) -> None:
        go.wait()
        try:
            statuses[index] = buyers[index].request("/orders/buy", {**forms[index], "quantity": "1"})[0]
        except http.client.IncompleteRead:  # the killed instance had sent its headers, not all its body
            statuses[index] = "cut short"
        except http.client.RemoteDisconnected:  # HAProxy was still passing the request on when it died
            statuses[index] = "no answer"
        except OSError as error:  # a connection reset is an answer too; counted below
            statuses[index] = repr(error)

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(BUYERS)]
    for thread in threads:
        thread.start()
    go.set()
    time.sleep(0.3)
    killed = lb["shops"]["a"]
    _kill_tree(killed.process.pid)  # mid-burst, no warning: like a machine that dies
    time.sleep(1)
    restarted = start_shop(killed.data_dir, port=lb["ports"]["a"]["port"],
                           extra_env={**lb["env"], "HEALTH_PORT": str(lb["ports"]["a"]["health"])}, wait=False)
    lb["shops"]["a"] = restarted
    for thread in threads:
        thread.join(300)
    wait_ready(restarted)

    counts = Counter(statuses)
    # "cut short": HAProxy had relayed the killed instance's status line when it died (logged with
    # that status and an abort flag, so not among the 5xx lines below)
    # "no answer": the killed instance died while HAProxy was still sending it the request (logged
    # with status -1 and "SD": the server aborted during the data phase), so the connection closed
    # without an answer
    assert set(counts) <= {303, 409, 502, 503, 504, "cut short", "no answer"}, counts
    assert counts[303] <= UNITS
    # Every 5xx was a request HAProxy had sent to the killed instance ("a"); none came from "b".
    log = lb["lb_log"].read_text(errors="replace")
    failed_lines = [line for line in log.splitlines() if re.search(r'\s5\d\d\s', line) and "POST /orders/buy" in line]
    assert len(failed_lines) == sum(counts[code] for code in (502, 503, 504)), log[-3000:]
    assert all("shop_instances/a" in line for line in failed_lines), failed_lines
    unanswered = [line for line in log.splitlines() if re.search(r'\s-1\s', line) and "POST /orders/buy" in line]
    assert len(unanswered) == counts["no answer"], log[-3000:]
    assert all("shop_instances/a" in line for line in unanswered), unanswered

    time.sleep(3)  # past the checkout lease of anything the killed instance left in flight
    assert_invariant_after_recovery(lb["db"], lb["store"], {product_id: UNITS})
    sold = UNITS - lb["store"].stock.levels()[product_id]
    with lb["db"].transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM orders WHERE status = 'pending'")
        assert cur.fetchone()["n"] == sold  # one unit per order: every unit sold is one live order


def test_a_draining_instance_gets_no_new_requests_and_then_stops_without_an_error(two_instances):
    lb = two_instances
    (lb["shops"]["b"].data_dir / "draining").touch()  # what deploy/systemd/shop.service's ExecStop does
    time.sleep(5)  # HAProxy checks every 2 s and takes a server out after 2 failures
    mark = len(lb["lb_log"].read_text(errors="replace").splitlines())
    buyer = Buyer(lb["url"], lb["emails"][0])
    statuses = [buyer.request("/")[0] for _ in range(20)]
    stop_shop(lb["shops"]["b"])  # then it stops: nobody was talking to it
    statuses += [buyer.request("/")[0] for _ in range(10)]
    assert statuses == [200] * 30
    served = _served_since(lb["lb_log"], mark, expected=30)
    assert len(served) == 30 and all("shop_instances/a" in line for line in served), served


def _served_since(log: Path, mark: int, expected: int) -> list[str]:
    """HAProxy writes a request's log line when the stream ends, which can be just after the client
    has read the answer: wait up to 5 s for the last lines to arrive."""
    deadline = time.monotonic() + 5
    while True:
        served = [line for line in log.read_text(errors="replace").splitlines()[mark:] if '"GET / ' in line]
        if len(served) >= expected or time.monotonic() > deadline:
            return served
        time.sleep(0.1)


def _drain_and_restart(lb: dict, name: str) -> None:
    """What deploy/systemd/shop.service does on `systemctl restart`: ExecStop creates the draining
    file and waits 6 s (HAProxy checks every 2 s, down after 2 failures), then SIGTERM (gunicorn
    finishes what it has); ExecStartPre removes the file and the instance starts again."""
    shop = lb["shops"][name]
    (shop.data_dir / "draining").touch()
    time.sleep(6)
    assert stop_shop(shop) == 0, shop.log()[-3000:]
    (shop.data_dir / "draining").unlink()
    port = lb["ports"][name]
    lb["shops"][name] = start_shop(shop.data_dir, port=port["port"],
                                   extra_env={**lb["env"], "HEALTH_PORT": str(port["health"])})
    time.sleep(5)  # HAProxy puts it back after 2 passing checks


def test_three_drains_under_16_buyers_cut_no_request(two_instances):
    lb = two_instances
    product_id = _product(lb["db"], lb["store"], "Camiseta", 100_000)
    buyers = [Buyer(lb["url"], email) for email in lb["emails"][:16]]
    for buyer in buyers:
        buyer.log_in()
    stop = threading.Event()
    outcomes: Counter = Counter()

    def shop(buyer: Buyer) -> None:
        while not stop.is_set():
            try:
                form = buyer.product_form(product_id)
                status = buyer.request("/orders/buy", {**form, "quantity": "1"})[0]
                outcomes[status] += 1
            except (OSError, http.client.HTTPException, AttributeError) as error:  # no answer, or no form
                outcomes[type(error).__name__] += 1

    threads = [threading.Thread(target=shop, args=(buyer,)) for buyer in buyers]
    for thread in threads:
        thread.start()
    try:
        for name in ("b", "a", "b"):  # each instance, and one drained a second time
            _drain_and_restart(lb, name)
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
    # Every purchase answered 303 (bought): anything else is a request the drains cut.
    assert set(outcomes) == {303} and outcomes[303] > 120, outcomes
