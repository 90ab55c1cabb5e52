"""The order lifecycle after checkout: pay, cancel (stock back exactly once), ship, expire.

Every transition happens under SELECT … FOR UPDATE on the order row, so a payment, a cancellation
and the expiry sweep that meet on one order are applied one after the other, never interleaved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shop import failpoints
from shop.adapters.errors import StoreError
from shop.domain.accounts import Role, User
from shop.domain.errors import N_, Conflict, NotFound
from shop.domain.order_effects import Reason
from shop.domain.orders import Order, OrderStatus, PaymentStatus
from shop.domain.payments import PaymentAttemptLimits, parse_card_number
from shop.services.ports import OrderRecords, PaymentGateway, ReturnsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaymentOutcome:
    order_id: int
    succeeded: bool
    decline_reason: str | None
    locked: bool = False  # this decline paused paying (PaymentAttemptLimits): worth an audit entry


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


def pay_order(db: OrderRecords, provider: PaymentGateway, actor: User, order_id: int,
              raw_card_number: str, limits: PaymentAttemptLimits | None = None) -> PaymentOutcome:
    """Charge a pending order once. The row lock and a unique index make a second payment impossible;
    a declined attempt is recorded and leaves the order pending. With `limits`, declined attempts are
    counted per order and per account (under the account's row lock) and paying pauses at the limit.

    The simulated provider answers instantly, so it is called under the lock. A real provider would
    be called between two transactions with the payment row's id as its idempotency key.
    """
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
            return PaymentOutcome(order_id, True, None)
        card = parse_card_number(raw_card_number)
        declines = locked.declined_payments(actor.user_id, limits.window_minutes) if limits else (0, 0)
        if limits:
            limits.check(*declines)
        result = provider.charge(order.total_amount, card, reference=f"order-{order_id}")
        outcome = PaymentStatus.SUCCEEDED if result.succeeded else PaymentStatus.DECLINED
        locked.record_payment(order.total_amount, outcome, provider.name, result.reference, card[-4:],
                              result.decline_reason)
        if result.succeeded:
            locked.set_status(OrderStatus.PAID, actor.user_id, "payment succeeded", Reason.PAYMENT)
        failpoints.hit("pay.before_commit")  # the invoice number is taken, not yet committed
    paused = limits is not None and not result.succeeded and limits.locks_after(*declines)
    return PaymentOutcome(order_id, result.succeeded, result.decline_reason, locked=paused)


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

