"""/metrics ("Seeing what it does"): behind a token, and it shows what happened."""

from __future__ import annotations

import dataclasses
import re
import uuid

import pytest

from tests.conftest import csrf_token_from


def sample(text: str, name: str, **labels) -> float:
    """One sample's value from the exposition text (0 when absent)."""
    label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}{{{re.escape(label_text)}}} ([0-9.e+-]+)$" if labels else rf"^{name} ([0-9.e+-]+)$",
                      text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def metrics_app(settings, db, store):
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False},
                     settings=dataclasses.replace(settings, metrics_token="s3cret-metrics-token"))
    yield app
    close_stores(app)


def scrape(client) -> str:
    response = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_metrics_need_the_token_and_do_not_exist_without_one(metrics_app, client):
    assert client.get("/metrics").status_code == 404  # the default app: no METRICS_TOKEN
    probe = metrics_app.test_client()
    assert probe.get("/metrics").status_code == 404
    assert probe.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404


def test_a_checkout_and_a_refusal_show_in_the_metrics_with_latency_and_backlogs(metrics_app, make_user, make_product):
    client = metrics_app.test_client()
    make_user(email="c@example.com")
    token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
    client.post("/auth/login", data={"email": "c@example.com", "password": "correct horse battery",
                                     "csrf_token": token})
    product = make_product(stock=1)
    before = scrape(client)
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    for expected in (201, 409):  # placed, then out of stock
        response = client.post("/api/orders", json={"items": [{"product_id": str(product["_id"]), "quantity": 1}]},
                               headers={"X-CSRFToken": token, "Idempotency-Key": str(uuid.uuid4())})
        assert response.status_code == expected
    after = scrape(client)
    placed = {"outcome": "placed", "reason": ""}
    refused = {"outcome": "refused", "reason": "out_of_stock"}
    assert sample(after, "shop_checkouts_total", **placed) - sample(before, "shop_checkouts_total", **placed) == 1
    assert sample(after, "shop_checkouts_total", **refused) - sample(before, "shop_checkouts_total", **refused) == 1
    count = {"endpoint": "api.place_order", "method": "POST", "status": "201"}
    assert sample(after, "shop_http_request_duration_seconds_count", **count) >= 1
    for gauge in ("shop_audit_spool_backlog", "shop_audit_flush_lag_seconds", "shop_mail_outbox_files",
                  "shop_db_pool_connections_in_use", "shop_db_pool_waiting"):
        assert re.search(rf"^{gauge}\b", after, re.M), gauge
    # the placed order's mail waits in the outbox (no sender runs here): one more pending row
    pending = {"status": "pending"}
    assert sample(after, "shop_mail_outbox_rows", **pending) - sample(before, "shop_mail_outbox_rows", **pending) == 1
    assert sample(after, "shop_mail_outbox_oldest_seconds", **pending) >= 0
    assert sample(after, "shop_mail_outbox_rows", status="uncertain") == 0


def test_recovery_actions_are_counted(db, store, make_user, make_product):
    from shop import metrics
    from shop.services.recovery import recover

    user = make_user()
    product = make_product(stock=3)
    order = db.orders.create_placing(user.user_id, str(uuid.uuid4()), "0" * 64, lease_seconds=0).order
    store.stock.reserve(str(product["_id"]), order.order_id, 1)
    before = metrics.RECOVERY_ACTIONS.labels("aborted")._value.get()
    recover(db, store)
    assert metrics.RECOVERY_ACTIONS.labels("aborted")._value.get() == before + 1


def test_every_outcome_known_in_advance_is_exported_as_zero_before_it_first_happens(metrics_app):
    from shop import metrics

    text = scrape(metrics_app.test_client())
    for outcome, reason in metrics.CHECKOUT_LABELS:
        assert f'shop_checkouts_total{{outcome="{outcome}",reason="{reason}"}}' in text
    for action in metrics.RECOVERY_ACTION_NAMES:
        assert f'shop_recovery_actions_total{{action="{action}"}}' in text
    for outcome in ("sent", "retried", "failed", "uncertain"):
        assert f'shop_mails_total{{outcome="{outcome}"}}' in text


def test_readiness_is_a_gauge_that_drops_while_a_database_is_down_or_the_instance_drains(metrics_app, settings):
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    text = scrape(metrics_app.test_client())
    assert sample(text, "shop_ready") == 1
    assert sample(text, "shop_database_up", database="postgres") == 1
    assert sample(text, "shop_database_up", database="mongodb") == 1

    unreachable = dataclasses.replace(settings, metrics_token="s3cret-metrics-token",
                                      mongodb_url="mongodb://127.0.0.1:9/", readiness_timeout_seconds=0.5)
    no_mongodb = create_app({"TESTING": True, "RATELIMIT_ENABLED": False}, settings=unreachable)
    try:
        text = scrape(no_mongodb.test_client())  # /metrics still answers: `up` alone would say all is well
        assert sample(text, "shop_ready") == 0
        assert re.search(r'^shop_database_up\{database="mongodb"\} 0\.0$', text, re.M)
        assert sample(text, "shop_database_up", database="postgres") == 1
    finally:
        close_stores(no_mongodb)

    (settings.data_dir / "draining").touch()
    try:
        assert re.search(r"^shop_ready 0\.0$", scrape(metrics_app.test_client()), re.M)
    finally:
        (settings.data_dir / "draining").unlink()


def test_a_request_refused_by_the_csrf_check_is_logged_timed_and_has_a_request_id(metrics_app, caplog):
    client = metrics_app.test_client()
    count = {"endpoint": "auth.login", "method": "POST", "status": "400"}
    before = sample(scrape(client), "shop_http_request_duration_seconds_count", **count)
    with caplog.at_level("INFO", logger="shop.access"):
        response = client.post("/auth/login", data={"email": "c@example.com", "password": "whatever it is"},
                               headers={"X-Request-ID": "csrf-refused-0001"})
    assert response.status_code == 400
    assert response.headers["X-Request-ID"] == "csrf-refused-0001"
    lines = [r for r in caplog.records if r.name == "shop.access" and r.getMessage().startswith("POST /auth/login 400")]
    assert len(lines) == 1 and lines[0].request_id == "csrf-refused-0001"
    assert sample(scrape(client), "shop_http_request_duration_seconds_count", **count) == before + 1
