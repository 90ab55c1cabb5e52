"""Stock hoarding: what one account and one address may hold unpaid, and the rate
limit on placing orders."""

from __future__ import annotations

import dataclasses
import threading
import uuid

import pytest

from shop.domain.accounts import Role
from shop.domain.errors import LimitReached
from shop.domain.orders import UnpaidLimits
from shop.services import checkout
from shop.services.checkout import CheckoutPolicy, CheckoutRequest
from tests.conftest import csrf_token_from
from tests.integration.test_checkout_pages import product_form
from tests.payments import pay


@pytest.fixture
def shopper(auth, make_user):
    user = make_user(role=Role.CUSTOMER, email="compradora@example.com")
    auth.login("compradora@example.com")
    return user


def test_a_fourth_unpaid_order_is_refused_and_takes_no_stock(client, shopper, make_product, store, db):
    product = make_product(name="Consola", stock=100)
    for _ in range(3):
        assert client.post("/orders/buy", data={**product_form(client, product), "quantity": "1"}).status_code == 303
    response = client.post("/orders/buy", data={**product_form(client, product), "quantity": "1"})
    assert response.status_code == 429
    assert "Ya tienes 3 pedidos sin pagar" in response.get_data(as_text=True)
    assert store.stock.levels()[str(product["_id"])] == 97
    assert len(db.orders.of_user(shopper.user_id)) == 3
    # Paying one frees its place.
    order_id = db.orders.of_user(shopper.user_id)[0].order_id

    pay(db, shopper, order_id)
    assert client.post("/orders/buy", data={**product_form(client, product), "quantity": "1"}).status_code == 303


def test_units_held_unpaid_are_limited_too(client, shopper, make_product, store):
    product = make_product(stock=100)
    assert client.post("/orders/buy", data={**product_form(client, product), "quantity": "40"}).status_code == 303
    response = client.post("/orders/buy", data={**product_form(client, product), "quantity": "11"})
    assert response.status_code == 429
    assert "Tus pedidos sin pagar ya reservan 40 unidades; con estas reservarías más de 50" in \
        response.get_data(as_text=True)
    assert store.stock.levels()[str(product["_id"])] == 60
    too_many = client.post("/orders/buy", data={**product_form(client, product), "quantity": "51"})
    assert "Un pedido sin pagar puede reservar como mucho 50 unidades; pide menos." in too_many.get_data(as_text=True)


def test_the_api_answers_429_with_the_reason(client, shopper, make_product):
    product = make_product(stock=100)
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    statuses = []
    for _ in range(4):
        response = client.post("/api/orders", json={"items": [{"product_id": str(product["_id"]), "quantity": 1}]},
                               headers={"X-CSRFToken": token, "Idempotency-Key": str(uuid.uuid4())})
        statuses.append(response.status_code)
    assert statuses == [201, 201, 201, 429]
    assert "sin pagar" in response.json["error"]["message"]


def test_concurrent_checkouts_of_one_account_never_pass_the_limit_together(db, store, make_user, make_product):
    customer = make_user()
    product = make_product(stock=100)
    limits = UnpaidLimits(orders_per_account=3, units_per_account=0, orders_per_address=0, units_per_address=0)
    outcomes = []

    def buy():
        try:
            checkout.place_order(db, store,
                                 CheckoutRequest(customer.user_id, [(str(product["_id"]), 1)], str(uuid.uuid4()),
                                                 client_address="192.0.2.1"),
                                 CheckoutPolicy(limits=limits))
            outcomes.append("placed")
        except LimitReached:
            outcomes.append("refused")

    threads = [threading.Thread(target=buy) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["placed"] * 3 + ["refused"] * 9
    assert store.stock.levels()[str(product["_id"])] == 97


def test_one_address_is_limited_across_accounts(db, store, make_user, make_product):
    product = make_product(stock=100)
    limits = UnpaidLimits(orders_per_account=0, units_per_account=0, orders_per_address=2, units_per_address=0)
    buyers = [make_user() for _ in range(3)]

    def buy(user, address):
        return checkout.place_order(db, store,
                                    CheckoutRequest(user.user_id, [(str(product["_id"]), 1)], str(uuid.uuid4()),
                                                    client_address=address),
                                    CheckoutPolicy(limits=limits))

    buy(buyers[0], "203.0.113.7")
    buy(buyers[1], "203.0.113.7")
    with pytest.raises(LimitReached, match="network"):
        buy(buyers[2], "203.0.113.7")
    buy(buyers[2], "203.0.113.8")  # another address is not affected


def test_a_replayed_checkout_is_answered_even_at_the_limit(db, store, make_user, make_product):
    customer = make_user()
    product = make_product(stock=100)
    limits = UnpaidLimits(orders_per_account=1, units_per_account=0, orders_per_address=0, units_per_address=0)
    key = str(uuid.uuid4())
    first = checkout.place_order(db, store,
                                 CheckoutRequest(customer.user_id, [(str(product["_id"]), 1)], key),
                                 CheckoutPolicy(limits=limits))
    again = checkout.place_order(db, store,
                                 CheckoutRequest(customer.user_id, [(str(product["_id"]), 1)], key),
                                 CheckoutPolicy(limits=limits))
    assert again.order_id == first.order_id and not again.created


def test_placing_orders_is_rate_limited_per_account(settings, db, store, make_user, make_product):
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": True}, settings=dataclasses.replace(
        settings, checkout_rate_limit="2 per minute", max_unpaid_orders=0, max_unpaid_units=0,
        max_unpaid_orders_per_address=0, max_unpaid_units_per_address=0))
    try:
        client = app.test_client()
        make_user(email="c@example.com")
        token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
        client.post("/auth/login", data={"email": "c@example.com", "password": "correct horse battery",
                                         "csrf_token": token})
        product = make_product(stock=100)
        statuses = [client.post("/orders/buy", data={**product_form(client, product), "quantity": "1"}).status_code
                    for _ in range(2)]
        token = csrf_token_from(client.get("/").get_data(as_text=True))
        statuses.append(client.post("/api/orders", json={"items": [{"product_id": str(product["_id"]), "quantity": 1}]},
                                    headers={"X-CSRFToken": token, "Idempotency-Key": str(uuid.uuid4())}).status_code)
        assert statuses == [303, 303, 429]  # Comprar and the API share one budget
        assert store.stock.levels()[str(product["_id"])] == 98
    finally:
        close_stores(app)
