"""The whole OpenAPI document of /api/v1, run by schemathesis against the running shop: every
operation with generated valid and invalid input, examples, the coverage phase and stateful
sequences along the document's links. None may answer a 5xx or anything its schema does not allow.

Left out, on purpose: `positive_data_acceptance` (the shop's rules refuse some requests a schema
cannot describe — a cursor that was never issued, a province missing for Spain, more units than are
in stock — with a 4xx problem), and `POST /auth/logout`, which would end the token the run uses.

One worker: with two, schemathesis' threads parse Python source at the same time (hypothesis
describing its strategies), which CPython 3.11 can fail with "AST constructor recursion depth
mismatch" — an error of the tool, not of the shop.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import start_shop, stop_shop

ST = Path(sys.executable).with_name("st")


@pytest.fixture(scope="module")
def api_shop(tmp_path_factory):
    running = start_shop(tmp_path_factory.mktemp("api-contract") / "var", extra_env={
        "WEB_SERVER": "gunicorn", "API_RATE_LIMIT": "1000000 per minute", "CHECKOUT_RATE_LIMIT": "1000000 per minute",
        "LOGIN_RATE_LIMIT": "1000000 per minute",
        "MAX_UNPAID_ORDERS": "0", "MAX_UNPAID_UNITS": "0", "MAX_UNPAID_ORDERS_PER_ADDRESS": "0",
        "MAX_UNPAID_UNITS_PER_ADDRESS": "0"})
    yield running
    stop_shop(running)


def _token(shop) -> str:
    customer = shop.logins["customer"]
    request = urllib.request.Request(  # noqa: S310 - the shop on loopback
        f"{shop.url}/api/v1/auth/token", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"email": customer["email"], "password": customer["password"]}).encode())
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.load(answer)["access_token"]


def _admin_key(shop) -> str:
    """An admin's key with every scope, created on the keys page as a person would."""
    import requests

    from tests.conftest import csrf_token_from

    admin = shop.logins["admin"]
    with requests.Session() as browser:
        token = csrf_token_from(browser.get(f"{shop.url}/auth/login", timeout=10).text)
        browser.post(f"{shop.url}/auth/login", timeout=10, data={
            "email": admin["email"], "password": admin["password"], "csrf_token": token})
        token = csrf_token_from(browser.get(f"{shop.url}/account/api-keys/", timeout=10).text)
        page = browser.post(f"{shop.url}/account/api-keys/", timeout=10, data={
            "name": "contract test", "days": "1", "csrf_token": token,
            "scopes": ["catalog:read", "catalog:write", "orders:read", "orders:write", "refunds:write",
                       "audit:read"]}).text
    return re.search(r"shk_[0-9]+_[A-Za-z0-9_-]{43}", page).group(0)


def _schemathesis(shop, tmp_path, credential: str, *options: str) -> None:
    run = subprocess.run(
        [str(ST), "run", f"{shop.url}/api/v1/openapi.json", "--checks", "all",
         "--exclude-checks", "positive_data_acceptance", "--exclude-path", "/api/v1/auth/logout",
         "--workers", "1", "--seed", "20261207", "--no-color", "-H", f"Authorization: Bearer {credential}",
         *options],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)  # its cache stays there
    (tmp_path / "schemathesis.txt").write_text(run.stdout + run.stderr)
    print(run.stdout[run.stdout.rfind("SUMMARY"):])  # the closing note quotes it
    assert run.returncode == 0, run.stdout[-6000:]
    assert "Server error" not in run.stdout


def test_every_api_operation_answers_within_its_schema_and_never_with_a_server_error(api_shop, tmp_path):
    _schemathesis(api_shop, tmp_path, _token(api_shop), "--max-examples", "40")


def test_every_staff_operation_with_an_admin_key_answers_within_its_schema(api_shop, tmp_path):
    _schemathesis(api_shop, tmp_path, _admin_key(api_shop), "--max-examples", "25",
                  "--include-path-regex", "^/api/v1/admin/")


def _example(shop, *extra):
    customer = shop.logins["customer"]
    return subprocess.run([sys.executable, "examples/api_buy.py", shop.url, customer["email"], customer["password"],
                           *extra], capture_output=True, text=True, timeout=120, check=False,
                          cwd=Path(__file__).resolve().parents[2])


def test_the_example_client_buys_pays_on_the_providers_page_and_downloads_the_invoice(api_shop):
    run = _example(api_shop)
    assert run.returncode == 0, run.stderr
    assert "logged in" in run.stdout and "replayed once: same order" in run.stdout
    assert re.search(r"order \d+ paid, invoice FS-\d{4}-\d{6}", run.stdout), run.stdout
    assert run.stdout.strip().splitlines()[-1].endswith("in it: True)")


def test_the_example_client_can_cancel_instead(api_shop):
    run = _example(api_shop, "--cancel")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1].endswith("cancelled")
