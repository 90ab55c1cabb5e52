"""Payment rules: card numbers are checked before any provider sees them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shop.domain.errors import N_, InvalidInput, LimitReached

_CARD = re.compile(r"^\d{12,19}$")


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str | None
    decline_reason: str | None = None


@dataclass(frozen=True)
class RefundResult:
    reference: str


def parse_card_number(raw: object) -> str:
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


@dataclass(frozen=True)
class PaymentAttemptLimits:
    """Card testing guard: declined attempts allowed per order and per account within `window_minutes`;
    once reached, paying is paused until the oldest of them leaves the window. 0 means no limit."""
    per_order: int = 5
    per_account: int = 10
    window_minutes: int = 15

    def check(self, order_declines: int, account_declines: int) -> None:
        """Before charging: raise LimitReached while paying is paused."""
        if (self.per_order and order_declines >= self.per_order) or \
                (self.per_account and account_declines >= self.per_account):
            raise LimitReached(N_("Too many declined payments. Paying is paused for up to %(minutes)d minutes; "
                                  "then try again with another card."), minutes=self.window_minutes)

    def locks_after(self, order_declines: int, account_declines: int) -> bool:
        """After one more decline: whether that decline is the one that pauses paying (audited once)."""
        return bool(self.per_order and order_declines + 1 == self.per_order) or \
            bool(self.per_account and account_declines + 1 == self.per_account)
