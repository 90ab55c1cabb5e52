"""Full invoices (facturas completas): over SIMPLIFIED_INVOICE_LIMIT an order needs whom its invoice is
made out to; a customer may ask for one on any order; F and FS each number their own series."""

from __future__ import annotations

import dataclasses
import re
import uuid
from decimal import Decimal

import pytest

from shop.domain.errors import InvalidInput
from shop.domain.invoicing import InvoiceParty
from shop.services import checkout
from shop.services.checkout import CheckoutPolicy, CheckoutRequest
from tests.conftest import csrf_token_from
from tests.payments import pay

POLICY = CheckoutPolicy(simplified_invoice_limit=Decimal("400.00"))
ANA = InvoiceParty("Ana Pérez", "12345678Z", "Calle Mayor 1, 28013 Madrid")


def _buy(db, store, user, product, units, party=None):
    return checkout.place_order(db, store, CheckoutRequest(user.user_id, [(str(product["_id"]), units), ],
                                                           str(uuid.uuid4()), invoice_party=party), POLICY)


def test_an_order_over_the_limit_without_a_full_invoices_data_is_refused_and_takes_nothing(db, store, make_product,
                                                                                          make_user):
    laptop = make_product(name="Portátil", price="899.00", stock=3)
    customer = make_user()
    with pytest.raises(InvalidInput, match="needs a full invoice"):
        _buy(db, store, customer, laptop, 1)
    assert store.products.find_one({"_id": laptop["_id"]})["stock"] == 3  # the units came back
    assert [o.status for o in db.orders.of_user(customer.user_id, include_failed=True)] == ["failed"]


def test_over_the_limit_with_its_data_the_order_gets_a_full_invoice_in_its_own_series(db, store, make_product,
                                                                                      make_user):
    laptop = make_product(name="Portátil", price="899.00", stock=3)
    mug = make_product(name="Taza", price="10.00", stock=3)
    customer = make_user()
    small = _buy(db, store, customer, mug, 1).order_id
    big = _buy(db, store, customer, laptop, 1, ANA).order_id
    pay(db, customer, small)
    pay(db, customer, big)
    simplified, full = db.orders.get(small).invoice, db.orders.get(big).invoice
    assert (simplified.series, simplified.number, simplified.party) == ("FS", 1, None)
    assert (full.series, full.number, full.party) == ("F", 1, ANA)  # its own series: number 1 too
    assert full.printed_number == f"F-{full.series_year}-000001"


def test_a_customer_asks_for_a_full_invoice_in_the_cart_and_reads_it_made_out_to_them(client, auth, db, store,
                                                                                     make_product, make_user):
    mug = make_product(name="Taza", price="10.00", stock=3)
    customer = make_user(email="ana@example.com")
    db.carts.add(customer.user_id, str(mug["_id"]), 1, 100)
    auth.login("ana@example.com")
    page = client.get("/cart/").get_data(as_text=True)
    assert 'name="invoice_tax_id"' in page
    form = {"csrf_token": csrf_token_from(page), "idempotency_key": str(uuid.uuid4()), "full_invoice": "1",
            "invoice_name": "Ana Pérez", "invoice_tax_id": "12345678A", "invoice_address": "Calle Mayor 1"}
    refused = client.post("/orders/checkout", data=form)
    assert refused.status_code == 400 and "12345678A no es un NIF" in refused.get_data(as_text=True)
    assert 'value="Ana Pérez"' in refused.get_data(as_text=True)  # what was typed stays
    placed = client.post("/orders/checkout", data={**form, "invoice_tax_id": "12345678-z"})
    assert placed.status_code == 303
    [order] = db.orders.of_user(customer.user_id)
    pay(db, customer, order.order_id)
    invoice = client.get(f"/orders/{order.order_id}/invoice").get_data(as_text=True)
    assert "<h1" in invoice and ">Factura<" in invoice and "Emitida a" in invoice and "12345678Z" in invoice
    assert "F-" in invoice


