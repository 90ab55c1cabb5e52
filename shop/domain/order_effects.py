"""What an order's status change causes, in one table: the mail the customer gets, the invoice, the
discount code's use, and the sales figures. The adapter applies these effects in the transaction
that changes the status (shop.adapters.postgres.orders), whatever code path made the change: a
request, the expiry sweep, recovery or an admin. Nothing here reads free text: each change carries a
reason code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shop.domain.orders import OrderStatus


class MailKind(StrEnum):
    """Every mail the outbox sends, spelled once (mail_outbox.kind)."""

    ORDER_PLACED = "order.placed"
    ORDER_PAID = "order.paid"
    ORDER_SHIPPED = "order.shipped"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_EXPIRED = "order.expired"
    ORDER_REFUNDED = "order.refunded"
    ACCOUNT_WELCOME = "account.welcome"
    ACCOUNT_ACTIVATION = "account.activation"  # its link is signed when the mail is written, never stored
    ACCOUNT_EXISTS = "account.exists"  # someone registered an address that already has an account
    PASSWORD_RESET = "account.password_reset"  # noqa: S105 - a mail kind; its link is signed when written


class Reason(StrEnum):
    """Why an order's status changed (order_status_history.reason_code); the free-text reason beside
    it is for people only."""

    CHECKOUT_STARTED = "checkout_started"  # → placing
    PLACED = "placed"  # placing → pending: the checkout committed
    CHECKOUT_FAILED = "checkout_failed"  # placing → failed: refused (stock, a code) or a database down
    ABANDONED = "abandoned"  # placing → failed: the checkout outlived its lease (recovery)
    PAYMENT = "payment"  # pending → paid: the card was charged
    NOTHING_TO_PAY = "nothing_to_pay"  # pending → paid: a 0,00 € order
    PAYMENT_RECORDED = "payment_recorded"  # pending → paid: staff recorded a payment made elsewhere
    SHIPPED = "shipped"
    CUSTOMER = "customer"  # pending → cancelled by the customer
    STAFF = "staff"  # pending → cancelled by staff
    EXPIRED = "expired"  # pending → cancelled: not paid in time (the expiry sweep)
    REFUND = "refund"  # → partially_refunded / refunded


@dataclass(frozen=True)
class Effects:
    mail: MailKind | None = None
    issue_invoice: bool = False  # number it in the year's gapless series
    count_sale: bool = False  # the order's total and lines join the daily sales figures
    release_discount_use: bool = False  # the code's use goes back: the order will never be paid
    event: str | None = None  # the webhook event it is (shop.domain.webhooks), for the endpoints that want it


_STATUS_MAIL = {
    OrderStatus.PAID: MailKind.ORDER_PAID,
    OrderStatus.SHIPPED: MailKind.ORDER_SHIPPED,
    OrderStatus.PARTIALLY_REFUNDED: MailKind.ORDER_REFUNDED,
    OrderStatus.REFUNDED: MailKind.ORDER_REFUNDED,
}


_STATUS_EVENT = {
    OrderStatus.SHIPPED: "order.shipped",
    OrderStatus.PARTIALLY_REFUNDED: "order.refunded",
    OrderStatus.REFUNDED: "order.refunded",
}


def effects_of(from_status: OrderStatus | None, to_status: OrderStatus, reason: Reason) -> Effects:
    """What moving an order from `from_status` to `to_status` for `reason` causes.

    - placing → pending: the "order placed" mail;
    - → paid: an invoice, the sale counted, the "paid" mail;
    - → shipped: the "shipped" mail;
    - → cancelled: the discount use released, and the "expired" mail when the reason is expiry,
      else the "cancelled" mail;
    - → failed: the discount use released, no mail (the shopper saw the refusal);
    - → partially_refunded / refunded: the "refunded" mail (a fully refunded order keeps its
      discount use: it was paid; the refund's lines leave the sales figures as they are recorded).
    Each change but a failed checkout is also a webhook event (order.placed, order.paid, …).
    """
    if to_status is OrderStatus.PENDING:
        placed = from_status is OrderStatus.PLACING
        return Effects(mail=MailKind.ORDER_PLACED if placed else None, event="order.placed" if placed else None)
    if to_status is OrderStatus.PAID:
        return Effects(mail=MailKind.ORDER_PAID, issue_invoice=True, count_sale=True, event="order.paid")
    if to_status is OrderStatus.CANCELLED:
        kind = MailKind.ORDER_EXPIRED if reason is Reason.EXPIRED else MailKind.ORDER_CANCELLED
        return Effects(mail=kind, release_discount_use=True, event="order.cancelled")
    if to_status is OrderStatus.FAILED:
        return Effects(release_discount_use=True)
    return Effects(mail=_STATUS_MAIL.get(to_status), event=_STATUS_EVENT.get(to_status))
