"""Discount codes on the real databases: a code with N uses is never used N+1 times (200 concurrent
checkouts, a checkout killed after taking a use), a use comes back exactly once when its order fails,
is cancelled or expires, and every refusal is a clear message with nothing changed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import uuid
from decimal import Decimal

import pytest

from shop import failpoints
from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import Role
from shop.domain.discounts import NOT_USABLE, DiscountCode
from shop.domain.errors import Conflict, InvalidInput
from shop.services import checkout, orders
from shop.services.checkout import CheckoutRequest
from shop.services.recovery import recover
from tests.conftest import csrf_token_from
from tests.integration.conftest import PASSWORD
from tests.integration.test_checkout_faults import LEASE, run_child

NOW = dt.datetime.now(dt.UTC)


def make_code(db, code="VERANO10", kind="percent", value="10", **extra) -> DiscountCode:
    discount = DiscountCode(code, kind, Decimal(value), **extra)
    db.discounts.create(discount)
    return discount


def place(db, store, user, lines, code=None):
    return checkout.place_order(db, store,
                                CheckoutRequest(user.user_id, [(str(p["_id"]), q) for p, q in lines],
                                                str(uuid.uuid4()), discount_code=code))


def uses(db, code="VERANO10") -> tuple[int, int]:
    """(the code's counter, the uses orders hold): always equal."""
    return db.discounts.get(code).uses, db.discounts.held_uses(code)


def test_a_code_with_n_uses_is_used_exactly_n_times_by_200_concurrent_checkouts(migrated, db, store, make_product,
                                                                                  make_user):
    make_code(db, max_uses=25)
    product = make_product(stock=1000, price="20.00")
    customers = [make_user() for _ in range(200)]
    wide = PostgresDatabase(migrated, max_connections=40)
    barrier, placed, refused, errors = threading.Barrier(200), [], [], []

    def buy(customer):
        try:
            barrier.wait(30)
            placed.append(checkout.place_order(wide, store,
                                               CheckoutRequest(customer.user_id, [(str(product["_id"]), 1)],
                                                               str(uuid.uuid4()), discount_code="verano10")).order_id)
        except Conflict as error:
            refused.append(error)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=buy, args=(c,)) for c in customers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        wide.close()
    assert not errors
    assert len(placed) == 25 and len(refused) == 175
    assert all(e.template == NOT_USABLE for e in refused)
    assert uses(db) == (25, 25)
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 1000 - 25  # refused orders took nothing


def test_a_use_comes_back_exactly_once_when_its_order_is_cancelled_or_expires(db, store, make_product, make_user):
    make_code(db, max_uses=2)
    product = make_product(stock=10, price="20.00")
    customer = make_user()
    first, second = (place(db, store, customer, [(product, 1)], "VERANO10").order_id for _ in range(2))
    with pytest.raises(Conflict):
        place(db, store, customer, [(product, 1)], "VERANO10")  # used up
    orders.cancel_order(db, store, customer, first)
    assert uses(db) == (1, 1)
    with pytest.raises(Conflict):
        orders.cancel_order(db, store, customer, first)  # cancelling again changes nothing
    assert uses(db) == (1, 1)
    with db.transaction() as cur:
        cur.execute("UPDATE orders SET expires_at = now() - interval '1 minute' WHERE order_id = %s", (second,))
    recover(db, store)
    assert uses(db) == (0, 0)
    third = place(db, store, customer, [(product, 1)], "VERANO10")
    assert third.total == Decimal("18.00") and uses(db) == (1, 1)


def test_an_order_that_fails_gives_its_use_back(db, store, make_product, make_user):
    make_code(db, max_uses=1)
    scarce, plenty = make_product(name="Escasa", stock=1), make_product(name="Mucha", stock=9)
    customer = make_user()
    with pytest.raises(Conflict):  # out of stock on the second line: the order fails after taking the use
        place(db, store, customer, [(plenty, 1), (scarce, 2)], "VERANO10")
    assert uses(db) == (0, 0)
    assert place(db, store, customer, [(plenty, 1)], "VERANO10").order_id  # the one use is free again


