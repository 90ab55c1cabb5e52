"""Every configuration the README documents starts and serves: the app
is built with each and answers /readyz and the home page; Redis, when configured, really holds the
shared state."""

from __future__ import annotations

import dataclasses

import pytest
import redis

REDIS = "redis://127.0.0.1:6379/12"

CONFIGURATIONS = {
    "defaults": {},
    "redis for limits and the page cache": {"redis_url": REDIS, "catalog_cache_seconds": 2},
    "rate limits in redis only": {"ratelimit_storage_uri": REDIS},
    "rate limits in mongodb": {"ratelimit_storage_uri": "MONGODB"},
    "rate limits per process, one worker": {"ratelimit_storage_uri": "memory://", "web_workers": 1},
    "in-process page cache": {"catalog_cache_seconds": 2},
    "metrics, proxies, smtp, read replica": {"metrics_token": "t" * 20, "trusted_proxies": 1,
                                             "smtp_host": "127.0.0.1", "database_read_url": "PRIMARY"},
    "waitress settings": {"web_server": "waitress"},
    "limits switched off": {"max_unpaid_orders": 0, "max_unpaid_units": 0, "max_unpaid_orders_per_address": 0,
                            "max_unpaid_units_per_address": 0, "payment_attempts_per_order": 0,
                            "payment_attempts_per_account": 0},
}


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_each_documented_configuration_starts_and_serves(settings, db, store, make_product, name):
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    changes = {k: (settings.mongodb_url if v == "MONGODB" else settings.database_url if v == "PRIMARY" else v)
               for k, v in CONFIGURATIONS[name].items()}
    redis.Redis.from_url(REDIS).flushdb()
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": True}, settings=dataclasses.replace(settings, **changes))
    try:
        client = app.test_client()
        make_product(name="Tetera de hierro")
        assert client.get("/readyz").status_code == 200
        assert "Tetera de hierro" in client.get("/").get_data(as_text=True)
        if name == "redis for limits and the page cache":
            from tests.conftest import csrf_token_from

            token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
            assert client.post("/auth/login", data={"email": "x@example.com", "password": "not one",
                                                    "csrf_token": token}).status_code == 401
            keys = {key.decode() for key in redis.Redis.from_url(REDIS).keys("*")}
            assert any("LIMITER" in key for key in keys), keys
            assert any(key.startswith(f"shop:{settings.mongodb_db}:catalog:") for key in keys), keys
    finally:
        close_stores(app)
        redis.Redis.from_url(REDIS).flushdb()


def test_request_threads_asking_for_the_stores_at_once_create_each_one_once(settings, monkeypatch):
    import threading
    import time

    from shop.adapters.mongo import MongoStore
    from shop.web import extensions
    from shop.web.factory import create_app

    made = []

    class SlowToConnect(MongoStore):  # the real client, made slowly enough for the threads to meet
        def __init__(self, *args, **kwargs):
            made.append(self)
            time.sleep(0.2)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(extensions, "MongoStore", SlowToConnect)
    app = create_app({"TESTING": True}, settings=settings)
    start, got = threading.Barrier(8), []

    def ask():
        with app.app_context():
            start.wait()
            got.append((extensions.get_store(), extensions.get_db(), extensions.get_audit_log()))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(made) == 1  # one MongoDB client: none left open behind another thread's
        assert len(got) == 8 and all(stores == got[0] for stores in got)
    finally:
        extensions.close_stores(app)
