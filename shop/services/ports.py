"""What the checkout saga needs from its stores, as small Protocols.

`shop.services.checkout` is written against these; the real adapters (PostgresDatabase,
MongoStore) satisfy them, and so do the in-memory fakes of `tests/unit/fakes.py`, which let the
saga's every branch run in milliseconds. The integration and fault tests stay the proof on real
servers. The adapters raise the shop's own errors (shop.adapters.errors, no driver imported):
`StoreError` / `StoreUnavailable` (MongoDB), `DatabaseError` / `DatabaseUnavailable` (PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from shop.domain.catalog import Product
from shop.domain.json import JsonObject
from shop.domain.order_effects import Reason
from shop.domain.orders import HeldUnpaid, Order, OrderLine, OrderStatus, Placing


class OrderLedger(Protocol):
    """The PostgreSQL side of a checkout (`db.orders`): the order's in-flight row and its single decision."""

    def create_placing(self, user_id: int, idempotency_key: str, request_hash: str, lease_seconds: int, *,
                       units: int = 0, placed_from: str | None = None,
                       admit: Callable[[HeldUnpaid], None] | None = None, lock_address: bool = True,
                       discount_code: str | None = None) -> Placing: ...

    def decide_placing(self, order_id: int, outcome: OrderStatus, reason: str | None = None,
                       lines: list[OrderLine] | None = None, pending_ttl_minutes: int = 30,
                       changed_by: int | None = None, shipping: JsonObject | None = None,
                       reason_code: Reason | None = None) -> bool: ...

    def get(self, order_id: int) -> Order | None: ...


class Ledgers(Protocol):
    """What the checkout saga reaches through `db` (PostgresDatabase; tests/unit/fakes.FakeDatabase)."""

    @property
    def orders(self) -> OrderLedger: ...


class Stock(Protocol):
    """The MongoDB side (`store.stock`): units held for an order, then released or settled, each
    safe to repeat."""

    def reserve(self, product_id: str, order_id: int, quantity: int,
                settle: Iterable[int] = ()) -> Product | None: ...

    def release(self, product_id: str, order_id: int, quantity: int) -> bool: ...

    def settle(self, product_id: str, order_id: int) -> bool: ...


class ProductsById(Protocol):
    """The product documents (`store.catalog`), read by id only."""

    def by_ids(self, product_ids: list[str], *, include_archived: bool = False) -> dict[str, Product]: ...


class StockStore(Protocol):
    """What the checkout saga reaches through `store` (MongoStore; tests/unit/fakes.FakeStore)."""

    @property
    def stock(self) -> Stock: ...

    @property
    def catalog(self) -> ProductsById: ...