@pytest.mark.parametrize("point", ["checkout.after_order_created", "checkout.after_reserve"])
def test_a_checkout_killed_after_taking_a_use_gives_it_back_through_recovery(servers, migrated, mongo_db_name, db,
                                                                            store, make_product, make_user, point):
    make_code(db, max_uses=1)
    product = make_product(stock=5)
    customer = make_user()
    child = run_child(servers, migrated, mongo_db_name, action="place", failpoint=f"{point}=exit",
                      user_id=customer.user_id, lines=[(str(product["_id"]), 1)], key=str(uuid.uuid4()),
                      discount_code="VERANO10")
    assert child.returncode == failpoints.EXIT_CODE, child.stdout + child.stderr
    assert uses(db) == (1, 1)  # held by the dead checkout's order
    with pytest.raises(Conflict):
        place(db, store, make_user(), [(product, 1)], "VERANO10")  # not N+1 meanwhile
    time.sleep(LEASE + 0.2)
    recover(db, store)
    assert uses(db) == (0, 0)
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 5


def test_a_code_takes_its_discount_off_each_eligible_line_before_the_iva(db, store, make_product, make_user):
    make_code(db, "LIBROS5", kind="fixed", value="5.00", categories=("Libros",))
    book = make_product(name="Libro", category="Libros", price="19.95", stock=5, tax_class="super_reduced")
    mug = make_product(name="Taza", category="Menaje", price="10.00", stock=5)
    result = place(db, store, make_user(), [(mug, 1), (book, 1)], " libros5 ")  # spaces and lower case
    order = db.orders.get(result.order_id)
    items = {i.product_name: i for i in order.items}
    assert (items["Libro"].discount_amount, items["Taza"].discount_amount) == (Decimal("5.00"), Decimal("0.00"))
    assert order.total_amount == result.total == Decimal("24.95") and order.discount_code == "LIBROS5"
    # IVA on what is left: 14,95 at 4 % → base 14,38, IVA 0,57; the mug 10,00 at 21 % → IVA 1,74
    assert (items["Libro"].tax_amount, items["Taza"].tax_amount) == (Decimal("0.57"), Decimal("1.74"))


@pytest.mark.parametrize("code, lines, message", [
    ("NOEXISTE", None, "cannot be used"),
    ("CADUCADO", None, "cannot be used"),
    ("FUTURO", None, "cannot be used"),
    ("APAGADO", None, "cannot be used"),
    ("MINIMO50", None, "at least"),
    ("SOLOLIBROS", None, "does not apply"),
    ("$gt", None, "cannot be used"),
])
def test_a_code_that_cannot_apply_is_refused_with_its_reason_and_nothing_changes(db, store, make_product, make_user,
                                                                                 code, lines, message):
    make_code(db, "CADUCADO", ends_at=NOW - dt.timedelta(days=1), starts_at=NOW - dt.timedelta(days=9))
    make_code(db, "FUTURO", starts_at=NOW + dt.timedelta(days=1))
    make_code(db, "APAGADO")
    db.discounts.set_active("APAGADO", False)
    make_code(db, "MINIMO50", min_order=Decimal("50.00"))
    make_code(db, "SOLOLIBROS", categories=("Libros",))
    product = make_product(stock=5, price="20.00", category="Menaje")
    customer = make_user()
    with pytest.raises((Conflict, InvalidInput)) as refused:
        place(db, store, customer, [(product, 1)], code)
    assert message in refused.value.template
    assert db.orders.of_user(customer.user_id, include_failed=True) == [] or all(
        o.status == "failed" for o in db.orders.of_user(customer.user_id, include_failed=True))
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 5


def test_a_customer_uses_a_code_only_as_often_as_it_allows(db, store, make_product, make_user):
    make_code(db, "UNAVEZ", max_uses_per_customer=1)
    product = make_product(stock=5)
    customer, other = make_user(), make_user()
    first = place(db, store, customer, [(product, 1)], "UNAVEZ")
    with pytest.raises(Conflict, match="as many times"):
        place(db, store, customer, [(product, 1)], "UNAVEZ")
    place(db, store, other, [(product, 1)], "UNAVEZ")  # another customer may
    orders.cancel_order(db, store, customer, first.order_id)
    place(db, store, customer, [(product, 1)], "UNAVEZ")  # the cancelled order's use is not a use


def test_the_cart_shows_the_discount_before_the_order_and_the_order_keeps_it(client, auth, db, store,
                                                                             make_product, make_user):
    make_code(db, "VERANO10", max_uses=5)
    product = make_product(name="Cafetera", stock=5, price="40.00")
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    page = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    client.post("/cart/add", data={"csrf_token": csrf_token_from(page), "product_id": str(product["_id"]),
                                   "quantity": "2"})
    preview = client.get("/cart/?code=verano10")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-testid="cart-discount">−8,00' in html and "72,00" in html
    assert uses(db) == (0, 0)  # a preview takes nothing
    refused = client.get("/cart/?code=NOPE")
    assert refused.status_code == 400 and "no se puede usar" in refused.get_data(as_text=True)
    key = html.split('name="idempotency_key" value="')[1].split('"')[0]
    response = client.post("/orders/checkout", data={"csrf_token": csrf_token_from(html), "idempotency_key": key,
                                                     "discount_code": "VERANO10"})
    assert response.status_code == 303
    order_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Descuento VERANO10" in order_page and "72,00" in order_page
    assert uses(db) == (1, 1)


