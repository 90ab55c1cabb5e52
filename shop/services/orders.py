"""The order lifecycle after checkout: pay (on the provider's page, settled by its notice), cancel
(stock back exactly once), ship, expire.

Every transition happens under SELECT … FOR UPDATE on the order row, so a payment, a cancellation
and the expiry sweep that meet on one order are applied one after the other, never interleaved.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from decimal import Decimal

from shop import failpoints
from shop.adapters.errors import ProviderUnavailable, StoreError
from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import Role, User
from shop.domain.errors import N_, Conflict, NotFound
from shop.domain.order_effects import Reason
from shop.domain.orders import Order, OrderStatus, Payment, PaymentStatus
from shop.domain.payments import (
    PaymentAttemptLimits,
    PaymentNotice,
    PaymentRequest,
    ProviderRedirect,
    Settlement,
    provider_order_number,
    settle,
)
from shop.services.ports import OrderRecords, PaymentGateway, ReturnsStore

log = logging.getLogger(__name__)


def _visible_order(order: Order | None, actor: User | None) -> Order:
    """Customers see only their own orders: someone else's order number is simply not found."""
    if order is None or not order.visible_to(actor):
        raise NotFound(N_("Order not found."))
    return order


def order_for(db: OrderRecords, actor: User, order_id: int) -> Order:
    return _visible_order(db.orders.get(order_id), actor)


def cancel_order(db: OrderRecords, store: ReturnsStore, actor: User | None, order_id: int,
                 reason: str = "cancelled by the customer") -> None:
    """pending → cancelled, then the units go back to stock (finished by recovery if interrupted)."""
    if actor is not None and actor.role is Role.AUDITOR:
        raise NotFound(N_("Order not found."))
    with db.orders.locked(order_id) as locked:
        order = _visible_order(locked.order, actor)
        order.check_can_become(OrderStatus.CANCELLED)
        by_customer = actor is not None and actor.user_id == order.user_id
        locked.set_status(OrderStatus.CANCELLED, actor.user_id if actor else None, reason,
                          Reason.CUSTOMER if by_customer else Reason.STAFF)
    failpoints.hit("cancel.after_status")
    return_stock_of_cancelled(db, store, order_id)


def return_stock_of_cancelled(db: OrderRecords, store: ReturnsStore, order_id: int) -> bool:
    """Give a cancelled order's units back; idempotent (each product remembers the return)."""
    try:
        for item in db.orders.items(order_id):
            store.stock.return_cancelled(item.product_id, order_id, item.quantity, item.variant)
            failpoints.hit("cancel.after_return")
    except StoreError as error:
        log.warning("order %s: stock return left for recovery: %s", order_id, error)
        return False
    db.orders.mark_stock_returned(order_id)
    return True


@dataclass(frozen=True)
class PaymentStart:
    """Where the customer goes to pay (`redirect`), or None when there was nothing to charge and the
    order is paid already (a discount code took off everything)."""
    order_id: int
    redirect: ProviderRedirect | None


def begin_payment(db: OrderRecords, provider: PaymentGateway, actor: User, order_id: int, urls: PaymentUrls,
                  limits: PaymentAttemptLimits | None = None) -> PaymentStart:
    """Send the customer to the provider's page for a pending order: a new attempt is written
    `pending` under the order's lock, then the provider is asked for the page outside it (a real
    provider is a network call). Declined attempts are counted per order and per account (under the
    account's row lock) and paying pauses at the limit (card testing)."""
    with db.orders.locked(order_id, account=actor.user_id if limits else None) as locked:
        order = _visible_order(locked.order, actor)
        if actor.role is not Role.CUSTOMER or not order.belongs_to(actor.user_id):
            raise NotFound(N_("Order not found."))
        if order.status is OrderStatus.PAID or order.status is OrderStatus.SHIPPED:
            raise Conflict(N_("Order %(order)d is already paid."), order=order_id)
        order.check_can_become(OrderStatus.PAID)
        if locked.expired():
            raise Conflict(N_("Order %(order)d expired before it was paid; its units went back to stock."),
                           order=order_id)
        if order.total_amount == 0:
            # A code took off everything (and nothing is shipped for a fee): there is nothing to
            # charge and a payment of 0,00 is no payment. The customer confirms; the order is paid,
            # invoiced at 0,00, and its units stay sold.
            locked.set_status(OrderStatus.PAID, actor.user_id, "nothing to pay", Reason.NOTHING_TO_PAY)
            return PaymentStart(order_id, None)
        if limits:
            limits.check(*locked.attempts_counted_as_declines(actor.user_id, limits.window_minutes))
        provider_order = locked.start_payment(order.total_amount, provider.name, provider_order_number)
    redirect = provider.start(PaymentRequest(provider_order, order_id, order.total_amount,
                                             urls.description, urls.return_url, urls.notify_url))
    return PaymentStart(order_id, redirect)


