"""Webhooks against a real receiver on loopback: signed deliveries of events that exist if and only
if their change committed, retries with backoff, giving up after 24 hours, at least once when the
sender dies mid-delivery, and the address checks (SSRF, DNS rebinding)."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shop.adapters.webhook_sender import WebhookSender
from shop.domain.accounts import Role
from shop.domain.errors import InvalidInput
from shop.domain.order_effects import Reason
from shop.domain.orders import OrderStatus, OutOfStock
from shop.domain.webhooks import verify
from shop.services import checkout, orders
from shop.services import webhooks as webhook_service
from shop.services.checkout import CheckoutRequest
from tests.payments import pay

BOX = webhook_service.SecretBox("t" * 48)


class Receiver:
    """An HTTP endpoint that records what it gets and answers `status`."""

    def __init__(self):
        self.status, self.received = 200, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/shop"

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def sender():
    return WebhookSender(allowed_hosts=("127.0.0.1",), timeout=5)


@pytest.fixture
def subscribe(db, make_user, sender):
    admin = make_user(role=Role.ADMIN, email="hooks@example.com")

    def make(url, events=("order.placed", "order.paid", "order.cancelled")):
        return webhook_service.register_endpoint(db, BOX, sender, admin.user_id, url, list(events), https_only=False)
    return make


def _order(db, store, user, make_product) -> int:
    product = make_product(stock=5, price="12.50")
    return checkout.place_order(db, store, CheckoutRequest(user.user_id, [(str(product["_id"]), 1)],
                                                           str(uuid.uuid4()))).order_id


def _rows(db, sql, *args):
    with db.transaction() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_order_events_reach_the_endpoint_signed_with_its_secret(db, store, make_user, make_product, receiver,
                                                                   sender, subscribe):
    endpoint, secret = subscribe(receiver.url)
    customer = make_user()
    order_id = _order(db, store, customer, make_product)
    pay(db, customer, order_id)
    report = webhook_service.deliver_due(db, sender, BOX)
    assert report.delivered == 2
    in_time_order = sorted(receiver.events(), key=lambda e: e["created_at"])  # posted in parallel: any arrival order
    assert [(e["type"], e["data"]["order_id"], e["data"]["status"]) for e in in_time_order] == [
        ("order.placed", order_id, "pending"), ("order.paid", order_id, "paid")]
    placed = in_time_order[0]["data"]
    assert placed["total"] == "12.50" and placed["items"][0]["quantity"] == 1
    for headers, body in receiver.received:
        assert verify(secret.encode(), headers["Tienda-Signature"], body, now=time.time())
        assert headers["Tienda-Event-Id"] == json.loads(body)["id"]
    assert len({e["id"] for e in receiver.events()}) == 2
    assert webhook_service.deliver_due(db, sender, BOX).delivered == 0  # delivered once


def test_a_shop_without_endpoints_records_no_events(db, store, make_user, make_product):
    customer = make_user()
    pay(db, customer, _order(db, store, customer, make_product))
    assert _rows(db, "SELECT * FROM webhook_events") == []


def test_an_event_exists_only_if_its_change_committed(db, store, make_user, make_product, receiver, subscribe):
    subscribe(receiver.url)
    customer = make_user()
    order_id = _order(db, store, customer, make_product)
    with pytest.raises(RuntimeError), db.orders.locked(order_id) as locked:
        locked.set_status(OrderStatus.CANCELLED, customer.user_id, "cancelled", Reason.CUSTOMER)
        raise RuntimeError("the transaction fails after the change")
    assert [row["type"] for row in _rows(db, "SELECT type FROM webhook_events")] == ["order.placed"]


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up_and_disabled_after_24_hours(
        db, store, make_user, make_product, receiver, sender, subscribe):
    endpoint, _ = subscribe(receiver.url)
    receiver.status = 500
    customer = make_user()
    _order(db, store, customer, make_product)
    assert webhook_service.deliver_due(db, sender, BOX).retried == 1
    (row,) = _rows(db, "SELECT *, next_attempt_at - now() AS wait FROM webhook_deliveries")
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_status"] == 500
    assert 14 <= row["wait"].total_seconds() <= 46  # 30 s ± 50 %
    assert webhook_service.deliver_due(db, sender, BOX).retried == 0  # not due yet
    with db.transaction() as cur:  # a day of failures later
        cur.execute("UPDATE webhook_events SET created_at = now() - interval '24 hours 1 minute'")
        cur.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
    assert webhook_service.deliver_due(db, sender, BOX).given_up == 1
    (row,) = _rows(db, "SELECT * FROM webhook_deliveries")
    assert row["status"] == "failed" and row["attempts"] == 2
    (disabled,) = db.webhooks.endpoints()
    assert not disabled.active and "24 hours" in disabled.disabled_reason and "HTTP 500" in disabled.disabled_reason
    receiver.status = 200
    db.webhooks.set_active(endpoint.endpoint_id, True)
    assert db.webhooks.redeliver(row["delivery_id"])  # the admin's "send again"
    assert webhook_service.deliver_due(db, sender, BOX).delivered == 1


def test_a_delivery_whose_sender_died_mid_way_is_sent_again_with_the_same_event_id(
        db, store, make_user, make_product, receiver, sender, subscribe):
    _, secret = subscribe(receiver.url)
    customer = make_user()
    _order(db, store, customer, make_product)
    (taken,) = db.webhooks.claim_due(10, webhook_service.LEASE_SECONDS)  # a sender takes it …
    sender.post(taken.url, webhook_service.body_of(taken), {})  # … posts it, and dies before recording it
    assert webhook_service.deliver_due(db, sender, BOX).delivered == 0  # leased: not sent twice at once
    with db.transaction() as cur:  # the lease runs out
        cur.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
    assert webhook_service.deliver_due(db, sender, BOX).delivered == 1
    ids = [event["id"] for event in receiver.events()]
    assert len(ids) == 2 and ids[0] == ids[1]  # at least once: the receiver deduplicates by the id


def test_the_shop_never_calls_a_private_address_at_registration_or_at_delivery(
        db, store, make_user, make_product, receiver, subscribe):
    strict = WebhookSender()  # production: no host allowed
    admin = make_user(role=Role.ADMIN, email="root@example.com")
    with pytest.raises(InvalidInput):
        webhook_service.register_endpoint(db, BOX, strict, admin.user_id, receiver.url, ["order.placed"],
                                          https_only=False)
    with pytest.raises(InvalidInput):
        webhook_service.register_endpoint(db, BOX, strict, admin.user_id, "http://169.254.169.254/latest/meta-data/",
                                          ["order.placed"], https_only=False)
    # A name that resolved to a public address when it was registered, and to loopback now (DNS rebinding)
    public_then = WebhookSender(resolver=lambda host, port: ["93.184.216.34"])
    webhook_service.register_endpoint(db, BOX, public_then, admin.user_id, "http://hooks.example.com:8080/x",
                                      ["order.placed"], https_only=False)
    rebound = WebhookSender(resolver=lambda host, port: ["127.0.0.1"])
    customer = make_user()
    _order(db, store, customer, make_product)
    assert webhook_service.deliver_due(db, rebound, BOX).retried == 1
    (row,) = _rows(db, "SELECT last_error FROM webhook_deliveries")
    assert "not a public internet address" in row["last_error"]
    assert receiver.received == []


def test_a_cancelled_order_tells_its_subscribers(db, store, make_user, make_product, receiver, sender, subscribe):
    subscribe(receiver.url, events=("order.cancelled",))
    customer = make_user()
    order_id = _order(db, store, customer, make_product)
    orders.cancel_order(db, store, customer, order_id)
    webhook_service.deliver_due(db, sender, BOX)
    assert [(e["type"], e["data"]["status"]) for e in receiver.events()] == [("order.cancelled", "cancelled")]


def test_an_admin_registers_an_endpoint_on_its_page_and_sees_the_secret_once(app, client, admin, db, receiver,
                                                                               make_product):
    import dataclasses

    from tests.conftest import csrf_token_from

    app.config["SHOP_SETTINGS"] = dataclasses.replace(app.config["SHOP_SETTINGS"],
                                                      webhook_allowed_hosts=("127.0.0.1",))
    token = csrf_token_from(client.get("/admin/webhooks/").get_data(as_text=True))
    created = client.post("/admin/webhooks/", data={"csrf_token": token, "url": receiver.url,
                                                    "events": ["order.paid", "product.updated"]})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret = created.get_data(as_text=True).split('user-select-all text-break">')[1].split("<")[0]
    assert secret.startswith("whsec_") and secret not in client.get("/admin/webhooks/").get_data(as_text=True)
    (endpoint,) = db.webhooks.endpoints()
    assert endpoint.events == ("order.paid", "product.updated") and secret not in endpoint_secret(db)
    refused = client.post("/admin/webhooks/", data={"csrf_token": token, "url": "http://10.0.0.8/hooks",
                                                    "events": ["order.paid"]})
    assert refused.status_code == 400 and "10.0.0.8" in refused.get_data(as_text=True)


def endpoint_secret(db) -> str:
    return _rows(db, "SELECT secret FROM webhook_endpoints")[0]["secret"]  # as stored: encrypted


def test_staff_editing_a_product_tells_its_subscribers(client, admin, db, make_product, receiver, sender, subscribe):
    from tests.conftest import csrf_token_from

    subscribe(receiver.url, events=("product.updated",))
    product = make_product(name="Taza", price="10.00")
    form = client.get(f"/admin/products/{product['_id']}").get_data(as_text=True)
    revision = re.search(r'name="revision" value="([^"]*)"', form).group(1)
    fields = {"csrf_token": csrf_token_from(form), "name": "Taza grande", "category": "Pruebas", "price": "10.00",
              "description": "", "attributes": "{}", "revision": revision}
    answer = client.post(f"/admin/products/{product['_id']}", data=fields)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:3000]
    webhook_service.deliver_due(db, sender, WEBHOOK_BOX)
    (event,) = receiver.events()
    assert event["type"] == "product.updated" and event["data"]["product_id"] == str(product["_id"])
    assert "name" in event["data"]["changed"]


WEBHOOK_BOX = webhook_service.SecretBox("t" * 48)


def test_a_sale_that_takes_the_stock_to_the_threshold_sends_stock_low_once_with_its_order(
        db, store, make_user, make_product, receiver, subscribe):
    subscribe(receiver.url, events=("stock.low",))
    product = make_product(name="Taza esmaltada", stock=7)
    customer = make_user()
    policy = checkout.CheckoutPolicy(low_stock_threshold=5)

    def buy(units):
        return checkout.place_order(db, store, CheckoutRequest(customer.user_id, [(str(product["_id"]), units)],
                                                               str(uuid.uuid4())), policy)
    buy(1)  # 7 → 6: not low yet
    assert _rows(db, "SELECT * FROM webhook_events") == []
    buy(2)  # 6 → 4: falls to the threshold
    buy(1)  # 4 → 3: already low, nothing new
    [event] = _rows(db, "SELECT type, payload FROM webhook_events")
    assert event["type"] == "stock.low"
    assert event["payload"] == {"product_id": str(product["_id"]), "name": "Taza esmaltada", "sku": None,
                                "variant": None, "stock": 4, "threshold": 5}
    with pytest.raises(OutOfStock):
        buy(9)  # refused: the order does not commit, so neither does any event
    assert len(_rows(db, "SELECT * FROM webhook_events")) == 1


def test_an_import_announces_that_it_finished_with_what_it_did(db, store, receiver, subscribe, tmp_path):
    from tests.integration.test_catalog_import import CATALOG, run, write

    subscribe(receiver.url, events=("import.finished",))
    run(db, store, write(tmp_path, CATALOG), dry_run=True)  # a check changes nothing and announces nothing
    assert _rows(db, "SELECT * FROM webhook_events") == []
    report = run(db, store, write(tmp_path, CATALOG))
    [event] = _rows(db, "SELECT type, payload FROM webhook_events")
    assert event["type"] == "import.finished"
    assert event["payload"]["status"] == "done" and event["payload"]["file"] == "catalogo.csv"
    assert event["payload"]["products"] == report.products and event["payload"]["rows"] == report.rows


def test_staff_taking_the_stock_down_to_the_threshold_sends_stock_low(client, admin, make_product, receiver,
                                                                      subscribe, db):
    from tests.conftest import csrf_token_from

    subscribe(receiver.url, events=("stock.low",))
    product = make_product(name="Cafetera", stock=9)
    page = f"/admin/products/{product['_id']}"
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    client.post(f"{page}/stock", data={"delta": "-3", "reason": "recuento", "csrf_token": token})  # 9 → 6
    assert _rows(db, "SELECT * FROM webhook_events") == []
    client.post(f"{page}/stock", data={"delta": "-2", "reason": "rotura", "csrf_token": token})  # 6 → 4 (threshold 5)
    [event] = _rows(db, "SELECT payload FROM webhook_events WHERE type = 'stock.low'")
    assert event["payload"]["stock"] == 4 and event["payload"]["name"] == "Cafetera"
