"""The accountant's book of invoices issued, on the real databases: admins and auditors download it
as CSV or JSON for a range of days; customers cannot; numbers stay numbers in the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

from shop.domain.accounts import Role
from tests.integration.conftest import refund


def test_an_auditor_downloads_the_book_with_invoices_and_credit_notes(client, auth, db, store, paid_order,
                                                                      make_user):
    refund(db, store, paid_order, {"Libro": 1})
    make_user(role=Role.AUDITOR, email="eva@example.com")
    auth.login("eva@example.com")
    today = dt.datetime.now(dt.UTC).date()
    span = {"from": (today - dt.timedelta(days=2)).isoformat(), "to": (today + dt.timedelta(days=2)).isoformat()}
    page = client.get("/admin/invoices/", query_string=span).get_data(as_text=True)
    assert 'data-testid="invoice-book"' in page and "FS-" in page and "R5" in page
    answer = client.get("/admin/invoices/book.csv", query_string=span)
    assert answer.mimetype == "text/csv" and "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    invoice_rows = [row for row in rows if row["serie"] == "FS"]
    note_rows = [row for row in rows if row["serie"] == "R"]
    assert {row["tipo_iva"] for row in invoice_rows} == {"21.00", "4.00"}
    assert [(row["tipo_factura"], row["total"]) for row in note_rows] == [("R5", "-19.95")]  # a number, not '-19.95
    as_json = client.get("/admin/invoices/book.json", query_string=span).get_json()
    assert len(as_json["lines"]) == len(rows) and as_json["time_zone"] == "Europe/Madrid"
    assert client.get("/admin/invoices/book.csv", query_string={"from": "2026-05-02", "to": "2026-05-01"}) \
        .status_code == 400


def test_a_customer_cannot_read_the_book(client, auth, make_user):
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    assert client.get("/admin/invoices/book.csv").status_code in (403, 404)
