"""VERI*FACTU records on the real database: each invoice and credit note issued writes a registro de
alta in its own transaction, chained to the one before, and `invoices-verify` names any record or
invoice changed afterwards."""

from __future__ import annotations

import hashlib

from shop.domain.verifactu import AltaRecord
from tests.integration.conftest import refund


def _records(db) -> list[dict]:
    with db.transaction() as cur:
        cur.execute("SELECT * FROM invoice_records ORDER BY record_id")
        return list(cur.fetchall())


def test_an_invoice_and_a_credit_note_write_chained_records_with_the_specifications_fingerprint(db, store,
                                                                                                paid_order):
    refund(db, store, paid_order, {"Taza": 1})
    invoice, note = _records(db)
    order = db.orders.get(paid_order["order_id"])
    assert (invoice["number"], invoice["invoice_kind"], invoice["total"]) == (order.invoice.printed_number, "F2",
                                                                              order.total_amount)
    assert (note["number"], note["invoice_kind"], note["total"]) == (order.credit_notes[0].printed_number, "R5",
                                                                     order.credit_notes[0].amount)
    assert invoice["previous_hash"] == "" and note["previous_hash"] == invoice["hash"]
    fields = (f"IDEmisorFactura=B00000000&NumSerieFactura={invoice['number']}"
              f"&FechaExpedicionFactura={invoice['issued_on']:%d-%m-%Y}&TipoFactura=F2"
              f"&CuotaTotal={invoice['tax_total']}&ImporteTotal={invoice['total']}&Huella="
              f"&FechaHoraHusoGenRegistro={invoice['generated']}")
    assert invoice["hash"] == hashlib.sha256(fields.encode()).hexdigest().upper()
    assert AltaRecord("B00000000", note["number"], note["issued_on"], "R5", note["tax_total"], note["total"],
                      invoice["hash"], note["generated"]).fingerprint() == note["hash"]
    assert invoice["generated"].endswith(("+01:00", "+02:00"))  # Madrid's offset


def test_invoices_verify_passes_and_then_names_a_changed_invoice_and_a_changed_record(app, db, store, paid_order):
    refund(db, store, paid_order, {"Taza": 1})
    result = app.test_cli_runner().invoke(args=["invoices-verify"])
    assert result.exit_code == 0 and "2 registros" in result.output, result.output
    with db.transaction() as cur:  # someone edits an invoice's number in the database
        cur.execute("UPDATE invoices SET number = number + 100")
    result = app.test_cli_runner().invoke(args=["invoices-verify"])
    assert result.exit_code == 1 and "record 1" in result.output and "number" in result.output
    with db.transaction() as cur:
        cur.execute("UPDATE invoices SET number = number - 100")
        cur.execute("UPDATE invoice_records SET total = total + 1 WHERE record_id = 2")
    result = app.test_cli_runner().invoke(args=["invoices-verify"])
    assert result.exit_code == 1 and "record 2 was changed" in result.output
    with db.transaction() as cur:
        cur.execute("UPDATE invoice_records SET total = total - 1 WHERE record_id = 2")
        cur.execute("DELETE FROM invoice_records WHERE record_id = 2")
    result = app.test_cli_runner().invoke(args=["invoices-verify"])
    assert result.exit_code == 1 and "head" in result.output
