"""An invoice as PDF: the same facts as the printable page (orders/invoice.html), written in the
reader's language and the shop's time zone, drawn by shop.adapters.invoice_pdf. Served to the
customer, to staff and to auditors (who read it; nothing here writes), and attached to the "paid"
mail. The same invoice always gives the same bytes."""

from __future__ import annotations

from flask import Response
from flask_babel import format_date, gettext

from shop.adapters.invoice_pdf import InvoiceSheet, render_invoice_pdf
from shop.config import Settings
from shop.domain.orders import Order
from shop.domain.taxes import order_tax_totals
from shop.web.formatting import money, percent


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
    return InvoiceSheet(
        title=gettext("Simplified invoice"),
        facts=((gettext("Number"), number), (gettext("Date"), format_date(order.invoice.issued_at, "long")),
               (gettext("Order"), f"#{order.order_id}")),
        seller=(settings.seller_name, f"{gettext('Tax id (NIF)')}: {settings.seller_tax_id}", settings.seller_address),
        columns=(gettext("Product"), gettext("Unit price"), gettext("Quantity"), gettext("IVA"), gettext("Amount")),
        lines=tuple(lines),
        tax_columns=(gettext("IVA"), gettext("Base"), gettext("Tax"), gettext("Total")),
        tax_lines=tuple((percent(line.rate), money(line.base), money(line.tax), money(line.gross))
                        for line in order_tax_totals(order)),
        total=(gettext("Total (IVA included)"), money(order.total_amount)))


def invoice_pdf(order: Order, settings: Settings) -> bytes:
    number = order.invoice.printed_number if order.invoice else ""
    return render_invoice_pdf(invoice_sheet(order, settings),
                              document_title=f"{gettext('Simplified invoice')} {number}", author=settings.seller_name)


def pdf_response(order: Order, settings: Settings) -> Response:
    """The PDF for a browser or a program: shown in place, saved under the invoice's number."""
    return Response(invoice_pdf(order, settings), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{invoice_file_name(order)}"',
        "Cache-Control": "private, no-store"})
