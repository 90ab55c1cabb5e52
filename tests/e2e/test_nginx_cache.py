"""nginx in front of the shop with the repository's configuration (deploy/nginx/shop.conf, Debian's
package), over TLS: it keeps what a visitor sees and nothing a logged-in person sees. A thousand
visitors asking for one page reach the shop a handful of times; a purchase shows within the cache's
time; a page seen by a logged-in customer or an admin is never served to anyone else."""

from __future__ import annotations

import http.cookiejar
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from shop.domain.accounts import Role
from shop.embedded import free_port
from shop.services.accounts import hash_password
from shop.services.catalog import add_products
from tests.conftest import ROOT, csrf_token_from
from tests.e2e.conftest import start_shop, stop_shop
from tests.e2e.test_concurrent_buyers import _NoRedirect, own_databases, shop_env
from tests.e2e.test_load_balanced import _wait_listening

NGINX = "/usr/sbin/nginx"
PASSWORD = "a shared test password"
STAFF_LINK = re.compile(r'href="(/en)?/admin/')  # a link in the staff navbar
FRESH_SECONDS, STALE_SECONDS = 4, 2  # the shop's HTTP_CACHE_SECONDS and HTTP_CACHE_STALE_SECONDS here


class Browser:
    """One person's browser: its own cookies, the test certificate trusted, redirects not followed."""

    def __init__(self, base_url: str, certificate: Path):
        self.base_url = base_url
        context = ssl.create_default_context(cafile=str(certificate))
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=context),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())

    def get(self, path: str, data: dict | None = None) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        # A form is sent from the shop's own page, as a browser says (CSRF checks it over HTTPS).
        headers = {"Referer": self.base_url + path} if body is not None else {}
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers)  # noqa: S310 - https://127.0.0.1
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def log_in(self, email: str) -> None:
        _, _, page = self.get("/auth/login")
        status, _, _ = self.get("/auth/login", {"email": email, "password": PASSWORD,
                                                "csrf_token": csrf_token_from(page)})
        assert status == 302, f"login of {email} failed with {status}"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made with openssl, valid one day."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def nginx_in_front(directory: Path, shop_port: int, https_port: int, http_port: int, cert: Path, key: Path,
                   extra_http: str = "") -> subprocess.Popen:
    """nginx running the repository's site file with these ports, certificate and cache directory,
    inside a minimal main configuration of its own (its logs and temporary files under `directory`;
    `extra_http`: more of the http {} block)."""
    site = (ROOT / "deploy" / "nginx" / "shop.conf").read_text()
    for shipped, here in (("/var/cache/nginx/", f"{directory}/cache/"), ("127.0.0.1:5000", f"127.0.0.1:{shop_port}"),
                          ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                          ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                          ("/etc/ssl/shop/fullchain.pem", str(cert)), ("/etc/ssl/shop/privkey.pem", str(key))):
        assert shipped in site, shipped
        site = site.replace(shipped, here)
    site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)  # no IPv6 on every test machine
    (directory / "cache").mkdir(parents=True)
    (directory / "shop.conf").write_text(site)
    main = directory / "nginx.conf"
    # As root, nginx's workers would run as nobody, who cannot enter pytest's private directories.
    workers = "user root;" if os.geteuid() == 0 else ""
    main.write_text(f"""
{workers}
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/shop.conf;
    {extra_http}
}}
""")
    checked = subprocess.run([NGINX, "-t", "-c", str(main)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    return subprocess.Popen([NGINX, "-c", str(main)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


@pytest.fixture
def behind_nginx(servers, tmp_path):
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is missing: run `make test` (it installs Debian's nginx)")
    with own_databases(servers, "shop_nginx") as (pg_url, db_name, db, store):
        password_hash = hash_password(PASSWORD)
        db.users.insert("ana@example.com", "Ana Privada", password_hash, Role.CUSTOMER)
        db.users.insert("berta@example.com", "Berta Cliente", password_hash, Role.CUSTOMER)
        db.users.insert("jefa@example.com", "Jefa Tienda", password_hash, Role.ADMIN)
        add_products(db, store, [{"name": "Taza de barro", "category": "Cocina", "price": Decimal("12.00"),
                                  "stock": 40, "attributes": {}}])
        product_id = str(store.products.find_one({"name": "Taza de barro"})["_id"])
        https_port, http_port, shop_port = free_port(), free_port(), free_port()
        base_url = f"https://127.0.0.1:{https_port}"
        shop = start_shop(tmp_path / "var", port=shop_port, extra_env=shop_env(
            servers, pg_url, db_name, PUBLIC_URL=base_url, TRUSTED_PROXIES="1",
            TRUSTED_PROXY_ADDRESSES="127.0.0.1", HTTP_CACHE_SECONDS=str(FRESH_SECONDS),
            HTTP_CACHE_STALE_SECONDS=str(STALE_SECONDS), CATALOG_CACHE_SECONDS="0",
            LOGIN_RATE_LIMIT="1000 per minute"))
        cert, key = self_signed_certificate(tmp_path)
        nginx = nginx_in_front(tmp_path / "nginx", shop_port, https_port, http_port, cert, key)
        try:
            _wait_listening(https_port)
            yield {"url": base_url, "http_port": http_port, "cert": cert, "shop": shop, "product_id": product_id,
                   "store": store}
        finally:
            nginx.terminate()
            nginx.wait(10)
            stop_shop(shop)


def _shop_saw(shop, path: str) -> int:
    """How many GETs of `path` the shop itself answered (its access log)."""
    return len(re.findall(rf"shop\.access: GET {re.escape(path)} \d{{3}}", shop.log()))


def _stock_shown(page: str) -> str:
    return re.search(r'data-testid="stock">([^<]*)<', page).group(1)


def test_a_thousand_visitors_of_one_page_reach_the_shop_a_handful_of_times(behind_nginx):
    path = f"/products/{behind_nginx['product_id']}"
    visitors = [Browser(behind_nginx["url"], behind_nginx["cert"]) for _ in range(8)]
    statuses, caches = [], []
    started = time.monotonic()

    def visit(visitor: Browser) -> None:
        for _ in range(125):
            status, headers, _ = visitor.get(path)
            statuses.append(status)
            caches.append(headers.get("X-Cache-Status"))
            assert "Set-Cookie" not in headers

    threads = [threading.Thread(target=visit, args=(visitor,)) for visitor in visitors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert statuses == [200] * 1000
    # One request per page at a time refreshes it (the cache lock), once every FRESH_SECONDS.
    allowed = 1 + int(elapsed / FRESH_SECONDS) + 1
    assert _shop_saw(behind_nginx["shop"], path) <= allowed, (elapsed, caches.count("HIT"))
    assert caches.count("HIT") >= 990


def test_plain_http_is_sent_to_https(behind_nginx):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", behind_nginx["http_port"], timeout=10)
    connection.request("GET", "/products/x?y=1")
    answer = connection.getresponse()
    assert answer.status == 301 and answer.getheader("Location") == "https://127.0.0.1/products/x?y=1"


def test_a_purchase_shows_in_the_stock_within_the_cache_time(behind_nginx):
    path = f"/products/{behind_nginx['product_id']}"
    visitor = Browser(behind_nginx["url"], behind_nginx["cert"])
    before = _stock_shown(visitor.get(path)[2])
    buyer = Browser(behind_nginx["url"], behind_nginx["cert"])
    buyer.log_in("ana@example.com")
    status, headers, page = buyer.get(path)
    assert headers.get("X-Cache-Status") == "BYPASS" and "Ana Privada" in page
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    status, _, _ = buyer.get("/orders/buy", {"csrf_token": csrf_token_from(page), "idempotency_key": key,
                                             "product_id": behind_nginx["product_id"], "quantity": "3"})
    assert status in (302, 303)
    bought = time.monotonic()
    while _stock_shown(visitor.get(path)[2]) == before:
        assert time.monotonic() - bought <= FRESH_SECONDS + STALE_SECONDS + 1, "the old stock is still shown"
        time.sleep(0.2)
    assert _stock_shown(visitor.get(path)[2]) != before


def test_no_page_a_logged_in_person_saw_is_served_to_anyone_else(behind_nginx):
    product = f"/products/{behind_nginx['product_id']}"
    catalog = ["/", "/en/", product, f"/en{product}", "/?q=taza"]
    pages = [*catalog, "/orders/", "/cart/", "/admin/orders/"]
    ana, berta, boss = (Browser(behind_nginx["url"], behind_nginx["cert"]) for _ in range(3))
    ana.log_in("ana@example.com")
    berta.log_in("berta@example.com")
    boss.log_in("jefa@example.com")
    for url in pages:  # the logged-in people first, so that a leak would be in the cache
        seen_by_ana, seen_by_boss = ana.get(url)[2], boss.get(url)[2]
        if url in catalog:  # their names in the navbar, the staff links in the boss's
            assert "Ana Privada" in seen_by_ana, url
            assert "Jefa Tienda" in seen_by_boss and STAFF_LINK.search(seen_by_boss), url
    visitor = Browser(behind_nginx["url"], behind_nginx["cert"])
    for url in pages:
        for someone, others in ((berta, ("Ana Privada", "Jefa Tienda")),
                                (visitor, ("Ana Privada", "Jefa Tienda", "Berta Cliente"))):
            status, headers, page = someone.get(url)
            for name in others:
                assert name not in page, (url, name)
            assert not STAFF_LINK.search(page), url
    for url in ("/", product):
        assert visitor.get(url)[1].get("X-Cache-Status") in ("HIT", "STALE", "UPDATING", "REVALIDATED", "MISS")
        assert ana.get(url)[1].get("X-Cache-Status") == "BYPASS"
