"""Placing an order: the distributed transaction across MongoDB (stock) and PostgreSQL (order).

The protocol, its failure table and its proof are in docs/checkout.md. In short:
  1. PostgreSQL: the order is written as `placing`, with a lease and the idempotency key.
  2. MongoDB: each product's stock is taken with a conditional $inc that also sets a hold marker.
  3. PostgreSQL: the decision — `placing` → `pending` (commit) or → `failed` (abort), a
     conditional UPDATE that only one party (this checkout, or recovery after the lease) can win.
  4. MongoDB: the holds of a committed order are settled (markers dropped), of an aborted one released.
Every step can be repeated without effect, so recovery can finish anything a crash interrupted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from shop import failpoints
from shop.adapters.mongo import MongoStore, StoreError
from shop.adapters.postgres import DatabaseError, DatabaseUnavailable, PostgresDatabase
from shop.domain.errors import N_, Conflict, NotFound, Unavailable
from shop.domain.orders import (
    OrderLine,
    OrderStatus,
    OutOfStock,
    normalize_cart,
    order_total,
    out_of_stock,
    parse_idempotency_key,
    price_lines,
    request_hash,
)

log = logging.getLogger(__name__)
_REPLAY_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class CheckoutResult:
    order_id: int
    status: OrderStatus
    total: Decimal
    created: bool  # False: the idempotency key had been used; this is that earlier order
    failure_reason: str | None = None


def place_order(db: PostgresDatabase, store: MongoStore, user_id: int, raw_lines: list[tuple[str, object]],
                idempotency_key: str, *, lease_seconds: int = 30, pending_ttl_minutes: int = 30) -> CheckoutResult:
    """Place one order for all the lines, or none: stock and order both, or neither."""
    cart = normalize_cart(raw_lines)
    key = parse_idempotency_key(idempotency_key)
    fingerprint = request_hash(cart)
    try:
        products = store.products_by_ids([line.product_id for line in cart])
        lines = price_lines(cart, products)
    except (OutOfStock, NotFound):
        # A resubmitted form whose first submission bought the last units is a replay, not a failure.
        earlier = _earlier_order(db, user_id, key)
        if earlier is not None:
            return _replay(db, earlier, fingerprint)
        raise
    except StoreError as error:
        log.warning("catalog unavailable before checkout: %s", error)
        raise Unavailable(N_("The catalog is not answering right now; nothing was ordered. Try again shortly.")) \
            from None

    total = order_total(lines)
    try:
        order, created = db.create_placing_order(user_id, key, fingerprint, lines, total, lease_seconds)
    except DatabaseUnavailable as error:
        log.warning("orders database unavailable at checkout: %s", error)
        raise Unavailable(N_("Orders cannot be taken right now; nothing was ordered. Try again shortly.")) \
            from None
    if not created:
        return _replay(db, order, fingerprint)
    order_id = order["order_id"]
    failpoints.hit("checkout.after_order_created")

    _reserve_all(db, store, order_id, lines)

    try:
        committed = db.decide_placing_order(order_id, OrderStatus.PENDING, pending_ttl_minutes=pending_ttl_minutes)
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

    for line in lines:
        try:
            store.settle_hold(line.product_id, order_id)
        except StoreError as error:  # the order stands; recovery drops the marker later
            log.warning("order %s: hold on %s left for recovery: %s", order_id, line.product_id, error)
            break
        failpoints.hit("checkout.after_settle")
    return CheckoutResult(order_id, OrderStatus.PENDING, total, created=True)


def _reserve_all(db: PostgresDatabase, store: MongoStore, order_id: int, lines: list[OrderLine]) -> None:
    """Step 2, in the cart's fixed order; on any failure the order is aborted and the units released."""
    attempted: list[OrderLine] = []
    try:
        for line in lines:
            attempted.append(line)  # before the call: a network error may hide an applied update
            if not store.reserve_stock(line.product_id, order_id, line.quantity):
                available = store.products_by_ids([line.product_id]).get(line.product_id)
                _abort(db, store, order_id, attempted, f"out of stock: {line.product_id}")
                raise out_of_stock(line.product_name, available.stock if available else 0)
            failpoints.hit("checkout.after_reserve")
    except StoreError as error:
        log.warning("order %s: stock reservation failed: %s", order_id, error)
        _abort(db, store, order_id, attempted, "catalog unavailable")
        raise Unavailable(N_("The catalog stopped answering; your order was not placed and nothing was charged.")) \
            from None


def _abort(db: PostgresDatabase, store: MongoStore, order_id: int, attempted: list[OrderLine], reason: str) -> None:
    try:
        db.decide_placing_order(order_id, OrderStatus.FAILED, reason=reason)
    except DatabaseError as error:  # recovery aborts it after the lease
        log.warning("order %s: abort not recorded, left to recovery: %s", order_id, error)
        return
    _release_all(store, order_id, attempted)


def _release_all(store: MongoStore, order_id: int, lines: list[OrderLine]) -> None:
    for line in lines:
        try:
            store.release_hold(line.product_id, order_id, line.quantity)
        except StoreError as error:  # the recovery sweep releases what is left
            log.warning("order %s: hold on %s left for recovery: %s", order_id, line.product_id, error)
            return


def _earlier_order(db: PostgresDatabase, user_id: int, key: str) -> dict | None:
    try:
        return db.order_by_idempotency_key(user_id, key)
    except DatabaseError:
        return None


def _replay(db: PostgresDatabase, order: dict, fingerprint: str) -> CheckoutResult:
    """The same checkout again (double click, resubmitted form, retried request): its first outcome."""
    if order["request_hash"] != fingerprint:
        raise Conflict(N_("This checkout form was already used for a different cart. Reload the page and try again."))
    deadline = time.monotonic() + _REPLAY_WAIT_SECONDS
    while order["status"] == OrderStatus.PLACING.value and time.monotonic() < deadline:
        time.sleep(0.1)  # the first request is still placing it: wait briefly for its decision
        order = db.get_order(order["order_id"])
    return CheckoutResult(order["order_id"], OrderStatus(order["status"]), order["total_amount"], created=False,
                          failure_reason=order.get("failure_reason"))
