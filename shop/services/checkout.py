"""Placing an order: the distributed transaction across MongoDB (stock) and PostgreSQL (order).

The protocol, its failure table and its proof are in docs/checkout.md. In short:
  1. PostgreSQL: the order is written as `placing`, with a lease and the idempotency key.
  2. MongoDB: each line's stock is taken with a conditional update that also sets a hold marker
     and returns the name and price the line is sold at.
  3. PostgreSQL: the decision — `placing` → `pending` with the lines and total (commit), or →
     `failed` (abort): a conditional UPDATE only one party (this checkout, or recovery after the
     lease) can win.
  4. MongoDB: the holds of a committed order are settled (markers dropped) — piggybacked on this
     process's next reservation of the product, or by the recovery sweep; an abort releases them.
Every step can be repeated without effect, so recovery can finish anything a crash interrupted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from shop import failpoints
from shop.adapters.errors import DatabaseError, DatabaseUnavailable, StoreError
from shop.domain import markers
from shop.domain.catalog import check_sells
from shop.domain.discounts import DiscountCode, normalize_code
from shop.domain.errors import N_, Conflict, NotFound, Unavailable
from shop.domain.invoicing import FullInvoiceNeeded, InvoiceParty, needs_full_invoice
from shop.domain.orders import (
    CartLine,
    Order,
    OrderLine,
    OrderStatus,
    UnpaidLimits,
    cart_units,
    normalize_cart,
    order_total,
    out_of_stock,
    parse_idempotency_key,
    priced_lines,
    request_hash,
)
from shop.domain.shipping import ShippingChoice, ShippingSnapshot
from shop.domain.taxes import DEFAULT_RATES
from shop.domain.webhooks import falls_to_low_stock, stock_low_payload
from shop.services.ports import Ledgers, StockStore

log = logging.getLogger(__name__)
_REPLAY_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class CheckoutRequest:
    """What a shopper asked to buy, as it arrived (place_order validates it): who, the lines as
    (product id or "product id:variant key", quantity), the form's idempotency key, and optionally a
    discount code, how it ships and the client's address (for the per-address unpaid limit)."""

    user_id: int
    lines: list[tuple[str, object]]
    idempotency_key: str
    discount_code: str | None = None
    shipping: ShippingChoice | None = None
    client_address: str | None = None
    invoice_party: InvoiceParty | None = None  # whom a full invoice is made out to (asked, or over the limit)


@dataclass(frozen=True)
class CheckoutPolicy:
    """How this shop runs a checkout (from its settings): the in-flight lease, how long an unpaid
    order is kept, what an account or address may hold unpaid, and the IVA rates."""

    lease_seconds: int = 30
    pending_ttl_minutes: int = 30
    limits: UnpaidLimits | None = None
    tax_rates: Mapping[str, Decimal] = field(default_factory=lambda: DEFAULT_RATES)
    low_stock_threshold: int | None = None  # a sale that takes a product to it sends `stock.low` with the order
    shipping_tax_rule: str = "follow_goods"  # SHIPPING_TAX_RULE (shop.domain.taxes)
    simplified_invoice_limit: Decimal | None = None  # SIMPLIFIED_INVOICE_LIMIT: above it, a full invoice's data


@dataclass(frozen=True)
class CheckoutResult:
    order_id: int
    status: OrderStatus
    total: Decimal
    created: bool  # False: the idempotency key had been used; this is that earlier order
    failure_reason: str | None = None


class SettlementQueue:
    """Hold markers (markers.order_key) of committed orders that this process has not dropped yet, per product.

    Dropping a hold is one more MongoDB write per line; instead it rides along with the next
    reservation of the same product from this process. Whatever is still queued when no such
    reservation comes is settled by the recovery sweep (a settled hold and a queued one mean the
    same thing to every reader: the units are sold). `limit` bounds the markers on one product.
    """

    def __init__(self, limit: int = 50):
        self._pending: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()
        self._limit = limit

    def take(self, product_id: str) -> set[str]:
        with self._lock:
            return self._pending.pop(product_id, set())

    def give_back(self, product_id: str, holds: set[str]) -> None:
        with self._lock:
            self._pending[product_id] |= holds

    def add(self, product_id: str, hold: str) -> bool:
        """Queue a settlement; False when the product's queue is full (settle it now instead)."""
        with self._lock:
            if len(self._pending[product_id]) >= self._limit:
                return False
            self._pending[product_id].add(hold)
            return True