def test_the_cart_over_the_limit_asks_for_the_full_invoice(settings, db, store, make_product, make_user):
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app
    from tests.integration.conftest import AuthActions

    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False},
                     settings=dataclasses.replace(settings, simplified_invoice_limit=Decimal("400.00")))
    try:
        laptop = make_product(name="Portátil", price="899.00", stock=3)
        customer = make_user(email="ana@example.com")
        db.carts.add(customer.user_id, str(laptop["_id"]), 1, 100)
        client = app.test_client()
        AuthActions(client).login("ana@example.com")
        page = client.get("/cart/").get_data(as_text=True)
        checkbox = re.search(r'<input[^>]*name="full_invoice"[^>]*>', page).group(0)
        assert "checked" in checkbox  # over the limit: asked for from the start
        refused = client.post("/orders/checkout", data={"csrf_token": csrf_token_from(page),
                                                        "idempotency_key": str(uuid.uuid4())})
        assert refused.status_code == 400 and "necesita factura completa" in refused.get_data(as_text=True)
    finally:
        close_stores(app)


def test_a_program_checks_out_with_a_full_invoices_data(client, db, store, make_product, make_user):
    from tests.integration.conftest import PASSWORD

    mug = make_product(name="Taza", price="10.00", stock=3)
    make_user(email="ana@example.com")
    access = client.post("/api/v1/auth/token", json={"email": "ana@example.com", "password": PASSWORD}).get_json()
    program = client.application.test_client()
    headers = {"Authorization": f"Bearer {access['access_token']}", "Idempotency-Key": "pedido-1"}
    body = {"items": [{"product_id": str(mug["_id"]), "quantity": 1}],
            "invoice": {"name": "Talleres Ruiz S.L.", "tax_id": "B12345674", "address": "Polígono Sur 4, Getafe"}}
    answer = program.post("/api/v1/checkout", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    assert db.orders.get(answer.get_json()["id"]).shipping is None
    bad = program.post("/api/v1/checkout", headers={**headers, "Idempotency-Key": "pedido-2"},
                       json={**body, "invoice": {**body["invoice"], "tax_id": "B12345675"}})
    assert bad.status_code == 400 and bad.get_json()["code"]


def test_a_refund_of_a_full_invoice_is_corrected_with_code_r1(db, store, make_product, make_user):
    from shop.domain.accounts import Role
    from tests.integration.conftest import refund

    laptop = make_product(name="Portátil", price="899.00", stock=3)
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    order_id = _buy(db, store, customer, laptop, 1, ANA).order_id
    pay(db, customer, order_id)
    items = {item.product_name: item for item in db.orders.get(order_id).items}
    refund(db, store, {"order_id": order_id, "admin": admin, "items": items}, full=True)
    [note] = db.orders.get(order_id).credit_notes
    assert (note.reason_code, note.invoice.series, note.amount) == ("R1", "F", Decimal("-899.00"))


def test_a_program_is_told_by_a_stable_code_that_an_order_over_the_limit_needs_the_invoices_data(
        settings, db, store, make_product, make_user):
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app
    from tests.integration.conftest import PASSWORD

    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False},
                     settings=dataclasses.replace(settings, simplified_invoice_limit=Decimal("400.00")))
    try:
        laptop = make_product(name="Portátil", price="899.00", stock=3)
        make_user(email="ana@example.com")
        program = app.test_client()
        access = program.post("/api/v1/auth/token", json={"email": "ana@example.com", "password": PASSWORD})
        answer = program.post("/api/v1/checkout", json={"items": [{"product_id": str(laptop["_id"]), "quantity": 1}]},
                              headers={"Authorization": f"Bearer {access.get_json()['access_token']}",
                                       "Idempotency-Key": "portatil-1"})
        assert answer.status_code == 400 and answer.get_json()["code"] == "full_invoice_needed"
    finally:
        close_stores(app)
