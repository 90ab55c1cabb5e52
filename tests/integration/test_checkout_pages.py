"""Buying through the pages and the JSON API: what a shopper sees, and forged input ignored."""

import re
import uuid

import pytest

from shop.domain.accounts import Role
from shop.services.checkout import CheckoutRequest
from tests.conftest import csrf_token_from
from tests.payments import pay_on_pages


@pytest.fixture
def shopper(auth, make_user):
    user = make_user(role=Role.CUSTOMER, email="compradora@example.com")
    auth.login("compradora@example.com")
    return user


def product_form(client, product) -> dict:
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    return {"csrf_token": csrf_token_from(html),
            "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1),
            "product_id": str(product["_id"])}


def test_comprar_places_the_order_and_shows_it_under_pedidos(client, shopper, make_product, store):
    product = make_product(name="Cafetera", price="59.95", stock=4)
    response = client.post("/orders/buy", data={**product_form(client, product), "quantity": "2"})
    assert response.status_code == 303
    order_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Pedido 1 realizado" in order_page and "119,90" in order_page and "Pendiente de pago" in order_page
    orders = client.get("/orders/").get_data(as_text=True)
    assert "2 × Cafetera" in orders and "Pedido" in orders
    assert store.stock.levels()[str(product["_id"])] == 2


def test_forged_price_and_user_fields_are_ignored(client, shopper, make_user, make_product, db):
    other = make_user()
    product = make_product(price="100.00", stock=4)
    client.post("/orders/buy", data={**product_form(client, product), "quantity": "1", "price": "0.01",
                                     "unit_price": "0.01", "total": "0", "user_id": str(other.user_id)})
    (order,) = db.orders.of_user(shopper.user_id)
    assert str(order.total_amount) == "100.00"
    assert db.orders.of_user(other.user_id) == []


def test_a_double_click_places_one_order(client, shopper, make_product, db, store):
    product = make_product(stock=4)
    form = {**product_form(client, product), "quantity": "1"}
    first = client.post("/orders/buy", data=form)
    second = client.post("/orders/buy", data=form)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(db.orders.of_user(shopper.user_id)) == 1
    assert store.stock.levels()[str(product["_id"])] == 3


def test_asking_for_more_than_is_left_says_how_many_are_left(client, shopper, make_product, db):
    product = make_product(name="Auriculares", stock=2)
    response = client.post("/orders/buy", data={**product_form(client, product), "quantity": "3"})
    assert response.status_code == 409
    assert "Solo quedan 2 unidades de Auriculares." in response.get_data(as_text=True)
    assert db.orders.of_user(shopper.user_id) == []


@pytest.mark.parametrize("quantity, message", [
    ("0", "al menos 1"), ("-2", "número entero"), ("1.5", "número entero"), ("abc", "número entero"),
    ("1000", "como máximo 100 unidades")])
def test_bad_quantities_re_show_the_product_with_the_reason(client, shopper, make_product, quantity, message, db):
    product = make_product(stock=4)
    response = client.post("/orders/buy", data={**product_form(client, product), "quantity": quantity})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.orders.of_user(shopper.user_id) == []


def test_buying_an_unknown_product_is_a_clear_error(client, shopper, make_product):
    form = {**product_form(client, make_product()), "quantity": "1"}
    assert client.post("/orders/buy", data={**form, "product_id": "0123456789abcdef01234567"}).status_code == 404
    assert client.post("/orders/buy", data={**form, "product_id": "x"}).status_code == 400


def test_the_cart_checks_out_all_lines_at_once(client, shopper, make_product, db, store):
    one, two = make_product(name="Uno", stock=3, price="1.00"), make_product(name="Dos", stock=3, price="2.00")
    for product, quantity in ((one, "1"), (two, "2")):
        client.post("/cart/add", data={**product_form(client, product), "quantity": quantity})
    cart = client.get("/cart/").get_data(as_text=True)
    assert "5,00" in cart
    token = csrf_token_from(cart)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', cart).group(1)
    response = client.post("/orders/checkout", data={"csrf_token": token, "idempotency_key": key})
    assert response.status_code == 303
    assert db.carts.lines(shopper.user_id) == []
    assert store.stock.levels() == {str(one["_id"]): 2, str(two["_id"]): 1}


