"""Limits that hold across processes: the shop as run, with two worker processes."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import csrf_token_from
from tests.e2e.conftest import start_shop, stop_shop


def test_the_login_limit_holds_across_worker_processes(servers, migrated, store, mongo_db_name, make_user,
                                                             tmp_path):
    make_user(email="c@example.com")
    shop = start_shop(tmp_path / "var", extra_env={
        "DATABASE_URL": migrated, "MONGODB_URL": servers.mongodb_url, "MONGODB_DB": mongo_db_name,
        "SHOP_DEMO_DATA": "0", "WEB_CONCURRENCY": "2", "LOGIN_RATE_LIMIT": "10 per minute",
        "RATELIMIT_STORAGE_URI": ""})

    def attempt(_):
        with requests.Session() as browser:
            token = csrf_token_from(browser.get(f"{shop.url}/auth/login", timeout=30).text)
            return browser.post(f"{shop.url}/auth/login", timeout=30, allow_redirects=False, data={
                "email": "c@example.com", "password": "not the password", "csrf_token": token}).status_code

    try:
        with ThreadPoolExecutor(8) as pool:  # in parallel: both workers take requests
            statuses = list(pool.map(attempt, range(30)))
    finally:
        stop_shop(shop)
    assert statuses.count(401) == 10, statuses  # exactly the limit reached the password check
    assert statuses.count(429) == 20, statuses


def test_counters_live_in_postgresql_and_recovery_removes_expired_ones(settings, db, store, make_user):
    from shop.services.recovery import recover
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    make_user(email="c@example.com")
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": True},
                     settings=dataclasses.replace(settings, login_rate_limit="2 per minute"))
    try:
        client = app.test_client()
        statuses = []
        for _ in range(3):
            token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
            statuses.append(client.post("/auth/login", data={"email": "c@example.com", "password": "wrong one!",
                                                              "csrf_token": token}).status_code)
        assert statuses == [401, 401, 429]
    finally:
        close_stores(app)
    with db.transaction() as cur:
        cur.execute("SELECT key, count FROM rate_limit_counters")
        (row,) = cur.fetchall()
        assert "auth.login" in row["key"] and row["count"] == 3
        cur.execute("UPDATE rate_limit_counters SET expires_at = now() - interval '1 second'")
    recover(db, store)
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM rate_limit_counters")
        assert cur.fetchone()["n"] == 0
