"""The REST API for programs (/api/v1): tokens, problems, the catalog, the cart, checkout, orders."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from shop.domain.accounts import Role
from shop.services import checkout as checkout_service
from shop.services.checkout import CheckoutRequest
from tests.conftest import csrf_token_from
from tests.integration.conftest import PASSWORD, api_key_in, create_api_key


def _token(client, email, password=PASSWORD):
    answer = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def customer(make_user):
    return make_user(email="ana@example.com", name="Ana Cliente")


@pytest.fixture
def tokens(client, customer):
    return _token(client, "ana@example.com")


def test_openapi_document_is_3_1_and_describes_errors_as_problems(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/products" in doc["paths"] and "/api/v1/checkout" in doc["paths"]
    errors = doc["paths"]["/api/v1/checkout"]["post"]["responses"]["409"]["content"]
    assert list(errors) == ["application/problem+json"]


def test_api_reference_page_is_served_by_the_shop_with_no_script_from_elsewhere(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/checkout" in page and "Problem" in page
    assert "unpkg" not in page and "cdn" not in page.lower()


def test_a_customer_logs_in_for_a_token_pair_and_uses_it_without_cookie_or_csrf(client, tokens, make_product):
    product = make_product(stock=3)
    fresh = client.application.test_client()  # no cookie jar shared with anything
    answer = fresh.put(f"/api/v1/cart/items/{product['_id']}", json={"quantity": 2},
                       headers=_bearer(tokens["access_token"]))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["lines"][0]["quantity"] == 2
    assert "Set-Cookie" not in answer.headers


def test_a_browser_session_still_needs_the_csrf_token_to_change_anything(client, auth, customer, make_product):
    product = make_product()
    auth.login("ana@example.com")
    refused = client.put(f"/api/v1/cart/items/{product['_id']}", json={"quantity": 1})
    assert refused.status_code == 400
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["code"] == "csrf_failed"
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    accepted = client.put(f"/api/v1/cart/items/{product['_id']}", json={"quantity": 1},
                          headers={"X-CSRFToken": token})
    assert accepted.status_code == 200


def test_checkout_accepts_any_idempotency_key_and_a_replay_returns_the_first_answer(client, tokens, make_product,
                                                                                  store):
    product = make_product(stock=5)
    body = {"items": [{"product_id": str(product["_id"]), "quantity": 2}]}
    headers = {**_bearer(tokens["access_token"]), "Idempotency-Key": "pedido-erp-0001"}
    first = client.post("/api/v1/checkout", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post("/api/v1/checkout", json=body, headers=headers)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"] and again.get_json()["replayed"] is True
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 3
    other_body = client.post("/api/v1/checkout", json={"items": [{"product_id": str(product["_id"]), "quantity": 1}]},
                             headers=headers)
    assert other_body.status_code == 409 and other_body.get_json()["code"]


def test_a_request_that_does_not_fit_is_a_problem_naming_each_field(client, tokens):
    answer = client.post("/api/v1/checkout", json={"items": [{"product_id": "nope", "quantity": 0}]},
                         headers={**_bearer(tokens["access_token"]), "Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["code"] == "invalid_request" and problem["title"] == "Bad Request"
    assert {error["field"] for error in problem["errors"]} >= {"items.0.product_id", "items.0.quantity"}


def test_a_refresh_token_works_once_and_its_replay_ends_every_session(client, tokens):
    refreshed = client.post("/api/v1/auth/token", json={"grant_type": "refresh_token",
                                                        "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new_pair = refreshed.get_json()
    assert client.get("/api/v1/orders", headers=_bearer(new_pair["access_token"])).status_code == 200
    replay = client.post("/api/v1/auth/token", json={"grant_type": "refresh_token",
                                                     "refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401
    revoked = client.get("/api/v1/orders", headers=_bearer(new_pair["access_token"]))
    assert revoked.status_code == 401 and revoked.get_json()["code"] == "invalid_token"


def test_logout_ends_the_access_token(client, tokens):
    headers = _bearer(tokens["access_token"])
    assert client.post("/api/v1/auth/logout", json={}, headers=headers).status_code == 204
    assert client.get("/api/v1/cart", headers=headers).status_code == 401


def test_staff_get_no_tokens_they_use_api_keys(client, make_user):
    make_user(role=Role.ADMIN, email="boss@example.com")
    answer = client.post("/api/v1/auth/token", json={"email": "boss@example.com", "password": PASSWORD})
    assert answer.status_code == 401


def test_products_are_listed_in_keyset_pages(client, make_product):
    for n in range(5):
        make_product(name=f"Lámpara {n}", price=f"{10 + n}.00")
    first = client.get("/api/v1/products?limit=2&sort=price_asc").get_json()
    assert [item["name"] for item in first["items"]] == ["Lámpara 0", "Lámpara 1"]
    second = client.get(f"/api/v1/products?limit=2&sort=price_asc&after={first['next_cursor']}").get_json()
    assert [item["name"] for item in second["items"]] == ["Lámpara 2", "Lámpara 3"]
    detail = client.get(f"/api/v1/products/{first['items'][0]['id']}").get_json()
    assert detail["price"] == "10.00" and detail["variants"] == []


def test_an_unknown_product_is_a_404_problem(client):
    answer = client.get("/api/v1/products/65f0c0ffee0000000000abcd")
    assert answer.status_code == 404 and answer.get_json()["code"]


def test_an_admin_key_is_shown_once_and_limited_to_its_scopes(client, admin, make_product, store, db):
    product = make_product(stock=4)
    created = create_api_key(client, ["orders:read"])
    assert created.status_code == 201
    key = api_key_in(created)
    assert key not in client.get("/account/api-keys/").get_data(as_text=True)  # shown once
    assert key not in str(db.api.keys_of(admin.user_id))  # only a digest is kept
    bearer = client.application.test_client()
    assert bearer.get("/api/v1/admin/orders", headers=_bearer(key)).status_code == 200
    refused = bearer.post(f"/api/v1/admin/products/{product['_id']}/stock", headers=_bearer(key),
                          json={"delta": 3, "reason": "recuento"})
    assert refused.status_code == 403
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 4


def test_a_stock_adjustment_with_a_key_is_atomic_and_audited(client, admin, make_product, store, app):
    product = make_product(stock=4)
    key = api_key_in(create_api_key(client, ["catalog:write", "audit:read"]))
    bearer = client.application.test_client()
    answer = bearer.post(f"/api/v1/admin/products/{product['_id']}/stock", headers=_bearer(key),
                         json={"delta": -5, "reason": "rotura"})
    assert answer.status_code == 409  # never below zero
    answer = bearer.post(f"/api/v1/admin/products/{product['_id']}/stock", headers=_bearer(key),
                         json={"delta": -3, "reason": "rotura"})
    assert answer.get_json()["stock"] == 1
    with app.app_context():
        from shop.web.extensions import get_audit_log
        get_audit_log().flush_spool()
    log = bearer.get("/api/v1/admin/audit-log", headers=_bearer(key)).get_json()["items"]
    actions = [entry["action"] for entry in log]
    assert "stock.adjusted" in actions and "api_key.used" in actions and "api_key.created" in actions


def test_an_auditors_key_can_only_read(client, auth, make_user):
    make_user(role=Role.AUDITOR, email="eva@example.com")
    auth.login("eva@example.com")
    refused = create_api_key(client, ["orders:read", "orders:write"])
    assert refused.status_code == 400
    key = api_key_in(create_api_key(client, ["orders:read"]))
    bearer = client.application.test_client()
    assert bearer.get("/api/v1/admin/orders", headers=_bearer(key)).status_code == 200
    assert bearer.post("/api/v1/admin/orders/1/ship", headers=_bearer(key), json={}).status_code == 403


def test_a_revoked_key_is_refused(client, admin):
    key = api_key_in(create_api_key(client, ["orders:read"]))
    key_id = int(key.split("_")[1])
    token = csrf_token_from(client.get("/account/api-keys/").get_data(as_text=True))
    client.post(f"/account/api-keys/{key_id}/revoke", data={"csrf_token": token})
    answer = client.application.test_client().get("/api/v1/admin/orders", headers=_bearer(key))
    assert answer.status_code == 401 and answer.get_json()["code"] == "invalid_token"


def test_each_token_has_its_own_rate_limit_answered_with_retry_after(settings, db, store, make_user):
    import dataclasses

    from shop.web.extensions import close_stores
    from shop.web.factory import create_app
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": True},
                     settings=dataclasses.replace(settings, api_rate_limit="3 per minute"))
    make_user(email="rita@example.com")
    make_user(email="rosa@example.com")
    client = app.test_client()
    try:
        access = _token(client, "rita@example.com")["access_token"]
        other = _token(client, "rosa@example.com")["access_token"]
        answers = [client.get("/api/v1/cart", headers=_bearer(access)) for _ in range(4)]
        assert client.get("/api/v1/cart", headers=_bearer(other)).status_code == 200  # a budget of its own
    finally:
        close_stores(app)
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].headers.get("Retry-After") and answers[-1].get_json()["code"] == "rate_limited"


def test_an_admin_key_with_refunds_write_refunds_once_per_idempotency_key(client, admin, db, store, make_product,
                                                                           make_user):
    from tests.payments import pay

    customer = make_user(email="rosa@example.com")
    product = make_product(stock=5, price="10.00")
    order_id = checkout_service.place_order(db, store, CheckoutRequest(customer.user_id, [(str(product["_id"]), 2)],
                                                                       str(uuid.uuid4()))).order_id
    pay(db, customer, order_id)
    key = api_key_in(create_api_key(client, ["refunds:write"]))
    bearer = client.application.test_client()
    item_id = db.orders.get(order_id).items[0].order_item_id
    body = {"units": {str(item_id): 1}, "reason": "llegó roto", "goods_returned": False}
    headers = {**_bearer(key), "Idempotency-Key": "devolucion-77"}
    first = bearer.post(f"/api/v1/admin/orders/{order_id}/refunds", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = bearer.post(f"/api/v1/admin/orders/{order_id}/refunds", json=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["replayed"] and again.get_json()["refund_id"] == \
        first.get_json()["refund_id"]
    assert db.orders.get(order_id).refunded_amount == Decimal("10.00")
    assert first.get_json()["order"]["status"] == "partially_refunded"


def test_the_product_list_is_one_answer_for_everyone_reused_for_a_few_seconds(cached_app, make_product, make_user):
    app = cached_app(60)
    make_user(email="ana@example.com")
    anonymous, customer = app.test_client(), app.test_client()
    access = _token(customer, "ana@example.com")["access_token"]
    make_product(name="Primero")
    assert [p["name"] for p in anonymous.get("/api/v1/products").get_json()["items"]] == ["Primero"]
    make_product(name="Segundo")
    seen = customer.get("/api/v1/products", headers=_bearer(access)).get_json()["items"]
    assert [p["name"] for p in seen] == ["Primero"]  # the same URL: the answer as read, whoever asks
    assert [p["name"] for p in anonymous.get("/api/v1/products?sort=name").get_json()["items"]] == \
        ["Primero", "Segundo"]  # another URL: read now
    assert anonymous.get("/api/v1/products?after=0").status_code == 400  # refused input is never kept


def test_a_warehouse_key_ships_an_order_and_the_customer_reads_the_carriers_tracking_page(client, tokens, admin, db,
                                                                                        make_product):
    from shop.services import orders as order_service

    product = make_product(stock=3)
    shopper = client.application.test_client()
    placed = shopper.post("/api/v1/checkout", json={"items": [{"product_id": str(product["_id"]), "quantity": 1}]},
                          headers={**_bearer(tokens["access_token"]), "Idempotency-Key": str(uuid.uuid4())})
    order_id = placed.get_json()["id"]
    order_service.mark_paid(db, admin, order_id)
    key = api_key_in(create_api_key(client, ["orders:write"]))
    shipped = client.application.test_client().post(f"/api/v1/admin/orders/{order_id}/ship", headers=_bearer(key),
                                                    json={"carrier": "UPS", "tracking": "1Z999AA10123456784"})
    assert shipped.status_code == 200, shipped.get_json()
    mine = shopper.get(f"/api/v1/orders/{order_id}", headers=_bearer(tokens["access_token"])).get_json()
    assert mine["tracking"] == "1Z999AA10123456784"
    assert mine["tracking_url"] == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