def test_admins_create_and_deactivate_codes_and_auditors_only_look(client, auth, db, make_user):
    make_user(role=Role.ADMIN, email="admin@example.com")
    make_user(role=Role.AUDITOR, email="auditor@example.com")
    auth.login("admin@example.com")
    page = client.get("/admin/discounts/").get_data(as_text=True)
    form = {"csrf_token": csrf_token_from(page), "code": "black-friday", "kind": "percent", "value": "20",
            "max_uses": "100", "max_uses_per_customer": "1", "categories": "Libros, Móviles"}
    assert client.post("/admin/discounts/", data=form).status_code == 303
    created = db.discounts.get("BLACK-FRIDAY")
    assert (created.value, created.max_uses, created.categories) == (Decimal("20"), 100, ("Libros", "Móviles"))
    assert client.post("/admin/discounts/", data=form).status_code == 409  # already exists
    assert client.post("/admin/discounts/", data={**form, "code": "OTRO", "value": "150"}).status_code == 400
    assert client.post("/admin/discounts/BLACK-FRIDAY/active",
                       data={"csrf_token": form["csrf_token"], "active": "0"}).status_code == 303
    assert not db.discounts.get("BLACK-FRIDAY").active
    auth.logout()
    auth.login("auditor@example.com")
    html = client.get("/admin/discounts/").get_data(as_text=True)
    assert "BLACK-FRIDAY" in html and 'data-testid="new-discount"' not in html
    token = csrf_token_from(html)
    assert client.post("/admin/discounts/", data={**form, "csrf_token": token, "code": "AUD"}).status_code == 403


def test_a_code_for_one_customer_is_refused_to_everyone_else(db, store, make_product, make_user):
    from shop.services import discounts as discount_service

    ana, bea = make_user(email="ana@example.com"), make_user(email="bea@example.com")
    discount_service.create_discount_code(db, DiscountCode("SOLOANA", "percent", Decimal("15")), "Ana@Example.com")
    with pytest.raises(InvalidInput):
        discount_service.create_discount_code(db, DiscountCode("NADIE", "percent", Decimal("5")), "nadie@example.com")
    product = make_product(stock=5, price="20.00")
    with pytest.raises(Conflict, match="cannot be used"):
        place(db, store, bea, [(product, 1)], "soloana")
    with pytest.raises(Conflict, match="cannot be used"):
        from shop.domain.orders import OrderLine
        discount_service.preview_discount(db, bea.user_id, "SOLOANA",
                                          [OrderLine(str(product["_id"]), "x", Decimal("20.00"), 1)])
    assert place(db, store, ana, [(product, 1)], "soloana").total == Decimal("17.00")
    assert uses(db, "SOLOANA") == (1, 1)


def test_the_product_page_shows_a_codes_discount_before_comprar(client, auth, db, make_product, make_user):
    make_code(db, "VERANO10")
    product = make_product(name="Cafetera", stock=5, price="40.00")
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    page = client.get(f"/products/{product['_id']}?code=verano10").get_data(as_text=True)
    assert 'data-testid="code-preview"' in page and "36,00" in page and 'value="VERANO10"' in page
    assert "no se puede usar" in client.get(f"/products/{product['_id']}?code=NOPE").get_data(as_text=True)
    assert uses(db) == (0, 0)


def test_a_code_that_is_unknown_someone_elses_off_or_ended_gets_one_answer(client, auth, db, make_product, make_user):
    """Guessing codes learns nothing from the refusal: the same words whatever the reason."""
    other = make_user(email="otra@example.com")
    make_code(db, "DEOTRA", user_id=other.user_id)
    make_code(db, "CADUCADO", ends_at=NOW - dt.timedelta(days=1), starts_at=NOW - dt.timedelta(days=9))
    make_code(db, "APAGADO")
    db.discounts.set_active("APAGADO", False)
    make_code(db, "AGOTADO", max_uses=1)
    with db.transaction() as cur:
        cur.execute("UPDATE discount_codes SET uses = 1 WHERE code = 'AGOTADO'")
    product = make_product(name="Cafetera", stock=5, price="40.00")
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    page = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    client.post("/cart/add", data={"csrf_token": csrf_token_from(page), "product_id": str(product["_id"]),
                                   "quantity": "1"})
    answers = set()
    for code in ("NOEXISTE", "DEOTRA", "CADUCADO", "APAGADO", "AGOTADO"):
        html = client.get(f"/cart/?code={code}").get_data(as_text=True)
        answers.add(html.split('data-testid="code-error"')[1].split("</")[0].replace(code, "X"))
    assert len(answers) == 1 and "no se puede usar" in answers.pop()