def place_order(db: Ledgers, store: StockStore, request: CheckoutRequest, policy: CheckoutPolicy = CheckoutPolicy(),
                *, settlements: SettlementQueue | None = None) -> CheckoutResult:
    """Place one order for all the lines, or none: stock and order both, or neither.

    With a discount code, one use of it is taken with the order (step 1) and belongs to it: it comes
    back when the order fails, is cancelled or expires (docs/money.md). With shipping, the order
    keeps the address and the method as chosen, and pays the method's price (free above its amount).

    With the policy's limits, an order that would take the account (or the client's address) over
    what it may hold unpaid is refused (LimitReached) before anything is written. `settlements`:
    this process's queue of holds to drop on its next reservation of each product.
    """
    user_id, shipping, limits, tax_rates = request.user_id, request.shipping, policy.limits, policy.tax_rates
    cart = normalize_cart(request.lines)
    key = parse_idempotency_key(request.idempotency_key)
    fingerprint = request_hash(cart)
    units = cart_units(cart)
    admit, lock_address = None, False
    if limits is not None and (limits.per_account or limits.per_address):
        admit, lock_address = partial(limits.admit, units=units), bool(limits.per_address)
    try:
        placing = db.orders.create_placing(
            user_id, key, fingerprint, policy.lease_seconds, units=units, placed_from=request.client_address,
            admit=admit, lock_address=lock_address, discount_code=normalize_code(request.discount_code))
    except DatabaseUnavailable as error:
        log.warning("orders database unavailable at checkout: %s", error)
        raise Unavailable(N_("Orders cannot be taken right now; nothing was ordered. Try again shortly.")) \
            from None
    if not placing.created:
        return _replay(db, placing.order, fingerprint)
    order_id = placing.order.order_id
    failpoints.hit("checkout.after_order_created")

    lines, fell_low = _reserve_all(db, store, order_id, cart, settlements, tax_rates, policy.low_stock_threshold)
    lines, shipping_amount, shipping_parts = priced_lines(
        lines, _discount_for(db, store, order_id, placing.discount, lines), shipping.method if shipping else None,
        tax_rates["general"], policy.shipping_tax_rule)
    total = order_total(lines) + shipping_amount
    limit = policy.simplified_invoice_limit
    if limit is not None and request.invoice_party is None and needs_full_invoice(total, limit):
        _abort(db, store, order_id, lines, "a full invoice's data is needed")
        raise FullInvoiceNeeded(N_("An order over %(limit)s needs a full invoice: give the name, NIF, NIE or CIF "
                                   "and fiscal address it is made out to."), limit=f"{limit:.2f} €".replace(".", ","))
    shipped = None if shipping is None else ShippingSnapshot(
        shipping.address.snapshot(), shipping.method.name, shipping_amount,
        sum((tax for _, _, tax in shipping_parts), Decimal("0.00")),
        shipping_parts[0][0] if len(shipping_parts) == 1 else (tax_rates["general"] if not shipping_parts else None),
        tuple(shipping_parts))

    try:
        committed = db.orders.decide_placing(order_id, OrderStatus.PENDING, lines=lines,
                                            pending_ttl_minutes=policy.pending_ttl_minutes, shipping=shipped,
                                            stock_low=fell_low, invoice_party=request.invoice_party)
    except DatabaseError as error:
        # We cannot know whether the commit reached the server. Recovery settles it either way:
        # a committed order keeps its units, an undecided one is aborted after its lease.
        log.warning("order %s: decision not confirmed: %s", order_id, error)
        raise Unavailable(N_("We could not confirm order %(order)d. If it went through it will appear under "
                             "Orders; if not, nothing is charged and the units go back to stock."),
                          order=order_id) from None
    if not committed:
        # Recovery aborted it because this checkout outlived its lease; give the units back.
        _release_all(store, order_id, lines)
        raise Conflict(N_("Your order took too long and was not placed; nothing was charged. Please try again."))
    failpoints.hit("checkout.after_commit")

    _settle(store, order_id, lines, settlements)
    return CheckoutResult(order_id, OrderStatus.PENDING, total, created=True)


def _discount_for(db: Ledgers, store: StockStore, order_id: int, discount: DiscountCode | None,
                  lines: list[OrderLine]) -> DiscountCode | None:
    """The order's discount code, if it took one (step 1), once the lines' prices and categories are
    known: a code these lines do not qualify for aborts the order (its use and units come back)."""
    if discount is None:
        return None
    try:
        discount.check_lines([(line.gross, line.category) for line in lines])
    except Conflict:
        _abort(db, store, order_id, lines, f"discount code {discount.code} does not apply")
        raise
    return discount


