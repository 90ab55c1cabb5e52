"""Addresses and shipping on the real databases: the order keeps what was chosen, shipping is
priced and taxed, a method switched off since the page loaded is refused, and the pages work."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest

from shop.domain.accounts import Role
from shop.domain.errors import Conflict, InvalidInput, NotFound
from shop.domain.refunds import RefundRequest
from shop.domain.shipping import parse_address
from shop.domain.taxes import order_tax_totals
from shop.services import checkout
from shop.services import shipping as shipping_service
from shop.services.checkout import CheckoutRequest
from shop.services.refunds import refund_order
from tests.conftest import csrf_token_from
from tests.payments import pay, simulated_provider

HOME = {"full_name": "Ana Pérez", "street": "Calle Mayor 1", "postal_code": "28013", "city": "Madrid",
        "province": "Madrid", "country": "ES", "phone": "612345678"}


@pytest.fixture
def ships(db):
    """A shop that ships: standard (4,95, free from 50) to Spain; express (9,90) to Spain and Portugal."""
    standard = db.shipping.create_method("Estándar", Decimal("4.95"), Decimal("50.00"), ("ES",))
    express = db.shipping.create_method("Exprés", Decimal("9.90"), None, ("ES", "PT"))
    return {"standard": standard, "express": express}


def buy(db, store, user, product, quantity, address_id, method_id):
    choice = shipping_service.shipping_choice(db, user.user_id, str(address_id), str(method_id))
    return checkout.place_order(db, store,
                                CheckoutRequest(user.user_id, [(str(product["_id"]), quantity)], str(uuid.uuid4()),
                                                shipping=choice))


def test_an_order_keeps_the_address_and_the_method_as_chosen(db, store, ships, make_product, make_user):
    customer = make_user()
    home = db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    product = make_product(price="20.00", stock=10)
    result = buy(db, store, customer, product, 1, home, ships["standard"])
    assert result.total == Decimal("24.95")
    # Later changes of the address book and of the method never change the placed order.
    db.shipping.delete_address(customer.user_id, home)
    db.shipping.set_method_active(ships["standard"], False)
    order = db.orders.get(result.order_id)
    assert order.shipping.address["street"] == "Calle Mayor 1" and order.shipping.method == "Estándar"
    assert (order.shipping_amount, order.total_amount) == (Decimal("4.95"), Decimal("24.95"))
    # 21 % on 20,00 + 4,95: base 20,62, IVA 4,33; the shipping's share 0,86
    assert order.shipping.tax == Decimal("0.86")
    assert [(t.rate, t.base, t.tax) for t in order_tax_totals(order)] == [(Decimal("21.00"), Decimal("20.62"),
                                                                            Decimal("4.33"))]


def test_shipping_is_free_from_its_amount_after_the_discount(db, store, ships, make_product, make_user):
    from shop.domain.discounts import DiscountCode

    db.discounts.create(DiscountCode("DIEZ", "percent", Decimal("10")))
    customer = make_user()
    home = db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    product = make_product(price="55.00", stock=10)
    assert buy(db, store, customer, product, 1, home, ships["standard"]).total == Decimal("55.00")  # free
    choice = shipping_service.shipping_choice(db, customer.user_id, str(home), str(ships["standard"]))
    discounted = checkout.place_order(db, store,
                                      CheckoutRequest(customer.user_id, [(str(product["_id"]), 1)],
                                                      str(uuid.uuid4()), shipping=choice, discount_code="DIEZ"))
    assert discounted.total == Decimal("49.50") + Decimal("4.95")  # 49,50 of goods: under 50, shipping paid


def test_what_checkout_cannot_ship_is_refused_with_a_clear_reason(db, ships, make_user):
    customer, other = make_user(), make_user()
    with pytest.raises(InvalidInput, match="Add a shipping address"):
        shipping_service.shipping_choice(db, customer.user_id, "1", str(ships["standard"]))
    home = db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    lisbon = db.shipping.add_address(customer.user_id, parse_address(
        {**HOME, "country": "PT", "postal_code": "1100-148", "province": "", "phone": "+351912345678"}), False)
    theirs = db.shipping.add_address(other.user_id, parse_address(HOME), True)
    with pytest.raises(NotFound):
        shipping_service.shipping_choice(db, customer.user_id, str(theirs), str(ships["standard"]))
    with pytest.raises(Conflict, match="does not ship to"):
        shipping_service.shipping_choice(db, customer.user_id, str(lisbon), str(ships["standard"]))
    assert shipping_service.shipping_choice(db, customer.user_id, str(lisbon), str(ships["express"]))
    db.shipping.set_method_active(ships["express"], False)  # switched off since the page was loaded
    with pytest.raises(Conflict, match="no longer offered"):
        shipping_service.shipping_choice(db, customer.user_id, str(home), str(ships["express"]))
    with pytest.raises(InvalidInput):
        shipping_service.shipping_choice(db, customer.user_id, "$gt", str(ships["standard"]))


def test_a_shop_without_active_methods_ships_nothing_as_before(db, make_user):
    assert shipping_service.shipping_choice(db, make_user().user_id, None, None) is None


def test_a_full_refund_returns_the_shipping_too(db, store, ships, make_product, make_user):
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    home = db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    product = make_product(price="10.00", stock=10)
    order_id = buy(db, store, customer, product, 2, home, ships["express"]).order_id
    pay(db, customer, order_id)
    item_id = db.orders.get(order_id).items[0].order_item_id
    by_line = refund_order(db, store, simulated_provider(), admin, order_id,
                           RefundRequest({item_id: 2}, "no llegó", False), str(uuid.uuid4()), full=False)
    assert by_line.amount == Decimal("20.00") and by_line.status.value == "partially_refunded"  # not the shipping
    rest = refund_order(db, store, simulated_provider(), admin, order_id, RefundRequest({}, "envío", False),
                        str(uuid.uuid4()), full=True)
    order = db.orders.get(order_id)
    assert rest.amount == Decimal("9.90") and order.status == "refunded"
    assert order.refunded_amount == order.total_amount == Decimal("29.90")


def test_a_customer_keeps_an_address_book_with_one_default(client, auth, db, make_user):
    customer = make_user(email="ana@example.com")
    auth.login("ana@example.com")
    page = client.get("/account/addresses/").get_data(as_text=True)
    token = csrf_token_from(page)
    bad = client.post("/account/addresses/", data={"csrf_token": token, **HOME, "postal_code": "99999"})
    assert bad.status_code == 400 and "Un código postal español tiene cinco cifras" in bad.get_data(as_text=True)
    assert client.post("/account/addresses/", data={"csrf_token": token, **HOME}).status_code == 303
    assert client.post("/account/addresses/", data={"csrf_token": token, **HOME, "street": "Gran Vía 2",
                                                    "make_default": "1"}).status_code == 303
    book = db.shipping.addresses_of(customer.user_id)
    assert [(a.street, default) for _, a, default in book] == [("Gran Vía 2", True), ("Calle Mayor 1", False)]
    first_id = book[1][0]
    assert client.post(f"/account/addresses/{first_id}/default", data={"csrf_token": token}).status_code == 303
    assert db.shipping.addresses_of(customer.user_id)[0][1].street == "Calle Mayor 1"


def test_comprar_ships_to_the_default_address_with_the_chosen_method(client, auth, db, store, ships, make_product,
                                                                     make_user):
    customer = make_user(email="ana@example.com")
    product = make_product(name="Tetera", price="30.00", stock=5)
    auth.login("ana@example.com")
    page = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert 'data-testid="needs-address"' in page  # no address yet: where to add one, and no Comprar
    db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    page = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert 'data-testid="address-picker"' in page and "Exprés" in page
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    address_id = page.split('name="address_id"')[1].split('value="')[1].split('"')[0]
    response = client.post("/orders/buy", data={"csrf_token": csrf_token_from(page), "product_id": str(product["_id"]),
                                                "quantity": "1", "idempotency_key": key, "address_id": address_id,
                                                "shipping_method_id": str(ships["standard"])})
    assert response.status_code == 303
    order_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Envío: Estándar" in order_page and "34,95" in order_page and "Calle Mayor 1" in order_page
    db.shipping.set_method_active(ships["standard"], False)
    refused = client.post("/orders/buy", data={"csrf_token": csrf_token_from(page), "product_id": str(product["_id"]),
                                               "quantity": "1", "idempotency_key": str(uuid.uuid4()),
                                               "address_id": address_id, "shipping_method_id": str(ships["standard"])})
    assert refused.status_code == 409 and "ya no se ofrece" in refused.get_data(as_text=True)


def test_admins_manage_shipping_methods_and_auditors_only_look(client, auth, db, make_user):
    make_user(role=Role.ADMIN, email="admin@example.com")
    make_user(role=Role.AUDITOR, email="auditor@example.com")
    auth.login("admin@example.com")
    page = client.get("/admin/shipping/").get_data(as_text=True)
    form = {"csrf_token": csrf_token_from(page), "name": "Recogida", "price": "0", "countries": "ES"}
    assert client.post("/admin/shipping/", data=form).status_code == 303
    assert client.post("/admin/shipping/", data=form).status_code == 409  # the same name again
    assert client.post("/admin/shipping/", data={**form, "name": "X", "countries": "US"}).status_code == 400
    [method] = db.shipping.methods()
    assert client.post(f"/admin/shipping/{method.method_id}/active",
                       data={"csrf_token": form["csrf_token"], "active": "0"}).status_code == 303
    assert not db.shipping.any_active()
    auth.logout()
    auth.login("auditor@example.com")
    html = client.get("/admin/shipping/").get_data(as_text=True)
    assert "Recogida" in html and 'data-testid="new-shipping-method"' not in html


def test_sales_revenue_is_what_was_paid_less_what_was_refunded_shipping_included(db, store, ships, make_product,
                                                                                  make_user):
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    home = db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    product = make_product(price="10.00", stock=20)
    for refund_in_parts in (False, True, False, True):
        order_id = buy(db, store, customer, product, 1, home, ships["standard"]).order_id
        pay(db, customer, order_id)
        if refund_in_parts:
            item_id = db.orders.get(order_id).items[0].order_item_id
            refund_order(db, store, simulated_provider(), admin, order_id,
                         RefundRequest({item_id: 1}, "roto", False), str(uuid.uuid4()), full=False)
        refund_order(db, store, simulated_provider(), admin, order_id, RefundRequest({}, "todo", False),
                     str(uuid.uuid4()), full=True)
    kept = buy(db, store, customer, product, 2, home, ships["standard"]).order_id
    pay(db, customer, kept)
    with db.transaction() as cur:
        cur.execute("""SELECT sum(total_amount - refunded_amount) AS kept FROM orders
                       WHERE status IN ('paid', 'shipped', 'partially_refunded', 'refunded')""")
        recounted = cur.fetchone()["kept"]
        cur.execute("SELECT sum(revenue) AS revenue FROM sales_daily")
        assert cur.fetchone()["revenue"] == recounted == Decimal("24.95")


def test_the_cart_shows_shipping_iva_and_the_total_each_method_gives_and_the_order_costs_that(
        client, auth, db, store, ships, make_product, make_user):
    customer = make_user(email="ana@example.com")
    db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    book = make_product(name="Rayuela", price="10.00", stock=5, category="Libros", tax_class="super_reduced")
    db.carts.add(customer.user_id, str(book["_id"]), 2, 100)
    auth.login("ana@example.com")
    page = client.get("/cart/").get_data(as_text=True)
    shipping_rows = re.findall(r'data-testid="cart-shipping">.*?</tr>', page, re.S)
    assert len(shipping_rows) == 2 and "4,95" in shipping_rows[0] and "9,90" in shipping_rows[1]
    totals = re.findall(r'data-testid="cart-total">([^<]+)<', page)
    assert [t.replace("\xa0", " ") for t in totals] == ["24,95 €", "29,90 €"]  # 20,00 + each method
    taxes = re.search(r'data-testid="cart-taxes">(.*?)</table>', page, re.S).group(1)
    assert "IVA incluido" in page and "4 %" in taxes and "21 %" not in taxes  # a parcel of books: shipping at 4 %
    token = csrf_token_from(page)
    [(address_id, _, _)] = db.shipping.addresses_of(customer.user_id)
    response = client.post("/orders/checkout", data={"csrf_token": token, "idempotency_key": str(uuid.uuid4()),
                                                     "address_id": str(address_id),
                                                     "shipping_method_id": str(ships["standard"])})
    assert response.status_code in (302, 303)
    [order] = db.orders.of_user(customer.user_id)
    assert order.total_amount == Decimal("24.95")  # what the cart said with Estándar


def test_an_order_of_books_and_a_mug_keeps_its_shipping_split_by_rate_and_its_invoice_shows_both(
        client, auth, db, store, ships, make_product, make_user):
    from tests.payments import pay

    customer = make_user(email="ana@example.com")
    address_id = db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    book = make_product(name="Rayuela", price="10.00", stock=5, category="Libros", tax_class="super_reduced")
    mug = make_product(name="Taza", price="12.50", stock=5, category="Menaje")
    choice = shipping_service.shipping_choice(db, customer.user_id, str(address_id), str(ships["standard"]))
    order_id = checkout.place_order(db, store, CheckoutRequest(
        customer.user_id, [(str(book["_id"]), 2), (str(mug["_id"]), 1)], str(uuid.uuid4()), shipping=choice)).order_id
    order = db.orders.get(order_id)  # read back from PostgreSQL
    assert order.shipping.taxed_parts == ((Decimal("21"), Decimal("1.73"), Decimal("0.30")),
                                          (Decimal("4"), Decimal("3.22"), Decimal("0.12")))
    assert order.total_amount == Decimal("37.45") and order.shipping.tax == Decimal("0.42")
    pay(db, customer, order_id)
    auth.login("ana@example.com")
    page = client.get(f"/orders/{order_id}/invoice").get_data(as_text=True)
    rows = re.findall(r'data-testid="invoice-shipping">(.*?)</tr>', page, re.S)
    assert len(rows) == 2 and "21" in rows[0] and "1,73" in rows[0] and "4" in rows[1] and "3,22" in rows[1]
    rates = page.split('data-testid="invoice-taxes"')[1]
    assert "11,76" in rates and "2,47" in rates and "22,33" in rates and "0,89" in rates  # docs/money.md
