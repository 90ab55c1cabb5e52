"""Hundreds of buyers at once, over HTTP, against the real server with several worker processes.

Each buyer is a separate HTTP client with its own session. Whatever the interleaving, exactly the
units in stock are sold, nothing is sold twice, and the invariant holds afterwards.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from decimal import Decimal

import psycopg2
import pytest

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import Role
from shop.services.accounts import hash_password
from shop.services.catalog import add_products
from tests.conftest import csrf_token_from
from tests.e2e.conftest import start_shop, stop_shop
from tests.integration.invariant import assert_invariant_after_recovery

BUYERS = 200
USER_AGENT = "shop-tests/1.0"  # fixed: Flask-Login's strong session protection binds a session to it
PASSWORD = "a shared test password"


class Buyer:
    """One shopper's browser: its own cookies, its own session and CSRF token."""

    def __init__(self, base_url: str, email: str, password: str = PASSWORD):
        self.base_url = base_url
        self.email = email
        self.password = password
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect())

    def request(self, path: str, data: dict | None = None, json_body=None, headers=None) -> tuple[int, str]:
        body, all_headers = None, {"User-Agent": USER_AGENT, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        elif data is not None:
            body = urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.base_url + path, data=body, headers=all_headers)  # noqa: S310 - http://127.0.0.1
        try:
            with self.opener.open(req, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def log_in(self) -> None:
        _, page = self.request("/auth/login")
        status, _ = self.request("/auth/login", {"email": self.email, "password": self.password,
                                                 "csrf_token": csrf_token_from(page)})
        assert status == 302, f"login of {self.email} failed with {status}"

    def product_form(self, product_id: str) -> dict:
        _, page = self.request(f"/products/{product_id}")
        key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
        return {"csrf_token": csrf_token_from(page), "idempotency_key": key, "product_id": product_id}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@contextlib.contextmanager
def own_databases(servers, prefix: str):
    """A fresh PostgreSQL database (migrated) and MongoDB database (schema applied), dropped after."""
    db_name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(servers.postgres_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db_name}"')  # a generated name, never input
    pg_url = servers.postgres_url.rsplit("/", 1)[0] + f"/{db_name}"
    db = PostgresDatabase(pg_url, max_connections=4)
    store = MongoStore(servers.mongodb_url, db_name)
    try:
        db.migrate()
        store.apply_schema()
        yield pg_url, db_name, db, store
    finally:
        db.close()
        store.client.drop_database(db_name)
        store.close()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()


def shop_env(servers, pg_url: str, db_name: str, **extra) -> dict:
    # Every buyer here comes from 127.0.0.1: the per-address unpaid limit (which a crowd from many
    # addresses never meets) would refuse them before the stock does. The per-account one stays on.
    return {"DATABASE_URL": pg_url, "MONGODB_URL": servers.mongodb_url, "MONGODB_DB": db_name,
            "SHOP_DEMO_DATA": "0", "MAX_UNPAID_ORDERS_PER_ADDRESS": "0", "MAX_UNPAID_UNITS_PER_ADDRESS": "0", **extra}


@pytest.fixture
def crowd_shop(servers, tmp_path):
    """A running shop (4 worker processes) on its own databases, with BUYERS customers."""
    with own_databases(servers, "shop_crowd") as (pg_url, db_name, db, store):
        password_hash = hash_password(PASSWORD)  # one hash for all: creating 200 users stays fast
        emails = [f"buyer{i}@example.com" for i in range(BUYERS)]
        for email in emails:
            db.users.insert(email, "Buyer", password_hash, Role.CUSTOMER)
        shop = start_shop(tmp_path / "var", extra_env=shop_env(
            servers, pg_url, db_name, WEB_CONCURRENCY="4", LOGIN_RATE_LIMIT="100000 per minute"))
        try:
            yield shop, db, store, emails
        finally:
            stop_shop(shop)


def _all_at_once(buyers: list[Buyer], action) -> list:
    """Log every buyer in, then release them through one barrier so their requests truly overlap."""
    barrier = threading.Barrier(len(buyers))
    results: list = [None] * len(buyers)

    def run(index: int, buyer: Buyer) -> None:
        try:
            buyer.log_in()
            prepared = action.prepare(buyer)
            barrier.wait(timeout=300)
            results[index] = action.go(buyer, prepared)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results[index] = error
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i, b)) for i, b in enumerate(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return results


def _product(db, store, name: str, stock: int) -> str:
    add_products(db, store, [{"name": name, "category": "Oferta", "price": Decimal("19.99"), "stock": stock,
                              "attributes": {}}])
    return str(store.products.find_one({"name": name})["_id"])


def test_200_buyers_for_10_units_buy_exactly_10(crowd_shop):
    shop, db, store, emails = crowd_shop
    product_id = _product(db, store, "Consola", 10)

    class BuyOne:
        @staticmethod
        def prepare(buyer):
            return buyer.product_form(product_id)

        @staticmethod
        def go(buyer, form):
            return buyer.request("/orders/buy", {**form, "quantity": "1"})[0]

    statuses = _all_at_once([Buyer(shop.url, e) for e in emails], BuyOne)
    counts = Counter(statuses)
    assert counts == {303: 10, 409: BUYERS - 10}, counts
    assert store.stock.levels()[product_id] == 0
    assert_invariant_after_recovery(db, store, {product_id: 10})
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n, count(DISTINCT user_id) AS buyers FROM orders WHERE status = 'pending'")
        row = cur.fetchone()
    assert (row["n"], row["buyers"]) == (10, 10)


def test_overlapping_multi_item_carts_are_all_or_nothing(crowd_shop):
    shop, db, store, emails = crowd_shop
    a, b, c = _product(db, store, "A", 10), _product(db, store, "B", 10), _product(db, store, "C", 10)
    carts = [[(a, 1), (b, 1)], [(b, 1), (c, 1)], [(c, 2), (a, 1)], [(a, 1), (b, 1), (c, 1)]]

    class BuyCart:
        @staticmethod
        def prepare(buyer):
            _, page = buyer.request("/")
            return csrf_token_from(page)

        @staticmethod
        def go(buyer, token):
            cart = carts[int(buyer.email[5:].split("@")[0]) % len(carts)]
            status, body = buyer.request(
                "/api/orders", json_body={"items": [{"product_id": p, "quantity": q} for p, q in cart]},
                headers={"X-CSRFToken": token, "Idempotency-Key": str(uuid.uuid4()), "Accept": "application/json"})
            return status, body

    results = _all_at_once([Buyer(shop.url, e) for e in emails], BuyCart)
    errors = [r for r in results if not isinstance(r, tuple)]
    assert errors == []
    assert {status for status, _ in results} <= {201, 409}, Counter(s for s, _ in results)
    assert any(status == 201 for status, _ in results)
    assert_invariant_after_recovery(db, store, {a: 10, b: 10, c: 10})
    # all-or-nothing: every order has exactly the lines of one of the carts, no partial order exists
    with db.transaction() as cur:
        cur.execute("""SELECT o.order_id, array_agg(i.product_id || ':' || i.quantity ORDER BY i.product_id) AS lines
                       FROM orders o JOIN order_items i USING (order_id) WHERE o.status = 'pending'
                       GROUP BY o.order_id""")
        placed = [sorted(row["lines"]) for row in cur.fetchall()]
    allowed = [sorted(f"{p}:{q}" for p, q in cart) for cart in carts]
    assert all(lines in allowed for lines in placed)
    assert store.stock.levels()[b] >= 0 and store.stock.levels()[a] >= 0


def test_the_running_shop_recovers_abandoned_checkouts_by_itself(servers, tmp_path):
    """The periodic recovery really runs inside the web workers (not only when a test calls it)."""
    with own_databases(servers, "shop_recovery") as (pg_url, db_name, db, store):
        product_id = _product(db, store, "Abandonado", 5)
        user = db.users.insert("solo@example.com", "Solo", hash_password(PASSWORD), Role.CUSTOMER)
        shop = start_shop(tmp_path / "var", extra_env=shop_env(servers, pg_url, db_name,
                                                               RECOVERY_INTERVAL_SECONDS="1"))
        try:
            # After start-up (so the start-up pass cannot be what fixes it): a checkout that died
            # after reserving, its order in flight and its hold on the product.
            order = db.orders.create_placing(user.user_id, str(uuid.uuid4()), "0" * 64, lease_seconds=1).order
            assert store.stock.reserve(product_id, order.order_id, 2)
            assert store.stock.levels()[product_id] == 3
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (db.orders.get(order.order_id).status == "placing"
                                                   or store.stock.with_markers("holds")):
                time.sleep(0.2)
            assert db.orders.get(order.order_id).status == "failed"
            assert store.stock.levels()[product_id] == 5
        finally:
            stop_shop(shop)