def test_a_minimum_order_is_written_as_money_in_the_shops_language(client, auth, db, make_product, make_user):
    make_code(db, "MINIMO30", min_order=Decimal("30.00"))
    product = make_product(name="Taza", stock=5, price="10.00")
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    html = client.get(f"/products/{product['_id']}?code=MINIMO30").get_data(as_text=True)
    assert "al menos 30,00\xa0€" in html and "30.00" not in html


def test_trying_discount_codes_is_rate_limited_per_account_and_per_address(settings, db, store, make_product,
                                                                           make_user):
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": True},
                     settings=dataclasses.replace(settings, discount_code_rate_limit="3 per minute"))
    try:
        product = make_product(name="Taza", stock=5)
        for email in ("ana@example.com", "eva@example.com"):
            make_user(email=email)
        ana, eva = app.test_client(), app.test_client()
        for client, email in ((ana, "ana@example.com"), (eva, "eva@example.com")):
            token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
            client.post("/auth/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
        statuses = [ana.get(f"/cart/?code=PRUEBA{i}").status_code for i in range(2)]
        statuses.append(ana.get(f"/products/{product['_id']}?code=PRUEBA9").status_code)
        assert 429 not in statuses
        assert ana.get("/cart/?code=OTRA").status_code == 429  # the fourth guess, pages shared
        assert ana.get("/cart/").status_code == 200  # the cart itself is not limited
        assert eva.get("/cart/?code=OTRA").status_code == 429  # same address: its own budget is spent too
    finally:
        close_stores(app)


@pytest.mark.parametrize(("kind", "value", "price"), [("percent", "100", "0.91"), ("fixed", "7.77", "0.91")],
                         ids=["a-100-percent-code", "a-fixed-code-worth-more-than-the-goods"])
def test_an_order_a_code_brings_to_zero_is_confirmed_without_a_card_and_invoiced_at_zero(
        client, auth, db, store, make_product, make_user, kind, value, price):
    make_code(db, "GRATIS", kind=kind, value=value)
    product = make_product(name="Chapa", stock=5, price=price)
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    page = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    response = client.post("/orders/buy", data={"csrf_token": csrf_token_from(page), "product_id": str(product["_id"]),
                                                "quantity": "1", "discount_code": "GRATIS",
                                                "idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 303
    order_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="card_number"' not in order_page  # nothing to pay: no card asked for
    order_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert db.orders.get(order_id).total_amount == Decimal("0.00")
    confirmed = client.post(f"/orders/{order_id}/pay", data={"csrf_token": csrf_token_from(order_page)})
    assert confirmed.status_code == 303
    order = db.orders.get(order_id)
    assert order.status.value == "paid" and order.invoice is not None and not order.payments
    assert client.get(f"/orders/{order_id}/invoice").status_code == 200


def test_a_fixed_code_is_previewed_as_coming_off_the_order_not_each_unit(client, auth, db, make_product, make_user):
    make_code(db, "MENOS5", kind="fixed", value="5.00")
    product = make_product(name="Cafetera", stock=5, price="40.00")
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    page = client.get(f"/products/{product['_id']}?code=MENOS5").get_data(as_text=True)
    preview = page.split('data-testid="code-preview">')[1].split("</p>")[0]
    assert "por unidad" not in preview and "todo el pedido" in preview and "5,00" in preview


def test_someone_elses_address_is_not_found_rather_than_sent_back_to_your_own_book(client, auth, db, make_user):
    from shop.domain.shipping import parse_address

    owner = make_user(email="owner@example.com")
    address_id = db.shipping.add_address(owner.user_id, parse_address({
        "full_name": "Ana Pérez", "street": "Calle Mayor 1", "postal_code": "28013", "city": "Madrid",
        "province": "Madrid", "country": "ES", "phone": "612345678"}), True)
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    token = csrf_token_from(client.get("/account/addresses/").get_data(as_text=True))
    for action in ("default", "delete"):
        assert client.post(f"/account/addresses/{address_id}/{action}", data={"csrf_token": token}).status_code == 404
    assert db.shipping.addresses_of(owner.user_id)
