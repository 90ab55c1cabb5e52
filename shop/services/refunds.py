"""Refunding a paid or shipped order, whole or by line, and putting returned goods back in stock.

The money side happens under the order's row lock in one transaction: the refundable units and
amounts are read and decided there (shop.domain.refunds), the payment provider is asked to refund
(idempotent by the refund's key), and the refund, the lines' and order's refunded totals and the new
status are written together. Two admins clicking at once are served one after the other, and the
second sees what the first refunded. Goods are restocked after the commit, once per refund (a
marker per refund on each product); if that is interrupted, the recovery pass finishes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from shop import failpoints
from shop.adapters.errors import StoreError
from shop.domain import markers
from shop.domain.accounts import Role, User
from shop.domain.errors import N_, Conflict, NotFound
from shop.domain.order_effects import Reason
from shop.domain.orders import OrderStatus, check_transition, parse_idempotency_key
from shop.domain.refunds import RefundRequest, refund_amounts
from shop.services.ports import OrderRecords, PaymentGateway, ReturnsStore

log = logging.getLogger(__name__)

REFUNDABLE = {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.PARTIALLY_REFUNDED}


@dataclass(frozen=True)
class RefundOutcome:
    refund_id: int
    amount: Decimal
    status: OrderStatus
    replayed: bool = False


def refund_order(db: OrderRecords, store: ReturnsStore, provider: PaymentGateway, actor: User, order_id: int,
                 request: RefundRequest, idempotency_key: str, *, full: bool) -> RefundOutcome:
    """Refund units of a paid or shipped order (every unit not refunded yet when `full`)."""
    if actor.role is not Role.ADMIN:
        raise NotFound(N_("Order not found."))
    key = parse_idempotency_key(idempotency_key)
    with db.orders.locked(order_id) as locked:
        order = locked.order
        if order is None:
            raise NotFound(N_("Order not found."))
        existing = locked.refund_by_key(key)
        if existing is not None:  # the same form sent twice: the refund it made, nothing more
            if existing.order_id != order_id:
                raise Conflict(N_("That refund form belongs to another order; reload the page."))
            return RefundOutcome(existing.refund_id, existing.amount, order.status, True)
        status = order.status
        if status is OrderStatus.REFUNDED:
            raise Conflict(N_("Everything in this order has already been refunded."))
        if status not in REFUNDABLE:
            raise Conflict(N_("Only paid or shipped orders can be refunded."))
        lines = locked.refundable_lines()
        # A full refund returns the shipping too (once); a refund by line never does.
        shipping_back = order.shipping_amount if full and not order.shipping_refunded else Decimal("0.00")
        if full and shipping_back and not any(line.refundable for line in lines):
            amounts = {}  # only the shipping is left to give back
        else:
            amounts = refund_amounts(lines, request, full=full)
        total = sum((money for _, money in amounts.values()), Decimal("0.00")) + shipping_back
        payment = locked.successful_payment()
        reference = None
        if payment is not None and payment.method == provider.name and payment.provider_reference:
            # Under the lock, like the charge: the simulated provider answers at once, and the
            # refund's key makes a repeated call return the same refund (a real provider would be
            # called between two transactions, with this key).
            reference = provider.refund(payment.provider_reference, total, key).reference
            failpoints.hit("refund.after_provider")
        refund = locked.record_refund(payment.payment_id if payment else None, amounts, request.reason,
                                      request.goods_returned, key, reference, actor.user_id, shipping=shipping_back)
        target = OrderStatus.REFUNDED if refund.everything_refunded else OrderStatus.PARTIALLY_REFUNDED
        check_transition(status, target)
        locked.set_status(target, actor.user_id, f"refund {refund.refund_id}: {request.reason}"[:200], Reason.REFUND,
                          refund_id=refund.refund_id)
    failpoints.hit("refund.after_commit")
    if request.goods_returned:
        restock_refund(db, store, refund.refund_id)
    return RefundOutcome(refund.refund_id, total, target)


def restock_refund(db: OrderRecords, store: ReturnsStore, refund_id: int) -> bool:
    """Put a refund's returned units back in stock, once (idempotent: each product remembers it)."""
    try:
        for line in db.refunds.lines_to_restock(refund_id):
            store.stock.return_units(line.product_id, markers.refund_key(refund_id, line.variant), line.quantity,
                                     line.variant)
            failpoints.hit("refund.after_line_restocked")
    except StoreError as error:
        log.warning("refund %s: restock left for recovery: %s", refund_id, error)
        return False
    db.refunds.mark_stock_returned(refund_id)
    return True