def _reserve_all(db: Ledgers, store: StockStore, order_id: int, cart: list[CartLine],
                 settlements: SettlementQueue | None, tax_rates: Mapping[str, Decimal],
                 low_stock_threshold: int | None = None) -> tuple[list[OrderLine], list[dict[str, object]]]:
    """Step 2, in the cart's fixed order; on any failure the order is aborted and the units released.
    Also returns the `stock.low` payloads of the lines whose sale takes their stock to the threshold
    (sent only if the order commits: they are written with its decision)."""
    lines: list[OrderLine] = []
    fell_low: list[dict[str, object]] = []
    attempted: list[CartLine] = []
    try:
        for line in cart:
            attempted.append(line)  # before the call: a network error may hide an applied update
            piggyback = settlements.take(line.product_id) if settlements else set()
            try:
                product = store.stock.reserve(line.product_id, order_id, line.quantity, settle=piggyback,
                                              variant=line.variant)
            except StoreError:
                if settlements:
                    settlements.give_back(line.product_id, piggyback)
                raise
            if product is None:
                if settlements:
                    settlements.give_back(line.product_id, piggyback)
                _abort(db, store, order_id, attempted, f"out of stock: {line.product_id}")
                current = store.catalog.by_ids([line.product_id]).get(line.product_id)
                if current is None:
                    raise NotFound(N_("A product in your cart no longer exists; remove it and try again."))
                check_sells(current, line.variant)
                raise out_of_stock(current, current.stock_of(line.variant), line.variant)
            lines.append(OrderLine(line.product_id, product.name, product.price_of(line.variant), line.quantity,
                                   tax_rates[product.tax_class], category=product.category, variant=line.variant,
                                   sku=product.sku_of(line.variant), variant_label=product.label_of(line.variant)))
            before = product.stock_of(line.variant)
            if low_stock_threshold is not None and falls_to_low_stock(before, before - line.quantity,
                                                                      low_stock_threshold):
                fell_low.append(stock_low_payload(line.product_id, product.name, product.sku_of(line.variant),
                                                  line.variant, before - line.quantity, low_stock_threshold))
            failpoints.hit("checkout.after_reserve")
    except StoreError as error:
        log.warning("order %s: stock reservation failed: %s", order_id, error)
        _abort(db, store, order_id, attempted, "catalog unavailable")
        raise Unavailable(N_("The catalog stopped answering; your order was not placed and nothing was charged.")) \
            from None
    return lines, fell_low


def _settle(store: StockStore, order_id: int, lines: list[OrderLine], settlements: SettlementQueue | None) -> None:
    for line in lines:
        if settlements is not None and settlements.add(line.product_id, markers.order_key(order_id, line.variant)):
            continue
        try:
            store.stock.settle(line.product_id, order_id, line.variant)
        except StoreError as error:  # the order stands; the recovery sweep drops the marker
            log.warning("order %s: hold on %s left for recovery: %s", order_id, line.product_id, error)
            return
        failpoints.hit("checkout.after_settle")


def _abort(db: Ledgers, store: StockStore, order_id: int, attempted: list[CartLine] | list[OrderLine],
           reason: str) -> None:
    try:
        db.orders.decide_placing(order_id, OrderStatus.FAILED, reason=reason)
    except DatabaseError as error:  # recovery aborts it after the lease
        log.warning("order %s: abort not recorded, left to recovery: %s", order_id, error)
        return
    _release_all(store, order_id, attempted)


def _release_all(store: StockStore, order_id: int, lines: list[CartLine] | list[OrderLine]) -> None:
    for line in lines:
        try:
            store.stock.release(line.product_id, order_id, line.quantity, line.variant)
        except StoreError as error:  # the recovery sweep releases what is left
            log.warning("order %s: hold on %s left for recovery: %s", order_id, line.product_id, error)
            return


def _replay(db: Ledgers, order: Order, fingerprint: str) -> CheckoutResult:
    """The same checkout again (double click, resubmitted form, retried request): its first outcome."""
    if order.request_hash != fingerprint:
        raise Conflict(N_("This checkout form was already used for a different cart. Reload the page and try again."))
    deadline = time.monotonic() + _REPLAY_WAIT_SECONDS
    while order.is_placing and time.monotonic() < deadline:
        time.sleep(0.1)  # the first request is still placing it: wait briefly for its decision
        order = db.orders.get(order.order_id) or order  # an order is never deleted
    return CheckoutResult(order.order_id, order.status, order.total_amount, created=False,
                          failure_reason=order.failure_reason)
