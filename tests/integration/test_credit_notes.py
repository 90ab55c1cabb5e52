"""Credit notes (facturas rectificativas): every refund of an invoiced order issues one in its own
gapless yearly series, in the refund's transaction, with negative amounts per IVA rate that add up to
exactly what was given back, and a reference to the invoice it corrects."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal as D

import pytest

from shop.domain.accounts import Role
from shop.services import checkout
from shop.services.checkout import CheckoutRequest
from tests.integration.conftest import refund
from tests.payments import pay


def _notes(db) -> list[tuple[int, int]]:
    with db.transaction() as cur:
        cur.execute("SELECT series_year, number FROM credit_notes ORDER BY number")
        return [(row["series_year"], row["number"]) for row in cur.fetchall()]


def test_a_refund_issues_a_credit_note_with_negative_amounts_per_rate_that_add_up_to_it(db, store, paid_order):
    o = paid_order  # 3 mugs at 10,00 (21 %) and 2 books at 19,95 (4 %)
    first = refund(db, store, o, {"Taza": 1, "Libro": 1})  # 29,95 back
    order = db.orders.get(o["order_id"])
    [note] = order.credit_notes
    assert note.printed_number == f"R-{note.series_year}-000001" and note.refund_id == first.refund_id
    assert note.invoice == order.invoice and note.reason_code == "R5" and note.reason == "roto en el envío"
    # 21 %: 10,00 → base 8,26, IVA 1,74; 4 %: 19,95 → base 19,18, IVA 0,77
    assert note.taxes == ((D("21"), D("-8.26"), D("-1.74")), (D("4"), D("-19.18"), D("-0.77")))
    assert note.amount == D("-29.95") == sum(base + tax for _, base, tax in note.taxes)
    refund(db, store, o, full=True)
    notes = db.orders.get(o["order_id"]).credit_notes
    assert [n.number for n in notes] == [1, 2]
    assert sum(n.amount for n in notes) == -db.orders.get(o["order_id"]).total_amount  # all of it, to the cent


def test_the_shipping_given_back_is_credited_at_the_rates_it_was_charged(db, store, make_product, make_user):
    from shop.domain.shipping import parse_address
    from shop.services import shipping as shipping_service
    from tests.integration.test_shipping import HOME

    method = db.shipping.create_method("Estándar", D("4.95"), None, ("ES",))
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    address = db.shipping.add_address(customer.user_id, parse_address(HOME), True)
    book = make_product(name="Rayuela", price="10.00", stock=5, tax_class="super_reduced")
    mug = make_product(name="Taza", price="12.50", stock=5)
    choice = shipping_service.shipping_choice(db, customer.user_id, str(address), str(method))
    order_id = checkout.place_order(db, store, CheckoutRequest(
        customer.user_id, [(str(book["_id"]), 2), (str(mug["_id"]), 1)], str(uuid.uuid4()), shipping=choice)).order_id
    pay(db, customer, order_id)
    items = {item.product_name: item for item in db.orders.get(order_id).items}
    refund(db, store, {"order_id": order_id, "admin": admin, "items": items}, full=True)
    [note] = db.orders.get(order_id).credit_notes
    # everything back: 21 %: 12,50 + 1,73 of shipping = 14,23; 4 %: 20,00 + 3,22 = 23,22 (docs/money.md)
    assert note.taxes == ((D("21"), D("-11.76"), D("-2.47")), (D("4"), D("-22.33"), D("-0.89")))
    assert note.amount == D("-37.45")


def test_concurrent_refunds_of_many_orders_take_consecutive_numbers_without_gaps_or_repeats(
        db, store, make_product, make_user):
    product = make_product(price="5.00", stock=50)
    admin = make_user(role=Role.ADMIN)
    orders = []
    for _ in range(12):
        customer = make_user()
        order_id = checkout.place_order(db, store, CheckoutRequest(customer.user_id, [(str(product["_id"]), 1)],
                                                                   str(uuid.uuid4()))).order_id
        pay(db, customer, order_id)
        orders.append({"order_id": order_id, "admin": admin, "items": {}})
    barrier, errors = threading.Barrier(len(orders)), []

    def give_back(o):
        try:
            barrier.wait(10)
            refund(db, store, o, full=True)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=give_back, args=(o,)) for o in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    numbers = [number for _, number in _notes(db)]
    assert numbers == list(range(1, len(orders) + 1))


def test_a_refund_that_rolls_back_gives_its_credit_note_number_back(db, store, paid_order, monkeypatch):
    from shop.adapters.postgres import refunds as refund_rows

    real = refund_rows._issue_credit_note

    def issue_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the connection broke before the commit")

    monkeypatch.setattr(refund_rows, "_issue_credit_note", issue_then_fail)
    with pytest.raises(RuntimeError):
        refund(db, store, paid_order, {"Taza": 1})
    monkeypatch.setattr(refund_rows, "_issue_credit_note", real)
    assert _notes(db) == [] and db.orders.get(paid_order["order_id"]).refunded_amount == D("0.00")
    refund(db, store, paid_order, {"Taza": 1})
    assert [number for _, number in _notes(db)] == [1]


def test_the_customer_reads_the_credit_note_and_gets_it_as_a_pdf_in_the_refund_mail(app, client, auth, db, store,
                                                                                    paid_order, make_user):
    from tests.integration.test_accounts import outbox
    from tests.integration.test_invoice_pdf import _text

    o = paid_order
    done = refund(db, store, o, {"Libro": 1})  # 19,95 back, at 4 %
    [note] = db.orders.get(o["order_id"]).credit_notes
    invoice = db.orders.get(o["order_id"]).invoice
    customer_email = o["customer"].email
    auth.login(customer_email)
    detail = client.get(f"/orders/{o['order_id']}").get_data(as_text=True)
    assert 'data-testid="credit-note-link"' in detail and note.printed_number in detail
    page = client.get(f"/orders/{o['order_id']}/credit-notes/{done.refund_id}").get_data(as_text=True)
    assert "Factura rectificativa" in page and note.printed_number in page and invoice.printed_number in page
    assert "R5" in page and "roto en el envío" in page and "-19,95" in page.replace("\u2212", "-")
    pdf = client.get(f"/orders/{o['order_id']}/credit-notes/{done.refund_id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.headers["Content-Disposition"].endswith(
        f'filename="rectificativa-{note.printed_number}.pdf"')
    text = _text(pdf.data)
    assert note.printed_number in text and invoice.printed_number in text and "-19,18" in text.replace("\u2212", "-")
    [mail] = [m for m in outbox(app) if "reembols" in m["Subject"].lower()]
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == f"rectificativa-{note.printed_number}.pdf"
    assert attachment.get_content() == pdf.data  # the same bytes as the download
    assert client.get(f"/orders/{o['order_id']}/credit-notes/{done.refund_id + 1}").status_code == 404


def test_another_customer_cannot_read_a_credit_note_and_an_auditor_can(client, auth, db, store, paid_order,
                                                                       make_user):
    done = refund(db, store, paid_order, {"Taza": 1})
    url = f"/orders/{paid_order['order_id']}/credit-notes/{done.refund_id}.pdf"
    make_user(email="otra@example.com")
    make_user(role=Role.AUDITOR, email="eva@example.com")
    auth.login("otra@example.com")
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login("eva@example.com")
    assert client.get(url).status_code == 200
