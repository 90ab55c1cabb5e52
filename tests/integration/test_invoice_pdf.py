"""Invoices as PDF: downloaded by the customer, staff and auditors, attached to the "paid" mail,
served to programs that ask for application/pdf — and the same bytes every time."""

from __future__ import annotations

import io

from pypdf import PdfReader

from shop.domain.accounts import Role
from tests.integration.conftest import PASSWORD
from tests.integration.test_accounts import outbox
from tests.integration.test_invoices import place
from tests.payments import pay


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _paid_order(db, store, make_product, make_user):
    book = make_product(name="Don Quijote", price="19.95", stock=5, tax_class="super_reduced")
    mug = make_product(name="Taza <esmaltada> & cía", price="10.00", stock=5)
    customer = make_user(email="ana@example.com")
    order_id = place(db, store, customer, (mug, 3), (book, 1))
    return customer, order_id


def test_the_customer_downloads_the_invoice_as_a_pdf_with_its_lines_and_iva_per_rate(client, auth, db, store,
                                                                                     make_product, make_user):
    customer, order_id = _paid_order(db, store, make_product, make_user)
    auth.login("ana@example.com")
    assert client.get(f"/orders/{order_id}/invoice.pdf").status_code == 404  # not paid: no invoice yet
    pay(db, customer, order_id)
    answer = client.get(f"/orders/{order_id}/invoice.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    number = db.orders.get(order_id).invoice.printed_number
    assert answer.headers["Content-Disposition"] == f'inline; filename="factura-{number}.pdf"'
    assert "no-store" in answer.headers["Cache-Control"]
    text = _text(answer.data)
    assert "Factura simplificada" in text and number in text and "Tienda Híbrida S.L." in text
    assert "Taza <esmaltada> & cía" in text and "Don Quijote" in text  # typed text stays text
    assert "21 %" in text and "4 %" in text and "24,79" in text and "0,77" in text and "49,95" in text
    assert client.get(f"/orders/{order_id}/invoice.pdf").data == answer.data  # the same bytes every time
    assert 'data-testid="invoice-pdf-link"' in client.get(f"/orders/{order_id}").get_data(as_text=True)


def test_staff_and_auditors_read_any_invoice_and_other_customers_none(client, auth, db, store, make_product,
                                                                      make_user):
    customer, order_id = _paid_order(db, store, make_product, make_user)
    pay(db, customer, order_id)
    make_user(email="otra@example.com")
    make_user(role=Role.AUDITOR, email="eva@example.com")
    auth.login("otra@example.com")
    assert client.get(f"/orders/{order_id}/invoice.pdf").status_code == 404
    auth.logout()
    auth.login("eva@example.com")
    seen_by_auditor = client.get(f"/orders/{order_id}/invoice.pdf")
    assert seen_by_auditor.status_code == 200
    auth.logout()
    auth.login("ana@example.com")
    assert client.get(f"/orders/{order_id}/invoice.pdf").data == seen_by_auditor.data


def test_the_paid_mail_carries_the_same_pdf_as_the_download(app, client, auth, db, store, make_product, make_user):
    customer, order_id = _paid_order(db, store, make_product, make_user)
    pay(db, customer, order_id)
    [paid] = [m for m in outbox(app) if "pagado" in m["Subject"]]
    [attachment] = list(paid.iter_attachments())
    number = db.orders.get(order_id).invoice.printed_number
    assert attachment.get_content_type() == "application/pdf" and attachment.get_filename() == f"factura-{number}.pdf"
    assert paid.get_body(("plain",)) is not None  # the readable part is still there
    auth.login("ana@example.com")
    assert attachment.get_content() == client.get(f"/orders/{order_id}/invoice.pdf").data
    placed = [m for m in outbox(app) if "pagado" not in m["Subject"]]
    assert placed and not any(list(m.iter_attachments()) for m in placed)  # no invoice before it is paid


def test_a_program_asks_for_the_invoice_as_pdf(client, db, store, make_product, make_user):
    customer, order_id = _paid_order(db, store, make_product, make_user)
    pay(db, customer, order_id)
    token = client.post("/api/v1/auth/token", json={"email": "ana@example.com", "password": PASSWORD})
    access = token.get_json()["access_token"]
    program = client.application.test_client()
    pdf = program.get(f"/api/v1/orders/{order_id}/invoice",
                      headers={"Authorization": f"Bearer {access}", "Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    html = program.get(f"/api/v1/orders/{order_id}/invoice", headers={"Authorization": f"Bearer {access}"})
    assert html.mimetype == "text/html"


def test_the_invoice_carries_the_qr_code_of_the_tax_agencys_cotejo_service(client, auth, db, store, make_product,
                                                                           make_user):
    import re
    from zoneinfo import ZoneInfo

    customer, order_id = _paid_order(db, store, make_product, make_user)
    pay(db, customer, order_id)
    invoice = db.orders.get(order_id).invoice
    auth.login("ana@example.com")
    page = client.get(f"/orders/{order_id}/invoice").get_data(as_text=True)
    day = invoice.issued_at.astimezone(ZoneInfo("Europe/Madrid")).strftime("%d-%m-%Y")
    expected = (f"https://prewww2.aeat.es/wlpl/TIKE-CONT/ValidarQR?nif=B00000000&amp;numserie={invoice.printed_number}"
                f"&amp;fecha={day}&amp;importe=49.95")  # the testing service outside production
    assert f'data-url="{expected}"' in page and "QR tributario:" in page
    assert re.search(r'<img src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]{1000,}"', page)
    assert "QR tributario:" in _text(client.get(f"/orders/{order_id}/invoice.pdf").data)
