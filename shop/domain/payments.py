"""Payment rules. The shop never sees a card: the customer pays on the provider's own page
(docs/payments.md), and the provider tells the shop the outcome in a signed notification.

A payment attempt is a `payments` row, started `pending` before the customer is sent to the
provider, and decided once by the first genuine notification about it:
    pending → succeeded   the order was pending and within its deadline: it becomes paid
    pending → declined    the provider refused the card
    pending → orphaned    money arrived for an order that can no longer take it (expired, cancelled,
                          or already paid by another attempt): refunded automatically, then
    orphaned → refunded
Any later notification about a decided attempt changes nothing (a duplicate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from shop.domain.errors import N_, InvalidInput, LimitReached

# The number a provider knows an attempt by: Redsys wants 4 to 12 characters, the first 4 digits.
_PROVIDER_ORDER = re.compile(r"^[0-9]{12}$")


@dataclass(frozen=True)
class RefundResult:
    reference: str


@dataclass(frozen=True)
class PaymentRequest:
    """What the provider's page is asked to charge."""
    provider_order: str
    order_id: int
    amount: Decimal  # euros, IVA included
    description: str
    return_url: str  # where the customer's browser comes back
    notify_url: str  # where the provider posts the signed outcome


@dataclass(frozen=True)
class ProviderRedirect:
    """Where the customer's browser goes to pay: a link (GET) or a form the browser posts (Redsys)."""
    url: str
    method: str = "GET"
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PaymentNotice:
    """A provider's outcome for one attempt, once its signature has been checked."""
    provider_order: str
    succeeded: bool
    amount: Decimal
    reference: str | None = None  # the provider's id of the charge (what a refund names)
    decline_reason: str | None = None


class ForgedNotice(InvalidInput):
    """A notification whose signature does not check out: refused (400) and audited."""
    code = "forged_notification"


class IgnoredNotice(Exception):  # noqa: N818 - a notice, like ForgedNotice
    """A genuine notification about something the shop does not act on (another kind of event, or an
    outcome that follows later): acknowledged, and nothing changes."""


class Settlement(StrEnum):
    PAID = "paid"
    DECLINED = "declined"
    DUPLICATE = "duplicate"
    ORPHANED = "orphaned"


def provider_order_number(payment_id: int) -> str:
    """The attempt's number at the provider: its payment id, 12 digits (unique, never reused)."""
    return f"{payment_id:012d}"


def parse_provider_order(raw: object) -> str:
    if not isinstance(raw, str) or not _PROVIDER_ORDER.match(raw):
        raise ForgedNotice(N_("That payment notification does not name a payment of this shop."))
    return raw


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def from_cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def settle(attempt_pending: bool, attempt_amount: Decimal, notice: PaymentNotice, order_payable: bool) -> Settlement:
    """What a genuine notice does to its attempt. `order_payable`: the order is pending, within its
    deadline, and not paid by another attempt. Money that arrives for anything else — or for another
    amount than was asked — is kept nowhere: it is refunded."""
    if not attempt_pending:
        return Settlement.DUPLICATE
    if not notice.succeeded:
        return Settlement.DECLINED
    if not order_payable or notice.amount != attempt_amount:
        return Settlement.ORPHANED
    return Settlement.PAID


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
