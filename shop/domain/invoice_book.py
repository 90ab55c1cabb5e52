"""The accountant's book of invoices issued (libro registro de facturas expedidas): one line per
invoice or credit note and IVA rate, in the columns of the AEAT's model of the book, for a range of
days in the shop's time zone. Invoices and credit notes alike; a credit note's amounts are negative
and it names the invoice it corrects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from shop.domain.invoicing import InvoiceParty
from shop.domain.taxes import rate_totals

COLUMNS = ("ejercicio", "periodo", "fecha_expedicion", "serie", "numero", "tipo_factura", "factura_rectificada",
           "nif_destinatario", "nombre_destinatario", "tipo_iva", "base_imponible", "cuota_iva", "total", "pedido")
# The AEAT's kinds: F1 a full invoice, F2 a simplified one; R1–R5 a credit note (its reason code).
_KIND = {"F": "F1", "FS": "F2"}


@dataclass(frozen=True)
class IssuedInvoice:
    series: str
    year: int
    number: int
    issued_at: dt.datetime
    order_id: int
    party: InvoiceParty | None
    taxed: tuple[tuple[Decimal, Decimal, Decimal], ...]  # its lines and shipping parts: (rate, gross, IVA)


@dataclass(frozen=True)
class IssuedCreditNote:
    year: int
    number: int
    issued_at: dt.datetime
    order_id: int
    reason_code: str
    corrects: str  # the printed number of the invoice it corrects
    party: InvoiceParty | None
    taxes: tuple[tuple[Decimal, Decimal, Decimal], ...]  # (rate, base, IVA), negative


@dataclass(frozen=True)
class BookLine:
    ejercicio: int
    periodo: str
    fecha_expedicion: str
    serie: str
    numero: str
    tipo_factura: str
    factura_rectificada: str
    nif_destinatario: str
    nombre_destinatario: str
    tipo_iva: Decimal
    base_imponible: Decimal
    cuota_iva: Decimal
    total: Decimal
    pedido: int

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in COLUMNS)


def _when(at: dt.datetime, zone: ZoneInfo) -> tuple[int, str, str]:
    local = at.astimezone(zone)
    return local.year, f"{(local.month - 1) // 3 + 1}T", local.date().isoformat()


def book_lines(invoices: Sequence[IssuedInvoice], credit_notes: Sequence[IssuedCreditNote],
               time_zone: str) -> list[BookLine]:
    """The book's lines, invoices then credit notes, each by series and number, a line per rate."""
    zone, lines = ZoneInfo(time_zone), []
    for invoice in sorted(invoices, key=lambda i: (i.series, i.year, i.number)):
        year, period, day = _when(invoice.issued_at, zone)
        party = invoice.party
        for total in rate_totals(invoice.taxed):
            lines.append(BookLine(year, period, day, invoice.series, f"{invoice.year}-{invoice.number:06d}",
                                  _KIND.get(invoice.series, invoice.series), "", party.tax_id if party else "",
                                  party.name if party else "", total.rate, total.base, total.tax, total.gross,
                                  invoice.order_id))
    for note in sorted(credit_notes, key=lambda n: (n.year, n.number)):
        year, period, day = _when(note.issued_at, zone)
        party = note.party
        for rate, base, tax in note.taxes:
            lines.append(BookLine(year, period, day, "R", f"{note.year}-{note.number:06d}", note.reason_code,
                                  note.corrects, party.tax_id if party else "", party.name if party else "", rate,
                                  base, tax, base + tax, note.order_id))
    return lines
