"""Which invoice an order gets, and who it is made out to.

Spanish rules (RD 1619/2012): a *simplified* invoice (factura simplificada, series FS) is allowed
only up to a limit, 400 € IVA included in general (SIMPLIFIED_INVOICE_LIMIT; 3.000 € for some retail).
Above it, or whenever the customer asks, the invoice is a *full* one (factura completa, series F),
made out to the customer: name, tax id (NIF, NIE or CIF) and fiscal address. Each series numbers
its invoices per year, without gaps.

Tax ids are checked by their control character, as the AEAT computes it:
- NIF (Spanish citizens): 8 digits and a letter, "TRWAGMYFPDXBNJZSQVHLCKE"[number % 23];
- NIE (foreigners): X, Y or Z (read as 0, 1, 2) then 7 digits, and the same letter;
- CIF (companies): an organisation letter, 7 digits and a control digit or letter, from the sum of
  the even-position digits and the doubled odd-position digits' digit sums.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from shop.domain.errors import N_, InvalidInput
from shop.domain.json import JsonObject

DEFAULT_SIMPLIFIED_LIMIT = Decimal("400.00")
_NIF_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_NIF = re.compile(r"^[0-9]{8}[A-Z]$")
_NIE = re.compile(r"^[XYZ][0-9]{7}[A-Z]$")
_CIF = re.compile(r"^[ABCDEFGHJNPQRSUVW][0-9]{7}[0-9A-J]$")
_CIF_LETTER_ONLY = "PQRSNW"  # public bodies, foreign entities…: the control is a letter
_CIF_DIGIT_ONLY = "ABEH"  # companies (S.A., S.L.), communities of goods…: the control is a digit
_MAX_NAME, _MAX_ADDRESS = 120, 300


def normalize_tax_id(raw: object) -> str:
    """As typed ("12.345.678-z ") → as compared and printed ("12345678Z")."""
    text = raw if isinstance(raw, str) else ""
    return re.sub(r"[\s.\-/]", "", text).upper()


def tax_id_kind(tax_id: str) -> str | None:
    """"NIF", "NIE" or "CIF" when `tax_id` (normalized) is valid, its control character included;
    None otherwise."""
    if _NIF.match(tax_id):
        return "NIF" if _NIF_LETTERS[int(tax_id[:8]) % 23] == tax_id[8] else None
    if _NIE.match(tax_id):
        number = int(str("XYZ".index(tax_id[0])) + tax_id[1:8])
        return "NIE" if _NIF_LETTERS[number % 23] == tax_id[8] else None
    if _CIF.match(tax_id):
        return "CIF" if _cif_control_matches(tax_id) else None
    return None


def _cif_control_matches(tax_id: str) -> bool:
    digits = tax_id[1:8]
    even = sum(int(d) for d in digits[1::2])
    odd = sum(sum(divmod(int(d) * 2, 10)) for d in digits[0::2])
    control = (10 - (even + odd) % 10) % 10
    as_digit, as_letter = str(control), "JABCDEFGHI"[control]
    given, kind = tax_id[8], tax_id[0]
    if kind in _CIF_LETTER_ONLY:
        return given == as_letter
    if kind in _CIF_DIGIT_ONLY:
        return given == as_digit
    return given in (as_digit, as_letter)


@dataclass(frozen=True)
class InvoiceParty:
    """Whom a full invoice is made out to, as the customer gave it at checkout."""
    name: str
    tax_id: str
    address: str

    def snapshot(self) -> JsonObject:
        return {"name": self.name, "tax_id": self.tax_id, "address": self.address}

    @classmethod
    def from_snapshot(cls, data: JsonObject) -> InvoiceParty:
        return cls(str(data["name"]), str(data["tax_id"]), str(data["address"]))


def parse_invoice_party(raw_name: object, raw_tax_id: object, raw_address: object) -> InvoiceParty:
    """The data of a full invoice, checked: a name, a valid NIF, NIE or CIF, and a fiscal address."""
    name = " ".join(raw_name.split()) if isinstance(raw_name, str) else ""
    address = " ".join(raw_address.split()) if isinstance(raw_address, str) else ""
    if not name or len(name) > _MAX_NAME:
        raise InvalidInput(N_("A full invoice needs the name or company name it is made out to (at most %(max)d "
                              "characters)."), max=_MAX_NAME)
    tax_id = normalize_tax_id(raw_tax_id)
    if tax_id_kind(tax_id) is None:
        raise InvalidInput(N_("%(tax_id)s is not a valid NIF, NIE or CIF: check its letter or last digit."),
                           tax_id=tax_id[:20] or "—")
    if not address or len(address) > _MAX_ADDRESS:
        raise InvalidInput(N_("A full invoice needs the fiscal address (at most %(max)d characters)."),
                           max=_MAX_ADDRESS)
    return InvoiceParty(name, tax_id, address)


class FullInvoiceNeeded(InvalidInput):
    """An order over the simplified invoice's limit placed without whom its invoice is made out to."""
    code = "full_invoice_needed"


def needs_full_invoice(total: Decimal, limit: Decimal) -> bool:
    """Whether an order of `total` (IVA included) is over what a simplified invoice may cover."""
    return total > limit
