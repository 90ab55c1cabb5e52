"""A visitor's cart: someone not logged in fills a cart (kept in their session) from a product page
a shared cache may have served, sees its totals, and finds it in their account's cart when they log
in. A form sent from another site adds nothing."""

from __future__ import annotations

from decimal import Decimal

from shop.domain.accounts import Role
from tests.conftest import csrf_token_from

SAME_SITE = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}


def add(client, product, quantity="1", headers=None, **extra):
    """What Add to cart on the product page sends: its token when the page has one (a session exists)."""
    page = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    token = {"csrf_token": csrf_token_from(page)} if 'name="csrf_token"' in page else {}
    return client.post("/cart/add", data={"product_id": str(product["_id"]), "quantity": quantity, **token, **extra},
                       headers=headers if headers is not None else SAME_SITE)


def test_a_visitors_product_page_offers_the_cart_and_stays_shareable(client, make_product):
    product = make_product(name="Taza azul")
    response = client.get(f"/products/{product['_id']}")
    page = response.get_data(as_text=True)
    assert 'action="/cart/add"' in page and "Añadir al carrito" in page
    assert 'name="csrf_token"' not in page and 'name="idempotency_key"' not in page
    assert response.headers["Cache-Control"].startswith("public") and not response.headers.getlist("Set-Cookie")


def test_a_visitor_fills_a_cart_and_sees_its_totals_with_shipping_before_logging_in(client, db, make_product):
    db.shipping.create_method("Estándar", Decimal("4.95"), None, ("ES",))
    mug, book = make_product(name="Taza azul", price="10.00"), make_product(name="Libro rojo", price="20.00")
    answer = add(client, mug, "2")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/cart/")
    assert answer.headers.getlist("Set-Cookie")  # the cart starts a session
    page = client.get(f"/products/{book['_id']}").get_data(as_text=True)
    assert 'name="csrf_token"' in page  # someone with a session sends its token, as with any form
    token = csrf_token_from(page)
    assert client.post("/cart/add", data={"product_id": str(book["_id"]), "quantity": "1",
                                          "csrf_token": token}).status_code == 303
    cart = client.get("/cart/")
    text = cart.get_data(as_text=True)
    assert cart.status_code == 200 and cart.headers["Cache-Control"] == "no-store"
    assert "Taza azul" in text and "Libro rojo" in text and "40,00" in text  # 2 × 10 + 20
    assert "Estándar" in text and "44,95" in text  # the shipping, before anyone pays
    assert 'data-testid="visitor-checkout"' in text and "/auth/login?next=/cart/" in text
    assert 'data-testid="discount-form"' not in text  # codes are counted per account


def test_a_visitor_changes_and_removes_lines(client, make_product):
    mug, book = make_product(name="Taza azul"), make_product(name="Libro rojo")
    add(client, mug, "2")
    add(client, book, "1")
    token = csrf_token_from(client.get("/cart/").get_data(as_text=True))
    client.post("/cart/update", data={"product_id": str(mug["_id"]), "quantity": "5", "csrf_token": token})
    client.post("/cart/update", data={"product_id": str(book["_id"]), "remove": "1", "quantity": "1",
                                      "csrf_token": token})
    text = client.get("/cart/").get_data(as_text=True)
    assert 'value="5"' in text and "Libro rojo" not in text


def test_a_form_sent_from_another_site_adds_nothing(client, make_product):
    mug = make_product(name="Taza azul")
    for headers in ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        answer = add(client, mug, headers=headers)
        assert answer.status_code == 400, headers
        assert not answer.headers.getlist("Set-Cookie"), headers
    add(client, mug)  # now a session exists: without its token, even from this site, nothing is added
    other = make_product(name="Libro rojo")
    assert client.post("/cart/add", data={"product_id": str(other["_id"]), "quantity": "1"},
                       headers=SAME_SITE).status_code == 400
    assert "Libro rojo" not in client.get("/cart/").get_data(as_text=True)


def test_nothing_that_is_not_on_sale_goes_into_a_visitors_cart(client, make_product, make_sized_product):
    assert client.post("/cart/add", data={"product_id": "0123456789abcdef01234567", "quantity": "1"},
                       headers=SAME_SITE).status_code in (400, 404)
    shirt = make_sized_product(name="Camiseta")
    assert add(client, shirt).status_code == 400  # sold in sizes: a size must be chosen
    assert add(client, shirt, variant="v2").status_code == 303
    assert "Camiseta" in client.get("/cart/").get_data(as_text=True)


def test_logging_in_brings_the_visitors_cart_into_the_account_cart(client, auth, db, make_product, make_user):
    mug, book = make_product(name="Taza azul"), make_product(name="Libro rojo")
    customer = make_user(email="ana@example.com")
    db.carts.add(customer.user_id, str(mug["_id"]), 1, 100)  # from an earlier visit, logged in
    add(client, mug, "2")
    add(client, book, "1")
    answer = auth.login("ana@example.com")
    assert answer.status_code == 302
    assert dict(db.carts.lines(customer.user_id)) == {str(mug["_id"]): 3, str(book["_id"]): 1}
    text = client.get("/cart/").get_data(as_text=True)
    assert "también lo que elegiste antes de entrar" in text
    assert 'data-testid="visitor-checkout"' not in text  # now the checkout form
    auth.logout()
    assert 'data-testid="empty-cart"' in client.get("/cart/").get_data(as_text=True)  # nothing left behind


def test_staff_get_no_cart_and_keep_none_from_before_logging_in(client, auth, db, make_product, make_user):
    mug = make_product(name="Taza azul")
    add(client, mug, "2")
    admin = make_user(role=Role.ADMIN, email="boss@example.com")
    auth.login("boss@example.com")
    assert client.get("/cart/").status_code == 403
    assert add(client, mug).status_code in (400, 403)
    assert db.carts.lines(admin.user_id) == []
