"""Invoices and credit notes as PDF: the same facts as their printable pages (orders/invoice.html,
orders/credit_note.html), written in the reader's language and the shop's time zone, drawn by
shop.adapters.invoice_pdf. Served to the
customer, to staff and to auditors (who read it; nothing here writes), and attached to the "paid"
mail. The same invoice always gives the same bytes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Response
from flask_babel import format_date, gettext

from shop.adapters.invoice_pdf import InvoiceSheet, render_invoice_pdf
from shop.config import Settings
from shop.domain.orders import CreditNote, Order
from shop.domain.refunds import Refund
from shop.domain.taxes import order_tax_totals
from shop.domain.verifactu import qr_url
from shop.web.formatting import money, percent


def invoice_qr(number: str, issued_at: dt.datetime, total: Decimal, settings: Settings) -> str:
    """The address an invoice's QR code holds: the AEAT's cotejo service (the testing one outside
    production), for this shop's tax id, the invoice's number, its date in the shop's time zone
    and its total."""
    issued_on = issued_at.astimezone(ZoneInfo(settings.time_zone)).date()
    return qr_url(settings.seller_tax_id, number, issued_on, total, production=settings.is_production)


def _tax_lines(rows: list[tuple[Decimal, Decimal, Decimal, Decimal]]) -> tuple[tuple[str, ...], ...]:
    """The IVA table's lines as printed: rate, base, IVA and total of each rate."""
    return tuple((percent(rate), money(base), money(tax), money(gross)) for rate, base, tax, gross in rows)


def invoice_file_name(order: Order) -> str:
    assert order.invoice is not None  # noqa: S101 - callers check that the order is invoiced
    return f"factura-{order.invoice.printed_number}.pdf"


def invoice_sheet(order: Order, settings: Settings) -> InvoiceSheet:
    """What the PDF shows of an invoiced order, as text."""
    assert order.invoice is not None  # noqa: S101 - callers check that the order is invoiced
    number = order.invoice.printed_number
    lines = [(item.description + (f" · {gettext('SKU %(sku)s', sku=item.sku)}" if item.sku else ""),
              money(item.unit_price), str(item.quantity),
              percent(item.tax_rate) if item.tax_rate is not None else "–",
              money(item.subtotal) + (f" ({gettext('discount %(amount)s', amount=money(item.discount_amount))})"
                                      if item.discount_amount else ""))
             for item in order.items]
    if order.shipping is not None:  # one line per IVA rate it was taxed at (it follows the goods)
        label = gettext("Shipping: %(method)s", method=order.shipping.method)
        lines += [(label, "", "", percent(rate), money(amount)) for rate, amount, _tax in order.shipping.taxed_parts]
    party = order.invoice.party
    return InvoiceSheet(
        title=_invoice_title(order),
        buyer=(gettext("Made out to"), party.name, f"{gettext('Tax id (NIF)')}: {party.tax_id}", party.address)
        if party else (),
        facts=((gettext("Number"), number), (gettext("Date"), format_date(order.invoice.issued_at, "long")),
               (gettext("Order"), f"#{order.order_id}")),
        seller=(settings.seller_name, f"{gettext('Tax id (NIF)')}: {settings.seller_tax_id}", settings.seller_address),
        columns=(gettext("Product"), gettext("Unit price"), gettext("Quantity"), gettext("IVA"), gettext("Amount")),
        lines=tuple(lines),
        tax_columns=(gettext("IVA"), gettext("Base"), gettext("Tax"), gettext("Total")),
        tax_lines=_tax_lines([line.row for line in order_tax_totals(order)]),
        total=(gettext("Total (IVA included)"), money(order.total_amount)),
        qr=invoice_qr(number, order.invoice.issued_at, order.total_amount, settings))


def credit_note_lines(order: Order, note: CreditNote, refund: Refund | None) -> list[tuple[str, int | str, Decimal]]:
    """What a credit note gives back, line by line: each refunded line's units and money (negative),
    and the shipping when it was returned (what the refund's total has beyond its lines)."""
    items = {item.order_item_id: item for item in order.items}
    lines: list[tuple[str, int | str, Decimal]] = [
        (items[line.order_item_id].description if line.order_item_id in items else "", line.quantity, -line.amount)
        for line in (refund.lines if refund else ())]
    rest = -note.amount - sum((line.amount for line in refund.lines), Decimal("0.00")) if refund else Decimal("0.00")
    if rest and order.shipping is not None:
        lines.append((gettext("Shipping: %(method)s", method=order.shipping.method), "", -rest))
    return lines


def credit_note_sheet(order: Order, note: CreditNote, refund: Refund | None, settings: Settings) -> InvoiceSheet:
    return InvoiceSheet(
        title=gettext("Credit note"),
        facts=((gettext("Number"), note.printed_number), (gettext("Date"), format_date(note.issued_at, "long")),
               (gettext("Corrects invoice"), f"{note.invoice.printed_number} "
                                             f"({format_date(note.invoice.issued_at, 'long')})"),
               (gettext("Reason"), f"{note.reason_code} · {note.reason}"), (gettext("Order"), f"#{order.order_id}")),
        seller=(settings.seller_name, f"{gettext('Tax id (NIF)')}: {settings.seller_tax_id}", settings.seller_address),
        columns=(gettext("Product"), gettext("Quantity"), gettext("Amount")),
        lines=tuple((description, str(units), money(amount)) for description, units, amount in
                    credit_note_lines(order, note, refund)),
        tax_columns=(gettext("IVA"), gettext("Base"), gettext("Tax"), gettext("Total")),
        tax_lines=_tax_lines(note.tax_rows),
        total=(gettext("Total (IVA included)"), money(note.amount)),
        qr=invoice_qr(note.printed_number, note.issued_at, note.amount, settings))


def credit_note_pdf(order: Order, note: CreditNote, refund: Refund | None, settings: Settings) -> bytes:
    return render_invoice_pdf(credit_note_sheet(order, note, refund, settings),
                              document_title=f"{gettext('Credit note')} {note.printed_number}",
                              author=settings.seller_name)


def credit_note_file_name(note: CreditNote) -> str:
    return f"rectificativa-{note.printed_number}.pdf"


def invoice_pdf(order: Order, settings: Settings) -> bytes:
    number = order.invoice.printed_number if order.invoice else ""
    return render_invoice_pdf(invoice_sheet(order, settings),
                              document_title=f"{_invoice_title(order)} {number}", author=settings.seller_name)


def _invoice_title(order: Order) -> str:
    return gettext("Invoice") if order.invoice and order.invoice.is_full else gettext("Simplified invoice")


def pdf_response(order: Order, settings: Settings) -> Response:
    """The PDF for a browser or a program: shown in place, saved under the invoice's number."""
    return pdf_file(invoice_pdf(order, settings), invoice_file_name(order))


def pdf_file(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, no-store"})