def test_a_cart_checkout_short_of_stock_keeps_the_cart_and_says_why(client, shopper, make_product, db):
    product = make_product(name="Escaso", stock=1)
    client.post("/cart/add", data={**product_form(client, product), "quantity": "2"})
    cart = client.get("/cart/").get_data(as_text=True)
    response = client.post("/orders/checkout", data={
        "csrf_token": csrf_token_from(cart),
        "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', cart).group(1)})
    assert response.status_code == 409
    assert "Solo quedan 1 unidades de Escaso." in response.get_data(as_text=True)
    assert db.carts.lines(shopper.user_id) == [(str(product["_id"]), 2)]


def test_pay_then_cancel_is_refused_with_a_reason(client, shopper, make_product):
    product = make_product(stock=3, price="10.00")
    location = client.post("/orders/buy", data={**product_form(client, product), "quantity": "1"}).headers["Location"]
    order_id = int(location.rsplit("/", 1)[1])
    page = client.get(location).get_data(as_text=True)
    token = csrf_token_from(page)
    assert 'name="card_number"' not in page  # the shop asks for no card: the provider's page does
    declined = pay_on_pages(client, order_id, "declined")
    assert "El pago ha sido rechazado (tarjeta rechazada)" in declined.get_data(as_text=True)
    paid = pay_on_pages(client, order_id, "paid")
    assert "Pagado" in paid.get_data(as_text=True)
    again = client.post(f"{location}/cancel", data={"csrf_token": token})
    assert again.status_code == 409 and "no puede pasar a cancelado" in again.get_data(as_text=True)


def test_cancel_returns_the_units(client, shopper, make_product, store):
    product = make_product(stock=3)
    location = client.post("/orders/buy", data={**product_form(client, product), "quantity": "2"}).headers["Location"]
    token = csrf_token_from(client.get(location).get_data(as_text=True))
    asked = client.post(f"{location}/cancel", data={"csrf_token": token})  # one click asks first …
    assert asked.status_code == 200 and 'data-testid="confirmation"' in asked.get_data(as_text=True)
    assert store.stock.levels()[str(product["_id"])] == 1 and "Pendiente de pago" in client.get(location).get_data(
        as_text=True)
    assert client.post(f"{location}/cancel", data={"csrf_token": token, "confirm": "yes"}).status_code == 303  # … yes
    assert store.stock.levels()[str(product["_id"])] == 3
    assert "Cancelado" in client.get(location).get_data(as_text=True)


def test_another_shoppers_order_number_is_a_404(client, auth, make_user, make_product, store, db):
    from shop.services import checkout

    owner = make_user()
    product = make_product(stock=3)
    order_id = checkout.place_order(db, store,
                                    CheckoutRequest(owner.user_id, [(str(product["_id"]), 1)],
                                                    str(uuid.uuid4()))).order_id
    make_user(email="curiosa@example.com")
    auth.login("curiosa@example.com")
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.get(f"/orders/{order_id}").status_code == 404
    assert client.post(f"/orders/{order_id}/cancel", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/orders/{order_id}/pay", data={"csrf_token": token}).status_code == 404
    assert db.orders.get(order_id).status == "pending"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_staff_accounts_cannot_buy(client, auth, make_user, make_product, role, db):
    make_user(role=role, email="staff@example.com")
    auth.login("staff@example.com")
    product = make_product(stock=3)
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert "Solo las cuentas de cliente pueden comprar." in html
    response = client.post("/orders/buy", data={"csrf_token": csrf_token_from(html), "product_id": str(product["_id"]),
                                                "quantity": "1", "idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 403


def test_buying_needs_a_login_and_a_csrf_token(client, make_product, shopper):
    product = make_product(stock=3)
    form = {**product_form(client, product), "quantity": "1"}
    assert client.post("/orders/buy", data={**form, "csrf_token": "forged"}).status_code == 400
    client.post("/auth/logout", data={"csrf_token": form["csrf_token"]})
    assert client.post("/orders/buy", data=form).status_code == 400  # a new session: the old token is void
    assert client.get("/orders/").status_code == 302


def test_the_json_api_places_an_order_once_per_idempotency_key(client, shopper, make_product, store):
    product = make_product(stock=5, price="3.10")
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    headers = {"X-CSRFToken": token, "Idempotency-Key": str(uuid.uuid4())}
    body = {"items": [{"product_id": str(product["_id"]), "quantity": 2}]}
    first = client.post("/api/orders", json=body, headers=headers)
    again = client.post("/api/orders", json=body, headers=headers)
    assert first.status_code == 201 and first.json["total"] == "6.20" and not first.json["replayed"]
    assert again.status_code == 200 and again.json["order_id"] == first.json["order_id"] and again.json["replayed"]
    assert store.stock.levels()[str(product["_id"])] == 3
    assert first.headers["Deprecation"] == "true" and "/api/v1/checkout" in first.headers["Link"]
    short = client.post("/api/orders", json={"items": [{"product_id": str(product["_id"]), "quantity": 9}]},
                        headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    assert short.status_code == 409 and "Solo quedan 3" in short.json["error"]["message"]
    assert short.json["error"]["code"] == "out_of_stock"  # what a program tests: stable, never translated
    bad = client.post("/api/orders", json={"items": "all"}, headers=headers)
    assert bad.status_code == 400 and "items" in bad.json["error"]["message"]
    assert bad.json["error"]["code"] == "invalid_input"


def test_the_json_api_refuses_callers_without_a_session_token(client):
    response = client.post("/api/orders", json={"items": []}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "formulario ha caducado" in response.json["error"]["message"]
    assert response.json["error"]["code"] == "csrf_failed"


def test_the_payment_deadline_is_shown_in_madrid_time_not_utc(client, shopper, make_product, db, store):
    from shop.services import checkout

    product = make_product(stock=3)
    order_id = checkout.place_order(db, store, CheckoutRequest(shopper.user_id, [(str(product["_id"]), 1)],
                                                               str(uuid.uuid4()))).order_id
    with db.transaction() as cur:  # 03:39 UTC in January is 04:39 in Madrid (CET); in July, 05:39 (CEST)
        cur.execute("UPDATE orders SET expires_at = %s WHERE order_id = %s", ("2030-01-15 03:39:00+00", order_id))
    winter = client.get(f"/orders/{order_id}").get_data(as_text=True)
    with db.transaction() as cur:
        cur.execute("UPDATE orders SET expires_at = %s WHERE order_id = %s", ("2030-07-15 03:39:00+00", order_id))
    summer = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "15/1/30, 4:39" in winter and "3:39" not in winter
    assert "15/7/30, 5:39" in summer
