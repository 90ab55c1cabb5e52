"""The invoices and credit notes issued in a time range, for the accountant's book
(shop.domain.invoice_book): read in three statements, whatever the number of invoices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shop.adapters.postgres.errors import translates_errors
from shop.domain.invoice_book import IssuedCreditNote, IssuedInvoice
from shop.domain.invoicing import InvoiceParty


def _party(data) -> InvoiceParty | None:
    return InvoiceParty.from_snapshot(data) if data else None


@translates_errors
class InvoiceBook:
    def __init__(self, db):
        self._db = db

    def issued(self, start: dt.datetime, end: dt.datetime) -> tuple[list[IssuedInvoice], list[IssuedCreditNote]]:
        """Invoices and credit notes issued in [start, end)."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT i.series, i.series_year, i.number, i.issued_at, i.party, i.order_id,
                                  o.shipping_amount, o.shipping_tax, o.shipping_tax_rate, o.shipping_taxes
                           FROM invoices i JOIN orders o USING (order_id)
                           WHERE i.issued_at >= %s AND i.issued_at < %s""", (start, end))
            invoices = list(cur.fetchall())
            taxed: dict[int, list[tuple[Decimal, Decimal, Decimal]]] = {row["order_id"]: [] for row in invoices}
            if invoices:
                cur.execute("""SELECT order_id, tax_rate, unit_price * quantity - discount_amount AS gross, tax_amount
                               FROM order_items WHERE order_id = ANY(%s) AND tax_rate IS NOT NULL""",
                            (list(taxed),))
                for item in cur.fetchall():
                    taxed[item["order_id"]].append((item["tax_rate"], item["gross"], item["tax_amount"]))
            for row in invoices:
                if row["shipping_taxes"]:
                    taxed[row["order_id"]] += [(Decimal(rate), Decimal(gross), Decimal(tax))
                                               for rate, gross, tax in row["shipping_taxes"]]
                elif row["shipping_amount"] and row["shipping_tax_rate"] is not None:
                    taxed[row["order_id"]].append((row["shipping_tax_rate"], row["shipping_amount"],
                                                   row["shipping_tax"]))
            cur.execute("""SELECT c.series_year, c.number, c.issued_at, c.order_id, c.reason_code, c.taxes, i.party,
                                  i.series || '-' || i.series_year || '-' || lpad(i.number::text, 6, '0') AS corrects
                           FROM credit_notes c JOIN invoices i USING (invoice_id)
                           WHERE c.issued_at >= %s AND c.issued_at < %s""", (start, end))
            notes = [IssuedCreditNote(row["series_year"], row["number"], row["issued_at"], row["order_id"],
                                      row["reason_code"], row["corrects"], _party(row["party"]),
                                      tuple((Decimal(r), Decimal(b), Decimal(t)) for r, b, t in row["taxes"]))
                     for row in cur.fetchall()]
        return ([IssuedInvoice(row["series"], row["series_year"], row["number"], row["issued_at"], row["order_id"],
                               _party(row["party"]), tuple(taxed[row["order_id"]])) for row in invoices], notes)
