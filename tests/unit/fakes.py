"""In-memory stand-ins for the stores of the use cases (shop.services.ports), for their unit tests.

They keep the same promises as the real adapters where the use cases rely on them: the decision is
made once (a second decide returns False), a reservation for an order that already holds units is
a retry (nothing more taken), release and settle are safe to repeat, a return of stock happens once
per order or refund however often it is asked for, a block under `locked` is kept whole or not at
all (a raise inside it undoes its changes). Faults are switched on per call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

from shop.adapters.errors import DatabaseError, StoreError
from shop.domain import markers
from shop.domain.catalog import Product
from shop.domain.invoicing import InvoiceParty
from shop.domain.order_effects import Effects, MailKind, Reason, effects_of
from shop.domain.orders import HeldUnpaid, Order, OrderItem, OrderLine, OrderStatus, Payment, PaymentStatus, Placing
from shop.domain.refunds import Refund, RefundableLine, RefundedTotals, RestockLine
from shop.domain.shipping import ShippingSnapshot
from shop.domain.variants import ProductOption, Variant
from shop.services.ports import Ledgers, OrderRecords, ReturnsStore, StockStore


class FakeDatabase:
    """What the use cases reach through `db`: the orders, and the refunds."""

    def __init__(self, orders: FakeLedger, refunds: FakeRefunds | None = None):
        self.orders = orders
        self.refunds = refunds or FakeRefunds(orders)


class FakeLedger:
    def __init__(self) -> None:
        self.rows: dict[int, Order] = {}
        self._keys: dict[tuple[int, str], int] = {}  # (user, idempotency key) → order id
        self._ids = itertools.count(1)
        self.decisions: list[tuple[int, str]] = []
        self.fail_next_decision = False
        self.history: list[tuple[int, OrderStatus, OrderStatus, Reason, str | None]] = []
        self.payments: list[tuple[int, Payment]] = []  # (order id, payment)
        self.refund_records: list[tuple[Refund, str]] = []  # (refund, its idempotency key)
        self.mails: list[tuple[int, MailKind]] = []
        self.locks_taken: list[tuple[int, int | None]] = []
        self.refund_lines: dict[int, list[RestockLine]] = {}
        self.now = dt.datetime.now(dt.UTC)

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
                       changed_by: int | None = None, shipping: ShippingSnapshot | None = None,
                       reason_code: Reason | None = None, stock_low: list[dict[str, object]] | None = None,
                       invoice_party: InvoiceParty | None = None) -> bool:
        if self.fail_next_decision:
            self.fail_next_decision = False
            raise DatabaseError("the connection broke before the commit was confirmed")
        order = self.rows[order_id]
        if not order.is_placing:
            return False
        items = tuple(OrderItem(n, line.product_id, line.product_name, line.unit_price, line.quantity,
                                line.tax_rate, line.tax_amount, line.discount_amount, variant=line.variant,
                                sku=line.sku, variant_label=line.variant_label)
                      for n, line in enumerate(lines or [], start=1))
        self.rows[order_id] = replace(order, status=outcome, failure_reason=reason, items=items,
                                      shipping=shipping,
                                      total_amount=sum((line.subtotal for line in lines or []), Decimal("0.00"))
                                      + (shipping.amount if shipping else Decimal("0.00")))
        self.decisions.append((order_id, outcome.value))
        return True

    def abort_as_recovery(self, order_id: int) -> None:
        """What the recovery pass does to an order whose lease ran out."""
        self.decide_placing(order_id, OrderStatus.FAILED, reason="abandoned")

    def get(self, order_id: int) -> Order | None:
        return self.rows.get(order_id)

    def add_order(self, user_id: int, status: OrderStatus, lines: dict[str, int], *,
                  price: Decimal = Decimal("10.00"), shipping: Decimal = Decimal("0.00"),
                  expires_at: dt.datetime | None = None) -> Order:
        """An order as checkout (and what followed) left it: `lines` is item ref ("product id" or
        "product id:variant key") → units."""
        order_id = next(self._ids)
        items = tuple(OrderItem(order_id * 100 + n, ref.partition(":")[0], f"Producto {n}", price, units,
                                variant=ref.partition(":")[2] or None)
                      for n, (ref, units) in enumerate(sorted(lines.items()), start=1))
        total = sum((item.subtotal for item in items), Decimal("0.00")) + shipping
        self.rows[order_id] = Order(order_id, user_id, status, total, dt.datetime.now(dt.UTC), items=items,
                                    shipping=ShippingSnapshot({}, "Estándar", shipping, Decimal("0.00"), Decimal("21"))
                                    if shipping else None, expires_at=expires_at)
        return self.rows[order_id]

    def items(self, order_id: int) -> list[OrderItem]:
        return sorted(self.rows[order_id].items, key=lambda item: (item.product_id, item.variant or ""))

    def payment_attempt(self, method: str, provider_order: str) -> Payment | None:
        return next((p for _, p in self.payments if p.method == method and p.provider_order == provider_order), None)

    def mark_stock_returned(self, order_id: int) -> None:
        if self.rows[order_id].status is OrderStatus.CANCELLED:
            self.rows[order_id] = replace(self.rows[order_id], stock_returned=True)

    @contextlib.contextmanager
    def locked(self, order_id: int, *, account: int | None = None) -> Iterator[FakeLockedOrder]:
        """The order and everything changed under it, put back as it was if the block raises."""
        saved = (dict(self.rows), list(self.history), list(self.payments), list(self.refund_records),
                 list(self.mails), dict(self.refund_lines))
        self.locks_taken.append((order_id, account))
        try:
            yield FakeLockedOrder(self, order_id)
        except BaseException:
            self.rows, self.history, self.payments, self.refund_records, self.mails, self.refund_lines = saved
            raise


class FakeLockedOrder:
    """One order of a FakeLedger under its (pretend) row lock: the changes LockedOrder offers."""

    def __init__(self, ledger: FakeLedger, order_id: int):
        self._ledger, self._order_id = ledger, order_id

    @property
    def order(self) -> Order | None:
        order = self._ledger.rows.get(self._order_id)
        return None if order is None else replace(order, items=())  # locked without its lines, as for real

    def expired(self) -> bool:
        expires_at = self._ledger.rows[self._order_id].expires_at
        return expires_at is not None and expires_at < self._ledger.now

    def set_status(self, target: OrderStatus, changed_by: int | None, reason: str | None,
                   reason_code: Reason, refund_id: int | None = None) -> Effects:
        ledger, order = self._ledger, self._ledger.rows[self._order_id]
        effects = effects_of(order.status, target, reason_code)
        ledger.rows[self._order_id] = replace(order, status=target, expires_at=None,
                                              stock_returned=False if target is OrderStatus.CANCELLED
                                              else order.stock_returned)
        ledger.history.append((self._order_id, order.status, target, reason_code, reason))
        if effects.mail is not None:
            ledger.mails.append((self._order_id, effects.mail))
        return effects

    def attempts_counted_as_declines(self, user_id: int, window_minutes: int) -> tuple[int, int]:
        counted = [(oid, p) for oid, p in self._ledger.payments
                   if p.status in (PaymentStatus.DECLINED, PaymentStatus.PENDING)
                   and self._ledger.rows[oid].user_id == user_id]
        return sum(1 for oid, _ in counted if oid == self._order_id), len(counted)

    def record_payment(self, amount: Decimal, status: PaymentStatus, method: str, reference: str | None,
                       card_last4: str | None, decline_reason: str | None) -> int:
        if status is PaymentStatus.SUCCEEDED and self.successful_payment() is not None:
            raise DatabaseError("duplicate key value violates unique constraint \"one_successful_payment\"")
        payment_id = len(self._ledger.payments) + 1
        self._ledger.payments.append((self._order_id, Payment(payment_id, amount, status, method, self._ledger.now,
                                                              reference, card_last4, decline_reason,
                                                              order_id=self._order_id)))
        return payment_id

    def start_payment(self, amount: Decimal, method: str, number: Callable[[int], str]) -> str:
        payment_id = len(self._ledger.payments) + 1
        self._ledger.payments.append((self._order_id, Payment(
            payment_id, amount, PaymentStatus.PENDING, method, self._ledger.now, provider_order=number(payment_id),
            order_id=self._order_id)))
        return number(payment_id)

    def payment(self, payment_id: int) -> Payment | None:
        return next((p for oid, p in self._ledger.payments if oid == self._order_id and p.payment_id == payment_id),
                    None)

    def decide_payment(self, payment_id: int, status: PaymentStatus, reference: str | None,
                       decline_reason: str | None = None) -> None:
        for index, (oid, payment) in enumerate(self._ledger.payments):
            if oid == self._order_id and payment.payment_id == payment_id and payment.status in (
                    PaymentStatus.PENDING, PaymentStatus.ORPHANED):
                if status is PaymentStatus.SUCCEEDED and self.successful_payment() is not None:
                    raise DatabaseError("duplicate key value violates unique constraint \"one_successful_payment\"")
                reference = reference or payment.provider_reference
                self._ledger.payments[index] = (oid, replace(payment, status=status, decline_reason=decline_reason,
                                                             provider_reference=reference))

    def record_shipment(self, carrier: str | None, tracking_number: str | None) -> None:
        order = self._ledger.rows[self._order_id]
        self._ledger.rows[self._order_id] = replace(order, carrier=carrier, tracking_number=tracking_number,
                                                    shipped_at=self._ledger.now)

    def successful_payment(self) -> Payment | None:
        return next((p for oid, p in self._ledger.payments
                     if oid == self._order_id and p.status is PaymentStatus.SUCCEEDED), None)

    def refund_by_key(self, idempotency_key: str) -> Refund | None:
        return next((refund for refund, key in self._ledger.refund_records if key == idempotency_key), None)

    def refundable_lines(self) -> list[RefundableLine]:
        return [RefundableLine(item.order_item_id, item.quantity, item.refunded_quantity, item.subtotal)
                for item in self._ledger.rows[self._order_id].items]

    def record_refund(self, payment_id: int | None, amounts: dict[int, tuple[int, Decimal]], reason: str,
                      goods_returned: bool, idempotency_key: str, provider_reference: str | None,
                      created_by: int, shipping: Decimal = Decimal("0.00")) -> RefundedTotals:
        order = self._ledger.rows[self._order_id]
        total = sum((money for _, money in amounts.values()), Decimal("0.00")) + shipping
        if order.refunded_amount + total > order.total_amount:  # the CHECK on orders.refunded_amount
            raise DatabaseError("new row for relation \"orders\" violates check constraint")
        items = tuple(replace(item, refunded_quantity=item.refunded_quantity + amounts[item.order_item_id][0])
                      if item.order_item_id in amounts else item for item in order.items)
        order = replace(order, items=items, refunded_amount=order.refunded_amount + total,
                        shipping_refunded=order.shipping_refunded or shipping > 0)
        self._ledger.rows[self._order_id] = order
        refund = Refund(len(self._ledger.refund_records) + 1, self._order_id, total, reason, goods_returned, False,
                        self._ledger.now, payment_id, provider_reference, created_by)
        self._ledger.refund_records.append((refund, idempotency_key))
        self._ledger.refund_lines[refund.refund_id] = [
            RestockLine(item.product_id, amounts[item.order_item_id][0], item.variant) for item in order.items
            if item.order_item_id in amounts]
        return RefundedTotals(refund.refund_id, order.refunded_amount, order.total_amount)


class FakeRefunds:
    """What the refunds' restocking reaches through `db.refunds`."""

    def __init__(self, ledger: FakeLedger):
        self._ledger = ledger
        self.stock_returned: set[int] = set()

    def lines_to_restock(self, refund_id: int) -> list[RestockLine]:
        return sorted(self._ledger.refund_lines.get(refund_id, []), key=lambda line: (line.product_id,
                                                                                       line.variant or ""))

    def mark_stock_returned(self, refund_id: int) -> None:
        self.stock_returned.add(refund_id)


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
    """Products by name with their stock; `with_variants` gives one of them variants, each with its
    own stock (the product's stock is then their sum, as in MongoDB). Holds and returns are kept by
    marker key, as the product documents keep them."""

    def __init__(self, **stock_by_name: int):
        self.products: dict[str, dict[str, Any]] = {
            f"{i:024x}": {"name": name, "stock": stock, "holds": {}, "returns": {}, "price": Decimal("10.00"),
                          "variants": {}}
            for i, (name, stock) in enumerate(stock_by_name.items(), start=1)}
        self.fail_reserve: set[str] = set()  # product ids whose reservation raises StoreError
        self.fail_return: set[str] = set()  # product ids whose return of units raises StoreError
        self.before_reserve = None  # called with (product_id, order_id) before each reservation

    def with_variants(self, name: str, **stock_by_size: int) -> dict[str, str]:
        """Sell `name` in sizes (Talla), variant keys v1, v2, … in order; {size: item ref}."""
        doc = self.products[self.id_of(name)]
        doc["variants"] = {f"v{i}": {"size": size, "stock": stock}
                           for i, (size, stock) in enumerate(stock_by_size.items(), start=1)}
        doc["stock"] = sum(stock_by_size.values())
        return {v["size"]: f"{self.id_of(name)}:{key}" for key, v in doc["variants"].items()}

    def id_of(self, name: str) -> str:
        return next(pid for pid, p in self.products.items() if p["name"] == name)

    def _product(self, pid: str) -> Product:
        doc = self.products[pid]
        sizes = tuple(v["size"] for v in doc["variants"].values())
        return Product(pid, doc["name"], "Pruebas", doc["price"], doc["stock"],
                       options=(ProductOption("Talla", sizes),) if sizes else (),
                       variants=tuple(Variant(key, f"SKU-{v['size']}", (v["size"],), v["stock"])
                                      for key, v in doc["variants"].items()))

    def _move(self, doc: dict[str, Any], variant: str | None, delta: int) -> None:
        doc["stock"] += delta
        if variant is not None:
            doc["variants"][variant]["stock"] += delta

    def reserve(self, product_id: str, order_id: int, quantity: int,
                settle: Iterable[str] = (), variant: str | None = None) -> Product | None:
        if self.before_reserve:
            self.before_reserve(product_id, order_id)
        if product_id in self.fail_reserve:
            raise StoreError("MongoDB stopped answering")
        doc = self.products.get(product_id)
        if doc is None:
            return None
        key = markers.order_key(order_id, variant)
        if key in doc["holds"]:
            return self._product(product_id)  # a retry: already held
        if variant is None and doc["variants"] or variant is not None and variant not in doc["variants"]:
            return None
        level = doc["stock"] if variant is None else doc["variants"][variant]["stock"]
        if level < quantity:
            return None
        before = self._product(product_id)
        self._move(doc, variant, -quantity)
        doc["holds"][key] = quantity
        for other in settle:
            if other != key:
                doc["holds"].pop(other, None)
        return before

    def release(self, product_id: str, order_id: int, quantity: int, variant: str | None = None) -> bool:
        doc = self.products[product_id]
        key = markers.order_key(order_id, variant)
        if doc["holds"].get(key) != quantity:
            return False
        del doc["holds"][key]
        self._move(doc, variant, quantity)
        return True

    def settle(self, product_id: str, order_id: int, variant: str | None = None) -> bool:
        return self.products[product_id]["holds"].pop(markers.order_key(order_id, variant), None) is not None

    def return_cancelled(self, product_id: str, order_id: int, quantity: int, variant: str | None = None) -> bool:
        """A cancelled order's units back once (its hold released, or its sold units returned)."""
        if product_id in self.fail_return:
            raise StoreError("MongoDB stopped answering")
        doc = self.products[product_id]
        key = markers.order_key(order_id, variant)
        if key in doc["returns"]:
            return False
        doc["holds"].pop(key, None)
        self._move(doc, variant, quantity)
        doc["returns"][key] = quantity
        return True

    def return_units(self, product_id: str, marker_key: str, quantity: int, variant: str | None = None) -> bool:
        """`quantity` units back once for `marker_key` (a refund's returned goods)."""
        if product_id in self.fail_return:
            raise StoreError("MongoDB stopped answering")
        doc = self.products[product_id]
        if marker_key in doc["returns"]:
            return False
        self._move(doc, variant, quantity)
        doc["returns"][marker_key] = quantity
        return True

    def products_by_ids(self, product_ids: Iterable[str]) -> dict[str, Product]:
        return {pid: self._product(pid) for pid in product_ids if pid in self.products}

    def stock(self, name: str, size: str | None = None) -> int:
        doc = self.products[self.id_of(name)]
        if size is None:
            return int(doc["stock"])
        return int(next(v["stock"] for v in doc["variants"].values() if v["size"] == size))

    def holds(self, name: str) -> dict[int, int]:
        """{order id: units held} on a product without options."""
        return {markers.order_of(key) or 0: units for key, units in self.products[self.id_of(name)]["holds"].items()}

    def hold_keys(self, name: str) -> dict[str, int]:
        return dict(self.products[self.id_of(name)]["holds"])


def _the_fakes_are_what_the_use_cases_are_written_against(db: FakeDatabase, store: FakeStore
                                                          ) -> tuple[Ledgers, StockStore, OrderRecords, ReturnsStore]:
    """Never called: mypy (`make lint`) proves here that the fakes satisfy the ports, as the calls in
    shop.web prove it for the real adapters."""
    return db, store, db, store
