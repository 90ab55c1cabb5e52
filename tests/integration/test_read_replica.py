"""DATABASE_READ_URL: staff reports and lists read from the replica; everything a checkout
or a state change reads stays on the primary. A second database stands in for the replica here, with
different rows, so where each page read from is visible."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import Role
from shop.services import accounts, checkout
from shop.services.checkout import CheckoutRequest
from tests.conftest import _admin, _with_database, csrf_token_from
from tests.integration.conftest import PASSWORD


@pytest.fixture
def replica(servers):
    name = f"shop_replica_{uuid.uuid4().hex[:8]}"
    _admin(servers.postgres_url, f'CREATE DATABASE "{name}"')
    db = PostgresDatabase(_with_database(servers.postgres_url, name), max_connections=2)
    db.migrate()
    yield db
    db.close()
    _admin(servers.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_staff_lists_read_the_replica_and_actions_use_the_primary(settings, db, store, replica, make_user,
                                                                     make_product):
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    accounts.create_user(replica, "solo-en-replica@example.com", "Réplica", PASSWORD, Role.CUSTOMER)
    with replica.transaction() as cur:
        cur.execute("INSERT INTO orders (user_id, total_amount, status) VALUES (1, 5, 'paid')")
    make_user(role=Role.ADMIN, email="admin@example.com")
    buyer = make_user(email="en-primaria@example.com")
    order_id = checkout.place_order(db, store,
                                    CheckoutRequest(buyer.user_id, [(str(make_product(stock=2)["_id"]), 1)],
                                                    str(uuid.uuid4()))).order_id
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False},
                     settings=dataclasses.replace(settings, database_read_url=replica.url))
    try:
        client = app.test_client()
        token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
        assert client.post("/auth/login", data={"email": "admin@example.com", "password": PASSWORD,
                                                "csrf_token": token}).status_code == 302  # the primary's users
        listing = client.get("/admin/orders/").get_data(as_text=True)
        assert "solo-en-replica@example.com" in listing and "en-primaria@example.com" not in listing
        assert client.get("/admin/").status_code == 200 and client.get("/admin/orders/payments").status_code == 200
        page = client.get(f"/orders/{order_id}").get_data(as_text=True)  # an order's own page: the primary
        assert "en-primaria@example.com" in page
        response = client.post(f"/admin/orders/{order_id}/paid", data={"csrf_token": csrf_token_from(page)})
        assert response.status_code == 303 and db.orders.get(order_id).status == "paid"
    finally:
        close_stores(app)
