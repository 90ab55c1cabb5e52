"""`python app/app.py` as a newcomer runs it: starts, keeps data, refuses clashes, stops cleanly."""

import os
import signal
import time
import urllib.request

import psutil
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import start_shop, stop_shop


def _children_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return response.read().decode()


def test_first_start_prints_the_url_and_generated_demo_logins(shop):
    log = shop.log()
    assert f"Tienda lista en http://localhost:{shop.url.rsplit(':', 1)[1]}" in log
    for role in ("admin", "customer", "auditor"):
        assert shop.logins[role]["password"] in log
    assert (shop.data_dir / "demo-credentials.json").stat().st_mode & 0o077 == 0  # owner-only


def test_a_second_run_on_the_same_data_gives_a_one_line_message(shop):
    second = start_shop(shop.data_dir, wait=False)
    assert second.process.wait(60) == 1
    lines = [line for line in second.log().splitlines() if line.strip()]
    assert len(lines) == 1 and "la tienda ya está en marcha" in lines[0]


def test_a_busy_port_gives_a_one_line_message(shop, tmp_path):
    port = int(shop.url.rsplit(":", 1)[1])
    other = start_shop(tmp_path / "var", port=port, wait=False)
    assert other.process.wait(60) == 1
    lines = [line for line in other.log().splitlines() if line.strip()]
    assert len(lines) == 1 and f"el puerto {port} ya está en uso" in lines[0]


def test_sigterm_stops_everything_and_a_restart_keeps_the_data(tmp_path):
    data_dir = tmp_path / "var"
    first = start_shop(data_dir)
    logins = first.logins
    children = _children_of(first.process.pid)
    names = " ".join(" ".join(c.cmdline()) for c in children)
    assert "postgres" in names and "secantus" in names and len(children) >= 4  # 2 dbs + gunicorn workers
    assert stop_shop(first, signal.SIGTERM) == 0
    time.sleep(0.5)
    assert [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []
    assert "Tienda detenida." in first.log()

    second = start_shop(data_dir)
    try:
        assert second.logins == logins  # same users, passwords not regenerated
        assert "60 productos" in _get(second.url + "/")  # demo catalog loaded once, not twice
    finally:
        stop_shop(second, signal.SIGINT)


def test_ctrl_c_stops_the_shop_with_one_line_and_no_traceback(tmp_path):
    """A terminal's Ctrl-C signals the runner and its forked web workers at once; a worker must not
    unwind through the runner's frames (its inherited process handles complained on the way)."""
    # Shown, not ignored: the warning a worker's unwinding gives for each inherited process handle.
    shop = start_shop(tmp_path / "var", extra_env={"PYTHONWARNINGS": "always::ResourceWarning"})
    workers = [c for c in _children_of(shop.process.pid) if "app/app.py" in " ".join(c.cmdline())]
    assert workers  # gunicorn's workers are forks of the runner
    _get(shop.url + "/")
    for process in [psutil.Process(shop.process.pid), *workers]:
        process.send_signal(signal.SIGINT)
    assert stop_shop(shop, signal.SIGINT) == 0
    log = shop.log()
    assert "Tienda detenida." in log
    assert "Traceback" not in log and "Exception ignored" not in log and "ResourceWarning" not in log, log


def test_a_killed_run_leaves_no_database_running_and_the_next_start_works(tmp_path):
    data_dir = tmp_path / "var"
    first = start_shop(data_dir)
    children = _children_of(first.process.pid)
    first.process.kill()  # SIGKILL: no chance to clean up
    first.process.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE
                                              for c in children):
        time.sleep(0.2)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    second = start_shop(data_dir)
    try:
        assert "60 productos" in _get(second.url + "/")
    finally:
        stop_shop(second)


