"""The REST API for programs (/api/v1): tokens, problems, the catalog, the cart, checkout, orders."""

from __future__ import annotations

import uuid

import pytest

from shop.domain.accounts import Role
from tests.conftest import csrf_token_from
from tests.integration.conftest import PASSWORD


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


def test_checkout_accepts_any_idempotency_key_and_a_replay_returns_the_first_answer(client, tokens, make_product, store):
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
