"""VERI*FACTU records of the invoices the shop issues (RD 1007/2023, Orden HAC/1177/2024): each invoice
or credit note issued writes a *registro de alta*, and a cancelled one a *registro de anulación*,
fingerprinted with SHA-256 and chained to the record before.

The fingerprint follows the AEAT's "Especificaciones técnicas para la generación de la huella o hash
de los registros de facturación" (v0.1.2): the fields, in a fixed order, written `name=value` and
joined with `&`, values trimmed, UTF-8, SHA-256, upper-case hexadecimal. Dates are `dd-mm-yyyy`,
amounts have two decimals and a point, and the time the record was generated is ISO 8601 with its
UTC offset. The first record of a chain has an empty `Huella`. `tests/unit/test_verifactu.py`
reproduces the specification's worked examples byte for byte.

The QR code printed on each invoice follows "Características del QR y especificaciones del servicio
de cotejo" (v0.5.0): the AEAT's cotejo address with exactly `nif`, `numserie`, `fecha` and
`importe`, each URL-encoded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

QR_PRODUCTION = "https://www2.agenciatributaria.gob.es/wlpl/TIKE-CONT/ValidarQR"
QR_TESTING = "https://prewww2.aeat.es/wlpl/TIKE-CONT/ValidarQR"


def issue_date(day: dt.date) -> str:
    return day.strftime("%d-%m-%Y")


def amount(value: Decimal) -> str:
    return f"{value:.2f}"


def generated_at(at: dt.datetime) -> str:
    """The record's generation time as the specification writes it: seconds, with the offset."""
    if at.tzinfo is None:
        raise ValueError("a record's time needs its UTC offset")
    return at.replace(microsecond=0).isoformat()


def _fingerprint(fields: list[tuple[str, str]]) -> str:
    text = "&".join(f"{name}={value.strip()}" for name, value in fields)
    return hashlib.sha256(text.encode("utf-8")).hexdigest().upper()


@dataclass(frozen=True)
class AltaRecord:
    """A registro de alta: an invoice (or credit note) issued."""
    issuer_tax_id: str  # IDEmisorFactura: the seller's NIF
    number: str  # NumSerieFactura: series and number as printed
    issued_on: dt.date  # FechaExpedicionFactura
    kind: str  # TipoFactura: F1, F2, R1 … R5
    tax_total: Decimal  # CuotaTotal
    total: Decimal  # ImporteTotal
    previous: str  # Huella of the record before ("" for the first)
    generated: str  # FechaHoraHusoGenRegistro, as written by `generated_at`

    def fingerprint(self) -> str:
        return _fingerprint([("IDEmisorFactura", self.issuer_tax_id), ("NumSerieFactura", self.number),
                             ("FechaExpedicionFactura", issue_date(self.issued_on)), ("TipoFactura", self.kind),
                             ("CuotaTotal", amount(self.tax_total)), ("ImporteTotal", amount(self.total)),
                             ("Huella", self.previous), ("FechaHoraHusoGenRegistro", self.generated)])


@dataclass(frozen=True)
class AnulacionRecord:
    """A registro de anulación: an invoice withdrawn."""
    issuer_tax_id: str  # IDEmisorFacturaAnulada
    number: str  # NumSerieFacturaAnulada
    issued_on: dt.date  # FechaExpedicionFacturaAnulada
    previous: str
    generated: str

    def fingerprint(self) -> str:
        return _fingerprint([("IDEmisorFacturaAnulada", self.issuer_tax_id), ("NumSerieFacturaAnulada", self.number),
                             ("FechaExpedicionFacturaAnulada", issue_date(self.issued_on)),
                             ("Huella", self.previous), ("FechaHoraHusoGenRegistro", self.generated)])


@dataclass(frozen=True)
class StoredAlta:
    """A record as stored, and its document's fields as they stand now (None: the document is gone)."""
    record_id: int
    record: AltaRecord
    hash: str
    now: AltaRecord | None


def chain_problems(stored: Sequence[StoredAlta], head: str) -> list[str]:
    """What is wrong with a chain of records, in its order (empty: it holds). Each record must chain
    to the one before, still have its fingerprint, and still describe its document; the head must
    be the last record's (a record removed from the end shows there)."""
    problems, previous = [], ""
    for item in stored:
        if item.record.previous != previous:
            problems.append(f"record {item.record_id} does not chain to the record before it")
        if item.record.fingerprint() != item.hash:
            problems.append(f"record {item.record_id} was changed after it was written (its fingerprint differs)")
        if item.now is None:
            problems.append(f"record {item.record_id}: its invoice or credit note is gone")
        elif item.now != item.record:
            changed = [name for name in ("number", "issued_on", "kind", "tax_total", "total", "generated")
                       if getattr(item.now, name) != getattr(item.record, name)]
            problems.append(f"record {item.record_id}: {item.record.number} no longer matches its record "
                            f"({', '.join(changed)})")
        previous = item.hash
    if head != previous:
        problems.append("the chain's head is not its last record: a record was removed or added by hand")
    return problems


def qr_url(issuer_tax_id: str, number: str, issued_on: dt.date, total: Decimal, *, production: bool = True) -> str:
    """The address the invoice's QR code holds: the AEAT's cotejo service, with its four parameters."""
    base = QR_PRODUCTION if production else QR_TESTING
    params = [("nif", issuer_tax_id), ("numserie", number), ("fecha", issue_date(issued_on)),
              ("importe", amount(total))]
    return base + "?" + "&".join(f"{name}={quote(value, safe='')}" for name, value in params)
