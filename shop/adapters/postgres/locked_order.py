"""One order under its row lock (`with db.orders.locked(order_id) as locked:`, shop.adapters.postgres.orders):
the changes a service may make to it, in the lock's transaction. No cursor leaves this module."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shop.adapters.postgres import refunds as refund_rows
from shop.adapters.postgres.errors import translates_errors
from shop.adapters.postgres.order_effects import record_status
from shop.adapters.postgres.payment_rows import payment_of
from shop.domain.order_effects import Effects, Reason
from shop.domain.orders import Order, OrderStatus, Payment, PaymentStatus
from shop.domain.refunds import Refund, RefundableLine, RefundedTotals


@translates_errors
class LockedOrder:
    """One order under its row lock, in one transaction (`Orders.locked`): `order` is the Order as
    locked, without its lines (None if there is no such order); the methods are the changes a service
    may make to it, committed together when the block ends and rolled back together if it raises."""

    def __init__(self, cur: Any, order: Order | None):
        self._cur, self.order = cur, order

    @property
    def _locked(self) -> Order:
        """The order the changes apply to (the services check `order` for None before changing it)."""
        if self.order is None:
            raise LookupError("no such order: there is nothing to change under its lock")
        return self.order

    @property
    def _order_id(self) -> int:
        return self._locked.order_id

    def expired(self) -> bool:
        """Whether its payment deadline has passed, by the database's clock."""
        expires_at = self._locked.expires_at
        if expires_at is None:
            return False
        self._cur.execute("SELECT now() AS now")
        return expires_at < self._cur.fetchone()["now"]

    def set_status(self, target: OrderStatus, changed_by: int | None, reason: str | None,
                   reason_code: Reason, refund_id: int | None = None) -> Effects:
        """The transition, recorded in the history with its effects (the invoice, the sales figures,
        the mail, the discount use: shop.domain.order_effects), all in this transaction."""
        self._cur.execute(
            """UPDATE orders SET status = %s, expires_at = NULL,
                      stock_returned = CASE WHEN %s = 'cancelled' THEN FALSE ELSE stock_returned END
               WHERE order_id = %s""",
            (target.value, target.value, self._order_id),
        )
        return record_status(self._cur, self._order_id, self._locked.status, target, changed_by, reason, reason_code,
                             refund_id)

    def attempts_counted_as_declines(self, user_id: int, window_minutes: int) -> tuple[int, int]:
        """Under `locked(account=…)`: attempts in the window that count against the declines limit, for
        the order and for the account — declined ones, and those the provider has not decided yet (so
        attempts started in parallel cannot overrun the limit before their notices arrive)."""
        self._cur.execute(
            """SELECT count(*) FILTER (WHERE p.order_id = %(order)s) AS for_order, count(*) AS for_account
               FROM payments p JOIN orders o USING (order_id)
               WHERE o.user_id = %(user)s AND p.status IN ('declined', 'pending')
                 AND p.created_at > now() - make_interval(mins => %(window)s)""",
            {"order": self._order_id, "user": user_id, "window": window_minutes})
        row = self._cur.fetchone()
        return row["for_order"], row["for_account"]

    def record_payment(self, amount: Decimal, status: PaymentStatus, method: str, reference: str | None,
                       card_last4: str | None, decline_reason: str | None) -> int:
        self._cur.execute(
            """INSERT INTO payments (order_id, amount, status, method, provider_reference, card_last4,
                                     decline_reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING payment_id""",
            (self._order_id, amount, PaymentStatus(status).value, method, reference, card_last4, decline_reason),
        )
        return self._cur.fetchone()["payment_id"]

    def start_payment(self, amount: Decimal, method: str, number: Callable[[int], str]) -> str:
        """A new attempt, `pending` until the provider's notification decides it: its number there."""
        self._cur.execute("""INSERT INTO payments (order_id, amount, status, method) VALUES (%s, %s, 'pending', %s)
                             RETURNING payment_id""", (self._order_id, amount, method))
        payment_id = self._cur.fetchone()["payment_id"]
        provider_order = number(payment_id)
        self._cur.execute("UPDATE payments SET provider_order = %s WHERE payment_id = %s", (provider_order, payment_id))
        return provider_order

    def payment(self, payment_id: int) -> Payment | None:
        self._cur.execute("SELECT * FROM payments WHERE payment_id = %s AND order_id = %s",
                          (payment_id, self._order_id))
        row = self._cur.fetchone()
        return payment_of(row) if row else None

    def decide_payment(self, payment_id: int, status: PaymentStatus, reference: str | None,
                       decline_reason: str | None = None) -> None:
        """An attempt's outcome (only a pending attempt is decided, and an orphaned one refunded)."""
        self._cur.execute("""UPDATE payments SET status = %s, provider_reference = COALESCE(%s, provider_reference),
                                    decline_reason = %s
                             WHERE payment_id = %s AND order_id = %s AND status IN ('pending', 'orphaned')""",
                          (PaymentStatus(status).value, reference, decline_reason, payment_id, self._order_id))

    def record_shipment(self, carrier: str | None, tracking_number: str | None) -> None:
        """How the order travels (before its status becomes shipped, so the shipped mail written with
        the change can name them)."""
        self._cur.execute("UPDATE orders SET carrier = %s, tracking_number = %s, shipped_at = now() "
                          "WHERE order_id = %s", (carrier, tracking_number, self._order_id))

    def successful_payment(self) -> Payment | None:
        return refund_rows.successful_payment(self._cur, self._order_id)

    def refund_by_key(self, idempotency_key: str) -> Refund | None:
        """The refund an earlier sending of the same form made (of any order), if any."""
        return refund_rows.refund_by_key(self._cur, idempotency_key)

    def refundable_lines(self) -> list[RefundableLine]:
        return refund_rows.refundable_lines(self._cur, self._order_id)

    def record_refund(self, payment_id: int | None, amounts: dict[int, tuple[int, Decimal]], reason: str,
                      goods_returned: bool, idempotency_key: str, provider_reference: str | None,
                      created_by: int, shipping: Decimal = Decimal("0.00")) -> RefundedTotals:
        return refund_rows.record_refund(self._cur, self._order_id, payment_id, amounts, reason, goods_returned,
                                         idempotency_key, provider_reference, created_by, shipping=shipping)
