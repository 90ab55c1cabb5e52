"""Payment rules: card numbers are checked before any provider sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shop.domain.errors import N_, InvalidInput

_CARD = re.compile(r"^\d{12,19}$")


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str | None
    decline_reason: str | None = None


def parse_card_number(raw) -> str:
    """Digits only (spaces and dashes allowed in input), 12–19 long, passing the Luhn check."""
    digits = re.sub(r"[\s-]", "", raw) if isinstance(raw, str) else ""
    if not _CARD.match(digits) or not luhn_valid(digits):
        raise InvalidInput(N_("That card number is not valid; check the digits."))
    return digits


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