def test_the_portable_server_path_serves_a_whole_purchase_and_stops_cleanly(tmp_path):
    """WEB_SERVER=waitress: the server used where gunicorn does not run (Windows), here on Linux."""
    import uuid

    import requests

    from tests.conftest import csrf_token_from

    shop = start_shop(tmp_path / "var", extra_env={"WEB_SERVER": "waitress"})
    try:
        children = " ".join(" ".join(c.cmdline()) for c in _children_of(shop.process.pid))
        assert "gunicorn" not in children  # one process, threads: the databases are its only children
        customer = shop.logins["customer"]
        with requests.Session() as browser:
            token = csrf_token_from(browser.get(f"{shop.url}/auth/login", timeout=10).text)
            assert browser.post(f"{shop.url}/auth/login", timeout=10, allow_redirects=False, data={
                "email": customer["email"], "password": customer["password"], "csrf_token": token}).status_code == 302
            home = browser.get(f"{shop.url}/?q=Bialetti", timeout=10).text
            product_id = home.split('href="/products/', 1)[1].split('"', 1)[0]
            placed = browser.post(f"{shop.url}/api/orders", timeout=30, json={
                "items": [{"product_id": product_id, "quantity": 1}]},
                headers={"X-CSRFToken": csrf_token_from(home), "Idempotency-Key": str(uuid.uuid4())})
            assert placed.status_code == 201, placed.text
            assert "Bialetti" in browser.get(f"{shop.url}/orders/", timeout=10).text  # under Pedidos
    finally:
        assert stop_shop(shop, signal.SIGTERM) == 0
    assert "Tienda detenida." in shop.log()


def test_metrics_add_up_every_gunicorn_worker(tmp_path):
    """Two workers take the checkouts; every scrape, whichever worker answers, counts all of them."""
    import re
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from tests.conftest import csrf_token_from

    shop = start_shop(tmp_path / "var", extra_env={"METRICS_TOKEN": "metrics-token-for-the-test",
                                                   "WEB_CONCURRENCY": "2", "MAX_UNPAID_ORDERS": "0",
                                                   "MAX_UNPAID_UNITS": "0", "MAX_UNPAID_ORDERS_PER_ADDRESS": "0"})
    try:
        customer = shop.logins["customer"]
        with requests.Session() as browser:
            token = csrf_token_from(browser.get(f"{shop.url}/auth/login", timeout=10).text)
            browser.post(f"{shop.url}/auth/login", timeout=10, data={
                "email": customer["email"], "password": customer["password"], "csrf_token": token})
            home = browser.get(f"{shop.url}/?q=Bialetti", timeout=10).text
            product_id = home.split('href="/products/', 1)[1].split('"', 1)[0]

            def buy(_):
                return browser.post(f"{shop.url}/api/orders", timeout=30, json={
                    "items": [{"product_id": product_id, "quantity": 1}]},
                    headers={"X-CSRFToken": csrf_token_from(home), "Idempotency-Key": str(uuid.uuid4())}).status_code

            with ThreadPoolExecutor(6) as pool:
                assert list(pool.map(buy, range(12))) == [201] * 12
        counts = set()
        for _ in range(6):
            text = requests.get(f"{shop.url}/metrics", timeout=10,
                                headers={"Authorization": "Bearer metrics-token-for-the-test"}).text
            counts.add(float(re.search(r'^shop_checkouts_total\{outcome="placed",reason=""\} (\S+)$', text,
                                       re.M).group(1)))
        assert counts == {12.0}
        assert requests.get(f"{shop.url}/metrics", timeout=10).status_code == 404
    finally:
        stop_shop(shop)


def _mail_senders(pid: int) -> list[psutil.Process]:
    senders = []
    for child in _children_of(pid):
        try:
            if "shop.mail_sender" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                senders.append(child)
        except psutil.NoSuchProcess:  # ended while we looked
            pass
    return senders


def _until(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


@pytest.mark.parametrize("started_from", ["the project", "elsewhere"])
def test_mail_goes_out_from_one_process_below_the_web_workers_that_comes_back_if_killed(tmp_path, started_from):
    shop = start_shop(tmp_path / "var", cwd=ROOT if started_from == "the project" else tmp_path)
    try:
        [sender] = _mail_senders(shop.process.pid)
        _until(lambda: sender.nice() == 10)  # MAIL_SENDER_NICE: checkout gets the CPU first
        # MAIL_SENDER_IDLE: on Linux, only the CPU nobody else wants (set before its first thread)
        _until(lambda: all(os.sched_getscheduler(thread.id) == os.SCHED_IDLE for thread in sender.threads()))
        time.sleep(2)
        assert sender.is_running() and "the mail sender stopped" not in shop.log()  # it started for good
        sender.kill()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and [p.pid for p in _mail_senders(shop.process.pid)] in ([], [sender.pid]):
            time.sleep(0.2)
        [again] = _mail_senders(shop.process.pid)
        assert again.pid != sender.pid
        _until(lambda: again.nice() == 10)
        assert "the mail sender stopped" in shop.log()
    finally:
        assert stop_shop(shop) == 0
