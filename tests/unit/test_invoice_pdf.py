"""The invoice PDF is the same bytes for the same invoice: in one process, and in another one."""

from __future__ import annotations

import subprocess
import sys

from shop.adapters.invoice_pdf import InvoiceSheet, render_invoice_pdf

SHEET = InvoiceSheet(
    title="Factura simplificada", facts=(("Número", "FS-2026-000042"), ("Fecha", "7 de diciembre de 2026")),
    seller=("Tienda Híbrida S.L.", "NIF: B00000000", "Calle Mayor 1, 28013 Madrid"),
    columns=("Producto", "Precio", "Cantidad", "IVA", "Importe"),
    lines=(("Taza esmaltada", "10,00 €", "3", "21 %", "30,00 €"), ("Libro", "19,95 €", "1", "4 %", "19,95 €")),
    tax_columns=("IVA", "Base", "Cuota", "Total"),
    tax_lines=(("21 %", "24,79 €", "5,21 €", "30,00 €"), ("4 %", "19,18 €", "0,77 €", "19,95 €")),
    total=("Total (IVA incluido)", "49,95 €"))


def _render() -> bytes:
    return render_invoice_pdf(SHEET, document_title="Factura FS-2026-000042", author="Tienda Híbrida S.L.")


def test_the_same_invoice_gives_the_same_bytes_in_this_process_and_another():
    first = _render()
    assert first.startswith(b"%PDF-") and first == _render()
    other = subprocess.run([sys.executable, "-c", "import sys, tests.unit.test_invoice_pdf as t; "
                            "sys.stdout.buffer.write(t._render())"], capture_output=True, check=True).stdout
    assert other == first


def test_another_invoice_gives_other_bytes():
    changed = InvoiceSheet(**{**SHEET.__dict__, "facts": (("Número", "FS-2026-000043"),)})
    assert render_invoice_pdf(changed, document_title="x", author="y") != _render()


def test_the_fonts_come_with_the_package_and_are_embedded():
    pdf = _render()
    assert b"/FontFile2" in pdf  # a TrueType font embedded (a subset of Vera, shipped inside ReportLab)
    assert b"/BaseFont /Helvetica" not in pdf  # no font the reader's system would have to supply
