"""In-memory stand-ins for the checkout's stores (shop.services.ports), for the saga's unit tests.

They keep the same promises as the real adapters where the saga relies on them: the decision is
made once (a second decide returns False), a reservation for an order that already holds units is
a retry (nothing more taken), release and settle are safe to repeat. Faults are switched on per call.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from shop.adapters.errors import DatabaseError, StoreError
from shop.domain.catalog import Product
from shop.domain.json import JsonObject
from shop.domain.order_effects import Reason
from shop.domain.orders import HeldUnpaid, Order, OrderItem, OrderLine, OrderStatus, Placing
from shop.services.ports import Ledgers, StockStore


class FakeDatabase:
    """What the checkout saga reaches through `db`: its orders."""

    def __init__(self, orders: FakeLedger):
        self.orders = orders


class FakeLedger:
    def __init__(self) -> None:
        self.rows: dict[int, Order] = {}
        self._keys: dict[tuple[int, str], int] = {}  # (user, idempotency key) → order id
        self._ids = itertools.count(1)
        self.decisions: list[tuple[int, str]] = []
        self.fail_next_decision = False

    def create_placing(self, user_id: int, idempotency_key: str, request_hash: str, lease_seconds: int, *,
                       units: int = 0, placed_from: str | None = None,
                       admit: Callable[[HeldUnpaid], None] | None = None, lock_address: bool = True,
                       discount_code: str | None = None) -> Placing:
        if (user_id, idempotency_key) in self._keys:
            return Placing(self.rows[self._keys[user_id, idempotency_key]], False)
        if admit is not None:
            unpaid = [o for o in self.rows.values() if o.user_id == user_id
                      and o.status in (OrderStatus.PLACING, OrderStatus.PENDING)]
            admit(HeldUnpaid(len(unpaid), sum(o.units for o in unpaid), 0, 0))
        order_id = next(self._ids)
        self._keys[user_id, idempotency_key] = order_id
        self.rows[order_id] = Order(order_id, user_id, OrderStatus.PLACING, Decimal("0.00"),
                                    dt.datetime.now(dt.UTC), request_hash=request_hash, units=units)
        return Placing(self.rows[order_id], True)

    def decide_placing(self, order_id: int, outcome: OrderStatus, reason: str | None = None,
                       lines: list[OrderLine] | None = None, pending_ttl_minutes: int = 30,
                       changed_by: int | None = None, shipping: JsonObject | None = None,
                       reason_code: Reason | None = None) -> bool:
        if self.fail_next_decision:
            self.fail_next_decision = False
            raise DatabaseError("the connection broke before the commit was confirmed")
        order = self.rows[order_id]
        if not order.is_placing:
            return False
        items = tuple(OrderItem(n, line.product_id, line.product_name, line.unit_price, line.quantity,
                                line.tax_rate, line.tax_amount, line.discount_amount)
                      for n, line in enumerate(lines or [], start=1))
        self.rows[order_id] = replace(order, status=outcome, failure_reason=reason, items=items,
                                      shipping_amount=(shipping or {}).get("amount", Decimal("0.00")),
                                      total_amount=sum((line.subtotal for line in lines or []), Decimal("0.00"))
                                      + (shipping or {}).get("amount", Decimal("0.00")))
        self.decisions.append((order_id, outcome.value))
        return True

    def abort_as_recovery(self, order_id: int) -> None:
        """What the recovery pass does to an order whose lease ran out."""
        self.decide_placing(order_id, OrderStatus.FAILED, reason="abandoned")

    def get(self, order_id: int) -> Order | None:
        return self.rows.get(order_id)


class FakeStore:
    """What the checkout saga reaches through `store`: the stock, and the products by id."""

    def __init__(self, stock: FakeStock):
        self.stock = stock
        self.catalog = FakeCatalog(stock)


class FakeCatalog:
    """The products by id, as the fake stock holds them (`store.catalog`)."""

    def __init__(self, stock: FakeStock):
        self._stock = stock

    def by_ids(self, product_ids: list[str], *, include_archived: bool = False) -> dict[str, Product]:
        return self._stock.products_by_ids(product_ids)


class FakeStock:
    def __init__(self, **stock_by_name: int):
        self.products: dict[str, dict[str, Any]] = {
            f"{i:024x}": {"name": name, "stock": stock, "holds": {}, "price": Decimal("10.00")}
            for i, (name, stock) in enumerate(stock_by_name.items(), start=1)}
        self.fail_reserve: set[str] = set()  # product ids whose reservation raises StoreError
        self.before_reserve = None  # called with (product_id, order_id) before each reservation

    def id_of(self, name: str) -> str:
        return next(pid for pid, p in self.products.items() if p["name"] == name)

    def _product(self, pid: str) -> Product:
        doc = self.products[pid]
        return Product(pid, doc["name"], "Pruebas", doc["price"], doc["stock"])

    def reserve(self, product_id: str, order_id: int, quantity: int,
                settle: Iterable[int] = ()) -> Product | None:
        if self.before_reserve:
            self.before_reserve(product_id, order_id)
        if product_id in self.fail_reserve:
            raise StoreError("MongoDB stopped answering")
        doc = self.products.get(product_id)
        if doc is None:
            return None
        if order_id in doc["holds"]:
            return self._product(product_id)  # a retry: already held
        if doc["stock"] < quantity:
            return None
        before = self._product(product_id)
        doc["stock"] -= quantity
        doc["holds"][order_id] = quantity
        for other in settle:
            if other != order_id:
                doc["holds"].pop(other, None)
        return before

    def release(self, product_id: str, order_id: int, quantity: int) -> bool:
        doc = self.products[product_id]
        if doc["holds"].get(order_id) != quantity:
            return False
        del doc["holds"][order_id]
        doc["stock"] += quantity
        return True

    def settle(self, product_id: str, order_id: int) -> bool:
        return self.products[product_id]["holds"].pop(order_id, None) is not None

    def products_by_ids(self, product_ids: Iterable[str]) -> dict[str, Product]:
        return {pid: self._product(pid) for pid in product_ids if pid in self.products}

    def stock(self, name: str) -> int:
        return int(self.products[self.id_of(name)]["stock"])

    def holds(self, name: str) -> dict[int, int]:
        return dict(self.products[self.id_of(name)]["holds"])


def _the_fakes_are_what_the_checkout_saga_is_written_against(db: FakeDatabase, store: FakeStore
                                                             ) -> tuple[Ledgers, StockStore]:
    """Never called: mypy (`make lint`) proves here that the fakes satisfy the ports, as the call in
    shop.web.orders proves it for the real adapters."""
    return db, store