@dataclass(frozen=True)
class PaymentUrls:
    description: str  # what the provider's page says is being paid
    return_url: str
    notify_url: str


@dataclass(frozen=True)
class NoticeOutcome:
    order_id: int
    payment_id: int
    settlement: Settlement
    amount: Decimal
    refund_reference: str | None = None  # orphaned money given back at once
    pauses_paying: bool = False  # this decline is the one that pauses paying


def settle_notice(db: OrderRecords, provider: PaymentGateway, notice: PaymentNotice,
                  limits: PaymentAttemptLimits | None = None) -> NoticeOutcome:
    """Apply a provider's genuine notice to its attempt, once: a notice that arrives twice, late or
    out of order changes nothing the second time, never marks an order paid twice, and money that
    arrives for an order that can no longer take it (expired, cancelled, paid by another attempt) is
    refunded at once — or, if the provider cannot be reached, by `refund_orphaned_payments` later."""
    attempt = db.orders.payment_attempt(provider.name, notice.provider_order)
    if attempt is None or attempt.order_id is None:
        raise NotFound(N_("That payment notification does not name a payment of this shop."))
    order_id = attempt.order_id
    with db.orders.locked(order_id) as locked:
        order = locked.order
        current = locked.payment(attempt.payment_id)
        if order is None or current is None:
            raise NotFound(N_("That payment notification does not name a payment of this shop."))
        payable = (order.status is OrderStatus.PENDING and not locked.expired()
                   and locked.successful_payment() is None)
        settlement = settle(current.status is PaymentStatus.PENDING, current.amount, notice, payable)
        pauses = False
        if settlement is Settlement.PAID:
            locked.decide_payment(current.payment_id, PaymentStatus.SUCCEEDED, notice.reference)
            locked.set_status(OrderStatus.PAID, order.user_id, "payment succeeded", Reason.PAYMENT)
            failpoints.hit("pay.before_commit")  # the invoice number is taken, not yet committed
        elif settlement is Settlement.DECLINED:
            if limits:  # the counts include this attempt (still pending): the declines before it are one fewer
                for_order, for_account = locked.attempts_counted_as_declines(order.user_id, limits.window_minutes)
                pauses = limits.locks_after(for_order - 1, for_account - 1)
            locked.decide_payment(current.payment_id, PaymentStatus.DECLINED, None, notice.decline_reason)
        elif settlement is Settlement.ORPHANED:
            locked.decide_payment(current.payment_id, PaymentStatus.ORPHANED, notice.reference)
    outcome = NoticeOutcome(order_id, current.payment_id, settlement, notice.amount, pauses_paying=pauses)
    if settlement is Settlement.ORPHANED:
        refunded = refund_orphaned_payment(db, provider, order_id, current.payment_id)
        outcome = dataclasses.replace(outcome, refund_reference=refunded)
    return outcome


def refund_orphaned_payment(db: OrderRecords, provider: PaymentGateway, order_id: int, payment_id: int) -> str | None:
    """Give back money the shop cannot keep (an orphaned attempt): the provider's refund, keyed by the
    attempt so asking twice refunds once, then the attempt is marked refunded. None if the provider
    could not be reached: the attempt stays orphaned for the next try (recovery, reconciliation)."""
    with db.orders.locked(order_id) as locked:
        payment = locked.payment(payment_id)
        if payment is None or payment.status is not PaymentStatus.ORPHANED or not payment.provider_reference:
            return None
        try:
            result = provider.refund(payment.provider_reference, payment.amount, f"orphaned-payment-{payment_id}")
        except ProviderUnavailable as error:
            log.warning("payment %s of order %s: refund left for later: %s", payment_id, order_id, error)
            return None
        locked.decide_payment(payment_id, PaymentStatus.REFUNDED, None, "refunded: the order could not take it")
    return result.reference


