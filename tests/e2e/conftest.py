"""End-to-end fixtures: the real app (`python app/app.py`) on free ports, driven by Debian's Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shop.embedded import free_port
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class RunningShop:
    process: subprocess.Popen
    url: str
    data_dir: Path
    log_path: Path

    @property
    def logins(self) -> dict[str, dict]:
        return {entry["role"]: entry for entry in json.loads((self.data_dir / "demo-credentials.json").read_text())}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_shop(data_dir: Path, port: int | None = None, extra_env: dict | None = None,
               wait: bool = True, cwd: Path = ROOT) -> RunningShop:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MONGODB_URL")}
    # Journeys check what a change shows at once; the catalog page cache has its own test.
    # Every browser here registers from 127.0.0.1; the registration limit has its own test.
    # Links in the shop's e-mails start with PUBLIC_URL: the address these browsers use.
    env.update({"SHOP_DATA_DIR": str(data_dir), "PORT": str(port), "WEB_CONCURRENCY": "2", "CATALOG_CACHE_SECONDS": "0",
                "PYTHONUNBUFFERED": "1", "REGISTER_RATE_LIMIT": "1000 per hour",
                "PUBLIC_URL": f"http://127.0.0.1:{port}", **(extra_env or {})})
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}-{port}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen([sys.executable, str(ROOT / "app" / "app.py")], cwd=cwd, env=env,
                                   stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    shop = RunningShop(process, f"http://127.0.0.1:{port}", data_dir, log_path)
    if wait:
        wait_ready(shop)
    return shop


def wait_ready(shop: RunningShop, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if shop.process.poll() is not None:
            raise AssertionError(f"the shop exited with {shop.process.returncode}:\n{shop.log()}")
        try:
            with urllib.request.urlopen(f"{shop.url}/readyz", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    stop_shop(shop)
    raise AssertionError(f"the shop was not ready in {timeout}s:\n{shop.log()}")


def stop_shop(shop: RunningShop, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    if shop.process.poll() is None:
        shop.process.send_signal(sig)
        try:
            shop.process.wait(timeout)
        except subprocess.TimeoutExpired:
            shop.process.kill()
            shop.process.wait()
    return shop.process.returncode


@pytest.fixture(scope="session")
def shop(tmp_path_factory) -> Iterator[RunningShop]:
    """The shop the shared journeys run against, served by gunicorn (Linux, macOS). The portable
    server (waitress, the one used on Windows) has a whole purchase of its own in
    test_running_the_shop.py, rather than every journey a second time."""
    running = start_shop(tmp_path_factory.mktemp("e2e-gunicorn") / "var", extra_env={"WEB_SERVER": "gunicorn"})
    yield running
    stop_shop(running)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, shop):
    context = browser.new_context(base_url=shop.url, locale="es-ES", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


def pay_on_provider_page(page, outcome: str = "paid") -> None:
    """From an order's page: Pagar, then the outcome chosen on the (simulated) provider's page, which
    sends the browser back to the order."""
    from playwright.sync_api import expect

    page.get_by_role("button", name=re.compile("^Pagar")).click()
    provider = page.get_by_test_id("simulated-provider")
    expect(provider).to_be_visible()
    names = {"paid": re.compile("^Pagar"), "declined": "Simular una tarjeta rechazada"}
    provider.get_by_role("button", name=names[outcome]).click()
    expect(page.get_by_test_id("order-status")).to_be_visible()


def register(page, shop: RunningShop, name: str, email: str, password: str = "una clave muy larga") -> None:
    """Fill and send the registration form, then follow the activation link in the e-mail, as a person would."""
    from playwright.sync_api import expect

    page.goto("/auth/register")
    page.get_by_label("Nombre").fill(name)
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Contraseña", exact=True).fill(password)
    page.get_by_label("Repite la contraseña").fill(password)
    page.get_by_role("button", name="Crear cuenta").click()
    expect(page.get_by_test_id("check-email")).to_contain_text(email)
    page.goto(activation_link(shop.data_dir, email))


def activation_link(data_dir: Path, email: str, wait_seconds: float = 30.0) -> str:
    """The activation link in the newest e-mail to `email` (see mailed_link)."""
    return mailed_link(data_dir, email, "/auth/activate/", wait_seconds)


def mailed_link(data_dir: Path, email: str, path: str, wait_seconds: float = 30.0) -> str:
    """The link to `path`… in the newest e-mail to `email` in the shop's outbox (no SMTP_HOST: .eml
    files), waiting for the shop's mail sender to deliver it (it passes every MAIL_SEND_INTERVAL_SECONDS)."""
    from email import message_from_bytes
    from email.policy import default

    deadline = time.monotonic() + wait_seconds
    while True:
        for mail in sorted((data_dir / "outbox").glob("*.eml"), reverse=True):
            message = message_from_bytes(mail.read_bytes(), policy=default)
            if message["To"] == email:
                text = message.get_body(("plain",)).get_content()
                found = re.search(r"https?://\S+" + re.escape(path) + r"\S+", text)
                if found:
                    return found.group(0)
        if time.monotonic() > deadline:
            raise AssertionError(f"no e-mail to {email} with a link to {path} in {data_dir / 'outbox'} "
                                 f"after {wait_seconds} s")
        time.sleep(0.2)
