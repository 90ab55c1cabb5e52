"""VERI*FACTU records (shop.domain.verifactu) in PostgreSQL: written in the transaction that issues
the invoice or credit note, under the lock of the chain's head, and read back whole to verify."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shop.adapters.postgres.errors import translates_errors
from shop.domain.verifactu import AltaRecord, StoredAlta, generated_at

_KIND = {"FS": "F2", "F": "F1"}


def _add(cur: Any, document: dict[str, Any], invoice_id: int | None, credit_note_id: int | None) -> None:
    zone = ZoneInfo(cur.owner.time_zone)
    issued: dt.datetime = document["issued_at"].astimezone(zone)
    cur.execute("SELECT last_hash FROM invoice_chain FOR UPDATE")
    previous = cur.fetchone()["last_hash"]
    record = AltaRecord(cur.owner.issuer_tax_id, document["number"], issued.date(), document["kind"],
                        document["tax_total"], document["total"], previous, generated_at(issued))
    cur.execute("""INSERT INTO invoice_records (kind, invoice_id, credit_note_id, issuer_tax_id, number, issued_on,
                                                invoice_kind, tax_total, total, previous_hash, generated, hash)
                   VALUES ('alta', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING record_id""",
                (invoice_id, credit_note_id, record.issuer_tax_id, record.number, record.issued_on, record.kind,
                 record.tax_total, record.total, record.previous, record.generated, record.fingerprint()))
    cur.execute("UPDATE invoice_chain SET last_record_id = %s, last_hash = %s",
                (cur.fetchone()["record_id"], record.fingerprint()))


def _invoice_document(cur: Any, where: str, value: int) -> dict[str, Any] | None:
    cur.execute(f"""SELECT i.invoice_id, i.series || '-' || i.series_year || '-' || lpad(i.number::text, 6, '0')
                              AS number, i.series, i.issued_at, o.total_amount AS total,
                           o.shipping_tax + coalesce((SELECT sum(tax_amount) FROM order_items
                                                      WHERE order_id = o.order_id), 0) AS tax_total
                    FROM invoices i JOIN orders o USING (order_id) WHERE {where} = %s""",  # noqa: S608 - constant
                (value,))
    row = cur.fetchone()
    return {**row, "kind": _KIND[row["series"]]} if row else None


def _credit_note_document(cur: Any, where: str, value: int) -> dict[str, Any] | None:
    cur.execute(f"""SELECT credit_note_id, 'R-' || series_year || '-' || lpad(number::text, 6, '0') AS number,
                           issued_at, reason_code AS kind, amount AS total, taxes
                    FROM credit_notes WHERE {where} = %s""", (value,))  # noqa: S608 - constant
    row = cur.fetchone()
    if row is None:
        return None
    return {**row, "tax_total": sum((Decimal(tax) for _, _, tax in row["taxes"]), Decimal("0.00"))}


def record_invoice(cur: Any, order_id: int) -> None:
    """The registro de alta of the invoice just issued for `order_id`."""
    document = _invoice_document(cur, "i.order_id", order_id)
    if document is not None:
        _add(cur, document, document["invoice_id"], None)


def record_credit_note(cur: Any, refund_id: int) -> None:
    """The registro de alta of the credit note just issued for `refund_id`."""
    document = _credit_note_document(cur, "refund_id", refund_id)
    if document is not None:
        _add(cur, document, None, document["credit_note_id"])


@translates_errors
class InvoiceRecords:
    def __init__(self, db):
        self._db = db

    def stored(self) -> tuple[list[StoredAlta], str]:
        """Every record, in the chain's order, each beside its document's fields as they stand now;
        and the hash the chain's head holds."""
        zone = ZoneInfo(self._db.time_zone)
        with self._db.transaction() as cur:
            cur.execute("SELECT * FROM invoice_records ORDER BY record_id")
            stored = []
            for row in cur.fetchall():
                record = AltaRecord(row["issuer_tax_id"], row["number"], row["issued_on"], row["invoice_kind"],
                                    row["tax_total"], row["total"], row["previous_hash"], row["generated"])
                if row["invoice_id"] is not None:
                    document = _invoice_document(cur, "i.invoice_id", row["invoice_id"])
                else:
                    document = _credit_note_document(cur, "credit_note_id", row["credit_note_id"])
                now = None if document is None else AltaRecord(
                    row["issuer_tax_id"], document["number"], document["issued_at"].astimezone(zone).date(),
                    document["kind"], document["tax_total"], document["total"], row["previous_hash"],
                    generated_at(document["issued_at"].astimezone(zone)))
                stored.append(StoredAlta(row["record_id"], record, row["hash"], now))
            cur.execute("SELECT last_hash FROM invoice_chain")
            head = cur.fetchone()
        return stored, head["last_hash"] if head else ""
