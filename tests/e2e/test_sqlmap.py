"""The outside attacker's check: sqlmap against login, search, product, cart, order and staff filter endpoints.

Runs Debian's sqlmap against the real running shop (gunicorn, both databases) with a logged-in
session and fresh CSRF tokens, and fails on any finding. Each target must also show that sqlmap
really tested its parameters, so a run that tested nothing cannot pass.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import start_shop, stop_shop
from tests.e2e.test_concurrent_buyers import USER_AGENT, Buyer

SQLMAP = "/usr/bin/sqlmap"
FINDINGS = re.compile(r"identified the following injection point|is vulnerable|parameter '.*' is '.*' injectable",
                      re.IGNORECASE)


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    if not Path(SQLMAP).exists():
        pytest.fail(f"{SQLMAP} is missing: run `make test` (it installs Debian's sqlmap)")
    shop = start_shop(tmp_path_factory.mktemp("sqlmap") / "var",
                      extra_env={"LOGIN_RATE_LIMIT": "100000 per minute"})
    try:
        buyer = Buyer(shop.url, shop.logins["customer"]["email"], shop.logins["customer"]["password"])
        buyer.log_in()
        _, home = buyer.request("/")
        product_id = re.search(r'href="/products/([0-9a-f]{24})"', home).group(1)
        status, _ = buyer.request("/orders/buy", {**buyer.product_form(product_id), "quantity": "1"})
        assert status == 303
        _, orders = buyer.request("/orders/")
        order_id = re.search(r'href="/orders/(\d+)"', orders).group(1)
        admin = Buyer(shop.url, shop.logins["admin"]["email"], shop.logins["admin"]["password"])
        admin.log_in()
        yield shop, _cookie_of(buyer), product_id, order_id, _cookie_of(admin)
    finally:
        stop_shop(shop)


def _cookie_of(buyer: Buyer) -> str:
    for handler in buyer.opener.handlers:
        if hasattr(handler, "cookiejar"):
            return "; ".join(f"{c.name}={c.value}" for c in handler.cookiejar)
    raise AssertionError("the buyer has no cookies")


def sqlmap(tmp_path, url: str, *extra: str) -> str:
    threads = [] if "--csrf-token" in extra else ["--threads", "4"]  # sqlmap refuses both together
    result = subprocess.run(
        [SQLMAP, "-u", url, "--batch", "--level", "1", "--risk", "1", *threads, "--timeout", "10",
         "--retries", "0", "--disable-coloring", "--flush-session", "--drop-set-cookie",
         "--user-agent", USER_AGENT,
         "--output-dir", str(tmp_path / "sqlmap"), *extra],
        capture_output=True, text=True, timeout=600)
    return result.stdout + result.stderr


def assert_clean(output: str, parameters: list[str], *, logged_in: bool = False) -> None:
    assert not FINDINGS.search(output), output[-3000:]
    if logged_in:  # the requests really reached the view: not bounced to the login page
        assert "/auth/login" not in output, output[-3000:]
    for parameter in parameters:
        assert re.search(rf"parameter '{re.escape(parameter)}' (does not seem|might not)", output) or \
            re.search(rf"parameter '{re.escape(parameter)}' does not appear", output), \
            f"sqlmap did not test {parameter}:\n{output[-3000:]}"


def test_search_and_filters(target, tmp_path):
    shop, _, _, _, _ = target
    from shop.domain.listing import Position

    after = Position("name", "cafe", "0" * 24).token()
    output = sqlmap(tmp_path, f"{shop.url}/?q=cafe&category=Libros&sort=name&attr.idioma=es&after={after}")
    assert_clean(output, ["q", "category", "sort", "attr.idioma", "after"])


def test_product_page(target, tmp_path):
    shop, _, product_id, _, _ = target
    output = sqlmap(tmp_path, f"{shop.url}/products/{product_id}*")
    assert_clean(output, ["#1*"])


def test_login(target, tmp_path):
    shop, _, _, _, _ = target
    output = sqlmap(tmp_path, f"{shop.url}/auth/login", "--data", "email=ana@example.com&password=secret&csrf_token=x",
                    "--csrf-token", "csrf_token", "--csrf-url", f"{shop.url}/auth/login", "-p", "email,password")
    assert_clean(output, ["email", "password"])


def test_cart_and_buy_as_a_logged_in_customer(target, tmp_path):
    shop, cookie, product_id, _, _ = target
    for path in ("/cart/add", "/orders/buy"):
        output = sqlmap(tmp_path, f"{shop.url}{path}", "--cookie", cookie,
                        "--data", f"product_id={product_id}&quantity=1&csrf_token=x"
                                  "&idempotency_key=6f1c8a56-3a3c-4b61-9f6e-0d0f7b1c2a10",
                        "--csrf-token", "csrf_token", "--csrf-url", f"{shop.url}/products/{product_id}",
                        "-p", "product_id,quantity")
        assert_clean(output, ["product_id", "quantity"], logged_in=True)


def test_order_page(target, tmp_path):
    shop, cookie, _, order_id, _ = target
    output = sqlmap(tmp_path, f"{shop.url}/orders/{order_id}*", "--cookie", cookie)
    assert_clean(output, ["#1*"], logged_in=True)


def test_staff_order_and_audit_filters_as_an_admin(target, tmp_path):
    shop, _, _, _, admin_cookie = target
    output = sqlmap(tmp_path, f"{shop.url}/admin/orders/?status=paid&email=ana@example.com&order=1&from=2026-01-01",
                    "--cookie", admin_cookie)
    assert_clean(output, ["status", "email", "order", "from"], logged_in=True)
    output = sqlmap(tmp_path, f"{shop.url}/admin/audit/?actor=1&action=login.failed&target=order:1",
                    "--cookie", admin_cookie)
    assert_clean(output, ["actor", "action", "target"], logged_in=True)
