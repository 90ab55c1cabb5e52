"""The book of invoices issued: a line per document and IVA rate, in the shop's time zone, with the
AEAT's kinds, and credit notes negative and naming what they correct."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from shop.domain.invoice_book import IssuedCreditNote, IssuedInvoice, book_lines
from shop.domain.invoicing import InvoiceParty

NEW_YEAR_IN_MADRID = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
ANA = InvoiceParty("Ana Pérez", "12345678Z", "Calle Mayor 1")


def test_each_rate_of_an_invoice_is_a_line_dated_in_the_shops_time_zone():
    invoice = IssuedInvoice("FS", 2027, 1, NEW_YEAR_IN_MADRID, 7,
                            None, ((D("21"), D("30.00"), D("5.21")), (D("4"), D("19.95"), D("0.77")),
                                   (D("21"), D("4.95"), D("0.86"))))
    first, second = book_lines([invoice], [], "Europe/Madrid")
    assert (first.ejercicio, first.periodo, first.fecha_expedicion) == (2027, "1T", "2027-01-01")
    assert (first.serie, first.numero, first.tipo_factura) == ("FS", "2027-000001", "F2")
    assert (first.tipo_iva, first.base_imponible, first.cuota_iva, first.total) == (D("21"), D("28.88"), D("6.07"),
                                                                                     D("34.95"))
    assert (second.tipo_iva, second.total) == (D("4"), D("19.95"))


def test_a_full_invoice_names_its_customer_and_a_credit_note_is_negative_and_names_the_invoice():
    invoice = IssuedInvoice("F", 2026, 3, dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC), 8, ANA,
                            ((D("21"), D("899.00"), D("156.02")),))
    note = IssuedCreditNote(2026, 1, dt.datetime(2026, 8, 1, 10, tzinfo=dt.UTC), 8, "R1", "F-2026-000003", ANA,
                            ((D("21"), D("-742.98"), D("-156.02")),))
    full, credit = book_lines([invoice], [note], "Europe/Madrid")
    assert (full.tipo_factura, full.nif_destinatario, full.nombre_destinatario) == ("F1", "12345678Z", "Ana Pérez")
    assert (credit.periodo, credit.serie, credit.tipo_factura, credit.factura_rectificada) == \
        ("3T", "R", "R1", "F-2026-000003")
    assert credit.total == D("-899.00") == -full.total
