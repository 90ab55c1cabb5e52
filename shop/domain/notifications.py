"""Rules for the mails the shop owes its customers: when to try again, and how much to send while
the machine is busy."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shop.domain.tracking import tracking_url

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: 30 s, 1 min, 2 min, … at most 1 h."""
    return float(min(FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1), LONGEST_RETRY_SECONDS))


# Mails one sender hands over per pass (every MAIL_SEND_INTERVAL_SECONDS), and while the machine's
# CPU was at least BUSY_CPU_PERCENT busy since the last pass: then checkout comes first and a burst's
# mails wait for it to end (docs/mail.md), but they still flow (never starved: MIN per pass).
MAILS_PER_PASS = 200
MAILS_PER_BUSY_PASS = 20
BUSY_CPU_PERCENT = 90.0


def mails_this_pass(cpu_busy_percent: float | None) -> int:
    """How many mails a sender may hand over now, given how busy the CPU was since its last pass
    (None: not known, as on a platform that does not say)."""
    if cpu_busy_percent is not None and cpu_busy_percent >= BUSY_CPU_PERCENT:
        return MAILS_PER_BUSY_PASS
    return MAILS_PER_PASS


@dataclass(frozen=True)
class MailLine:
    """A line of an order as its mails list it."""

    product_name: str
    unit_price: Decimal
    quantity: int
    discount_amount: Decimal
    variant_label: str | None = None  # "Talla: M", for a product sold in options

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity - self.discount_amount

    @property
    def description(self) -> str:
        return f"{self.product_name} ({self.variant_label})" if self.variant_label else self.product_name


@dataclass(frozen=True)
class OrderForMail:
    """What an order's mails show: its totals, how it travels and was paid, its lines, the customer's
    name (read for a whole batch of mails at once)."""

    order_id: int
    full_name: str
    total_amount: Decimal
    refunded_amount: Decimal
    discount_code: str | None
    carrier: str | None
    tracking_number: str | None
    shipping_method: str | None
    shipping_amount: Decimal
    payment_method: str | None
    items: tuple[MailLine, ...] = ()

    @property
    def tracking_url(self) -> str | None:
        """The carrier's page for the parcel, when the carrier is one the shop knows."""
        return tracking_url(self.carrier, self.tracking_number)


@dataclass(frozen=True)
class RefundForMail:
    """What a refund's mail says of it: its own amount, and the order's refunded total once it was made."""

    amount: Decimal
    refunded_so_far: Decimal