def mark_shipped(db: OrderRecords, actor: User, order_id: int, shipment: tuple[str, str] | None = None) -> None:
    """paid → shipped: staff only; `shipment` is the (carrier, tracking number) the customer is told
    (shop.domain.orders.parse_shipment; the staff form always gives one)."""
    if actor.role is not Role.ADMIN:
        raise NotFound(N_("Order not found."))
    with db.orders.locked(order_id) as locked:
        order = _visible_order(locked.order, actor)
        order.check_can_become(OrderStatus.SHIPPED)
        locked.record_shipment(*(shipment or (None, None)))
        locked.set_status(OrderStatus.SHIPPED, actor.user_id,
                          f"shipped: {shipment[0]} {shipment[1]}"[:200] if shipment else "shipped", Reason.SHIPPED)


def mark_paid(db: OrderRecords, actor: User, order_id: int) -> None:
    """pending → paid by staff, for a payment received outside the shop (bank transfer, cash):
    recorded as a manual payment by that admin, under the same lock and unique index as card payments."""
    if actor.role is not Role.ADMIN:
        raise NotFound(N_("Order not found."))
    with db.orders.locked(order_id) as locked:
        order = _visible_order(locked.order, actor)
        order.check_can_become(OrderStatus.PAID)
        if order.total_amount > 0:
            locked.record_payment(order.total_amount, PaymentStatus.SUCCEEDED, "manual", f"staff:{actor.user_id}",
                                  None, None)
        locked.set_status(OrderStatus.PAID, actor.user_id, "payment recorded by staff", Reason.PAYMENT_RECORDED)


def staff_actions(order: Order) -> tuple[str, ...]:
    """What an admin can do to this order now: "paid", "shipped", "cancel"."""
    moves = {"paid": OrderStatus.PAID, "shipped": OrderStatus.SHIPPED, "cancel": OrderStatus.CANCELLED}
    return tuple(name for name, target in moves.items() if order.may_become(target))


def expire_order(db: OrderRecords, store: ReturnsStore, order_id: int) -> bool:
    """Cancel an unpaid order whose time ran out (re-checked under the lock: it may just have been paid)."""
    with db.orders.locked(order_id) as locked:
        if locked.order is None or locked.order.status is not OrderStatus.PENDING:
            return False
        if not locked.expired():
            return False
        locked.set_status(OrderStatus.CANCELLED, None, "expired: not paid in time", Reason.EXPIRED)
    return_stock_of_cancelled(db, store, order_id)
    return True



@dataclass(frozen=True)
class Reconciliation:
    """What the shop's books say that a person should look at, by kind (docs/payments.md)."""
    orphaned: list[Payment]  # money received for an order that could not take it, not yet given back
    unconfirmed: list[Payment]  # attempts the provider never reported on (check its back office)
    refunded_now: list[int]  # orphaned payments refunded by this pass
    orders_without_payment: list[int]  # paid orders with no succeeded payment behind them


def reconcile_payments(db: PostgresDatabase, provider: PaymentGateway, *, refund: bool = False,
                       unconfirmed_after_minutes: int = 60) -> Reconciliation:
    """Payments without a paid order (money to give back, or attempts never confirmed) and paid
    orders without a payment. With `refund`, each orphaned payment of this provider is refunded now
    (idempotent: a provider asked twice refunds once)."""
    refunded = []
    if refund:
        for payment in db.orders.payments_waiting(PaymentStatus.ORPHANED):
            if payment.method == provider.name and payment.order_id is not None and \
                    refund_orphaned_payment(db, provider, payment.order_id, payment.payment_id):
                refunded.append(payment.payment_id)
    return Reconciliation(db.orders.payments_waiting(PaymentStatus.ORPHANED),
                          db.orders.payments_waiting(PaymentStatus.PENDING, unconfirmed_after_minutes),
                          refunded, db.orders.paid_orders_without_payment())
