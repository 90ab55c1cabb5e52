"""Invoices as PDF, drawn with ReportLab from an InvoiceSheet (every text already written in the
reader's language by shop.web.invoices).

The same sheet always gives the same bytes: ReportLab's invariant mode leaves out the creation
time and the random document id, the fonts are the Bitstream Vera TTFs shipped inside ReportLab's
own package (embedded as subsets, so no system font is read), and nothing else varies. Why
ReportLab and not WeasyPrint: WeasyPrint renders the HTML page but needs Pango and the system's
fonts, which a shop's server may not have and which change the output when they change.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import reportlab
from reportlab.graphics import renderSVG
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

FONT, BOLD = "ShopSans", "ShopSans-Bold"
_FONTS = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
_registered = threading.Lock()


@dataclass(frozen=True)
class InvoiceSheet:
    """What an invoice PDF shows, as text: the shop's web layer fills it in the reader's language."""
    title: str  # "Factura simplificada"
    facts: tuple[tuple[str, str], ...]  # (label, value): number, date, order
    seller: tuple[str, ...]  # name, tax id, address
    columns: tuple[str, ...]  # the lines' table header
    lines: tuple[tuple[str, ...], ...]  # one row per line (shipping included), as many cells as columns
    tax_columns: tuple[str, ...]
    tax_lines: tuple[tuple[str, ...], ...]
    total: tuple[str, str]  # (label, amount)
    notes: tuple[str, ...] = ()  # below the totals
    buyer: tuple[str, ...] = ()  # a full invoice's customer: name, tax id, address
    qr: str | None = None  # the AEAT's cotejo address (shop.domain.verifactu.qr_url), drawn as a QR code


QR_LEGEND = "QR tributario:"  # the legal label above the code (Orden HAC/1177/2024 art. 21), never translated
_QR_SIZE = 35 * mm  # the order asks for 30 to 40 mm


def qr_drawing(url: str, size: float = _QR_SIZE) -> Drawing:
    """The QR code of `url`, error correction level M, `size` points wide and high."""
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def qr_svg(url: str) -> str:
    """The QR code of `url` as an SVG image in a data: address (the pages' Content-Security-Policy
    allows data: images, and an image's own styles do not touch the page)."""
    svg = renderSVG.drawToString(qr_drawing(url, 132))
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _fonts() -> None:
    with _registered:  # registration is global to the process; held only around it
        if FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT, os.path.join(_FONTS, "Vera.ttf")))
            pdfmetrics.registerFont(TTFont(BOLD, os.path.join(_FONTS, "VeraBd.ttf")))


def render_invoice_pdf(sheet: InvoiceSheet, *, document_title: str, author: str) -> bytes:
    """The invoice as an A4 PDF: the same `sheet` always gives the same bytes."""
    _fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
    strong = ParagraphStyle("strong", parent=body, fontName=BOLD)
    title = ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=16, leading=20, spaceAfter=4)
    story: list[Flowable] = [Paragraph(_text(sheet.title), title)]
    facts = [Paragraph(f"<b>{_text(label)}:</b> {_text(value)}", body) for label, value in sheet.facts]
    right, strong_right = (ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
                           ParagraphStyle("strong-right", parent=strong, alignment=TA_RIGHT))
    seller = [Paragraph(_text(text), strong_right if n == 0 else right) for n, text in enumerate(sheet.seller)]
    header = Table([[facts, seller]], colWidths=[95 * mm, 85 * mm])
    header.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT),
                                ("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                                ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story += [header, Spacer(1, 6 * mm)]
    if sheet.buyer:
        story += [Paragraph(_text(text), strong if n == 0 else body) for n, text in enumerate(sheet.buyer)]
        story.append(Spacer(1, 6 * mm))
    story.append(_table(sheet.columns, sheet.lines, body, strong, [72 * mm, 28 * mm, 22 * mm, 20 * mm, 38 * mm]))
    story.append(Spacer(1, 6 * mm))
    taxes = _table(sheet.tax_columns, (*sheet.tax_lines, (sheet.total[0], "", "", sheet.total[1])), body, strong,
                   [45 * mm, 30 * mm, 30 * mm, 30 * mm], bold_last=True)
    taxes.hAlign = "RIGHT"
    story.append(taxes)
    for note in sheet.notes:
        story += [Spacer(1, 4 * mm), Paragraph(_text(note), body)]
    if sheet.qr:
        story += [Spacer(1, 6 * mm), Paragraph(QR_LEGEND, strong), qr_drawing(sheet.qr)]
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, invariant=1, title=document_title, author=author,
                                 subject=document_title, creator=author, producer="ReportLab", initialFontName=FONT,
                                 leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    document.build(story)
    return out.getvalue()


def _table(columns: tuple[str, ...], rows: Sequence[Sequence[str]], body: ParagraphStyle, strong: ParagraphStyle,
           widths: list[float], *, bold_last: bool = False) -> Table:
    strong_right = ParagraphStyle("strong-right", parent=strong, alignment=TA_RIGHT)
    body_right = ParagraphStyle("body-right", parent=body, alignment=TA_RIGHT)
    data = [[Paragraph(_text(cell), strong if n == 0 else strong_right) for n, cell in enumerate(columns)]]
    data += [[Paragraph(_text(cell), body if n == 0 else body_right) for n, cell in enumerate(row)] for row in rows]
    if bold_last:  # the total
        data[-1] = [Paragraph(_text(cell), strong if n == 0 else strong_right) for n, cell in enumerate(rows[-1])]
    table = Table(data, colWidths=widths[:len(columns)], repeatRows=1)
    style = [("FONTNAME", (0, 0), (-1, -1), FONT),  # Table's own default is Helvetica, a system font
             ("LINEBELOW", (0, 0), (-1, 0), 0.7, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey)]
    if bold_last:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.7, colors.black))
    table.setStyle(TableStyle(style))
    return table


def _text(value: str) -> str:
    """Plain text for a Paragraph, which reads a little markup: what people typed stays text."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
