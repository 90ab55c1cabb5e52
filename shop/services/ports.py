"""What the use cases need from their stores and from the payment provider, as small Protocols.

`shop.services.checkout` is written against these; the real adapters (PostgresDatabase,
MongoStore) satisfy them, and so do the in-memory fakes of `tests/unit/fakes.py`, which let the
saga's every branch, and those of paying, cancelling, expiring and refunding an order, run in
milliseconds. The integration and fault tests stay the proof on real
servers. The adapters raise the shop's own errors (shop.adapters.errors, no driver imported):
`StoreError` / `StoreUnavailable` (MongoDB), `DatabaseError` / `DatabaseUnavailable` (PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Protocol

from shop.domain.catalog import Product
from shop.domain.invoicing import InvoiceParty
from shop.domain.order_effects import Effects, Reason
from shop.domain.orders import HeldUnpaid, Order, OrderItem, OrderLine, OrderStatus, Payment, PaymentStatus, Placing
from shop.domain.payments import PaymentNotice, PaymentRequest, ProviderRedirect, RefundResult
from shop.domain.refunds import Refund, RefundableLine, RefundedTotals, RestockLine
from shop.domain.shipping import ShippingSnapshot


class OrderLedger(Protocol):
    """The PostgreSQL side of a checkout (`db.orders`): the order's in-flight row and its single decision."""

    def create_placing(self, user_id: int, idempotency_key: str, request_hash: str, lease_seconds: int, *,
                       units: int = 0, placed_from: str | None = None,
                       admit: Callable[[HeldUnpaid], None] | None = None, lock_address: bool = True,
                       discount_code: str | None = None) -> Placing: ...

    def decide_placing(self, order_id: int, outcome: OrderStatus, reason: str | None = None,
                       lines: list[OrderLine] | None = None, pending_ttl_minutes: int = 30,
                       changed_by: int | None = None, shipping: ShippingSnapshot | None = None,
                       reason_code: Reason | None = None, stock_low: list[dict[str, object]] | None = None,
                       invoice_party: InvoiceParty | None = None) -> bool: ...

    def get(self, order_id: int) -> Order | None: ...


class Ledgers(Protocol):
    """What the checkout saga reaches through `db` (PostgresDatabase; tests/unit/fakes.FakeDatabase)."""

    @property
    def orders(self) -> OrderLedger: ...


class Stock(Protocol):
    """The MongoDB side (`store.stock`): units held for an order, then released or settled, each
    safe to repeat."""

    def reserve(self, product_id: str, order_id: int, quantity: int,
                settle: Iterable[str] = (), variant: str | None = None) -> Product | None: ...

    def release(self, product_id: str, order_id: int, quantity: int, variant: str | None = None) -> bool: ...

    def settle(self, product_id: str, order_id: int, variant: str | None = None) -> bool: ...


class ProductsById(Protocol):
    """The product documents (`store.catalog`), read by id only."""

    def by_ids(self, product_ids: list[str], *, include_archived: bool = False) -> dict[str, Product]: ...


class StockStore(Protocol):
    """What the checkout saga reaches through `store` (MongoStore; tests/unit/fakes.FakeStore)."""

    @property
    def stock(self) -> Stock: ...

    @property
    def catalog(self) -> ProductsById: ...


# --- the order lifecycle after checkout: pay, cancel, ship, expire, refund (shop.services.orders, refunds) ---

class LockedOrderChanges(Protocol):
    """One order under its row lock (`with db.orders.locked(order_id) as locked:`): the changes a
    service may make to it, committed together when the block ends, rolled back if it raises."""

    @property
    def order(self) -> Order | None: ...

    def expired(self) -> bool: ...

    def set_status(self, target: OrderStatus, changed_by: int | None, reason: str | None,
                   reason_code: Reason, refund_id: int | None = None) -> Effects: ...

    def attempts_counted_as_declines(self, user_id: int, window_minutes: int) -> tuple[int, int]: ...

    def record_payment(self, amount: Decimal, status: PaymentStatus, method: str, reference: str | None,
                       card_last4: str | None, decline_reason: str | None) -> int: ...

    def start_payment(self, amount: Decimal, method: str, number: Callable[[int], str]) -> str: ...

    def payment(self, payment_id: int) -> Payment | None: ...

    def decide_payment(self, payment_id: int, status: PaymentStatus, reference: str | None,
                       decline_reason: str | None = None) -> None: ...

    def record_shipment(self, carrier: str | None, tracking_number: str | None) -> None: ...

    def successful_payment(self) -> Payment | None: ...

    def refund_by_key(self, idempotency_key: str) -> Refund | None: ...

    def refundable_lines(self) -> list[RefundableLine]: ...

    def record_refund(self, payment_id: int | None, amounts: dict[int, tuple[int, Decimal]], reason: str,
                      goods_returned: bool, idempotency_key: str, provider_reference: str | None,
                      created_by: int, shipping: Decimal = ...) -> RefundedTotals: ...


class OrderBook(Protocol):
    """The orders after checkout (`db.orders`)."""

    def locked(self, order_id: int, *, account: int | None = None) -> AbstractContextManager[LockedOrderChanges]: ...

    def get(self, order_id: int) -> Order | None: ...

    def items(self, order_id: int) -> list[OrderItem]: ...

    def mark_stock_returned(self, order_id: int) -> None: ...

    def payment_attempt(self, method: str, provider_order: str) -> Payment | None: ...


class RefundBook(Protocol):
    """Refunds whose returned goods go back to stock (`db.refunds`)."""

    def lines_to_restock(self, refund_id: int) -> list[RestockLine]: ...

    def mark_stock_returned(self, refund_id: int) -> None: ...


class OrderRecords(Protocol):
    """What the lifecycle reaches through `db` (PostgresDatabase; tests/unit/fakes.FakeDatabase)."""

    @property
    def orders(self) -> OrderBook: ...

    @property
    def refunds(self) -> RefundBook: ...


class ReturnedStock(Protocol):
    """Units going back to stock (`store.stock`), each return made once whatever the repeats."""

    def return_cancelled(self, product_id: str, order_id: int, quantity: int, variant: str | None = None) -> bool: ...

    def return_units(self, product_id: str, marker_key: str, quantity: int, variant: str | None = None) -> bool: ...


class ReturnsStore(Protocol):
    """What the lifecycle reaches through `store` (MongoStore; tests/unit/fakes.FakeStore)."""

    @property
    def stock(self) -> ReturnedStock: ...


class PaymentGateway(Protocol):
    """A payment provider (shop.adapters.payments, shop.adapters.redsys): where to send the customer
    to pay, how to read its signed notification of the outcome, and a refund (idempotent by its key
    where the provider has one: asking twice refunds once). The shop never handles a card."""

    @property
    def name(self) -> str: ...

    def start(self, request: PaymentRequest) -> ProviderRedirect: ...

    def read_notice(self, body: bytes, form: Mapping[str, str], headers: Mapping[str, str]) -> PaymentNotice: ...

    def refund(self, payment_reference: str, amount: Decimal, idempotency_key: str) -> RefundResult: ...
