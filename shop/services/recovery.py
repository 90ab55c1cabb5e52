"""Recovery: drives every unfinished order to a final state and every stock marker to rest.

Runs at start-up and every RECOVERY_INTERVAL_SECONDS in each web worker, but only one process at a
time does a pass (a PostgreSQL advisory lock). Each action is idempotent and guarded by the order's
state in PostgreSQL, so a pass can be interrupted anywhere and simply run again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shop import metrics
from shop.adapters.errors import DatabaseError, ProviderUnavailable, StoreError
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain import markers
from shop.domain.audit import AuditEvent
from shop.domain.order_effects import Reason
from shop.domain.orders import OrderStatus
from shop.services.audit import AuditLog
from shop.services.catalog import refresh_option_filters, sync_catalog_index
from shop.services.orders import expire_order, reconcile_payments, return_stock_of_cancelled
from shop.services.ports import PaymentGateway
from shop.services.refunds import restock_refund
from shop.services.staff_lists import catch_up_audit_index

log = logging.getLogger(__name__)
RECOVERY_LOCK_KEY = 7_201_002
# A `returns` marker outlives any request that could still repeat the return (requests are killed
# after 60 s by gunicorn's timeout), so it is only forgotten after this long.
RETURN_MARKER_RETENTION = dt.timedelta(hours=1)
# Audit entries projected into the audit log's filter index per pass (~50k: about two seconds);
# a restored log of a million entries is indexed over a few passes.
AUDIT_CATCH_UP_PER_PASS = 50_000
# The order holds its units (or held them and refunded some, which refunds restock on their own):
# its reservation marker can go.
_SETTLED = {OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.PARTIALLY_REFUNDED,
            OrderStatus.REFUNDED}


@dataclass
class RecoveryReport:
    ran: bool = True
    aborted: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    stock_returned: list[int] = field(default_factory=list)
    holds_settled: int = 0
    holds_released: int = 0
    returns_forgotten: int = 0
    catalog_synced: int = 0
    audit_indexed: int = 0


def recover(db: PostgresDatabase, store: MongoStore, *, now: dt.datetime | None = None,
            audit: AuditLog | None = None) -> RecoveryReport:
    """One pass, if no other process is running one."""
    with db.advisory_lock(RECOVERY_LOCK_KEY) as acquired:
        if not acquired:
            return RecoveryReport(ran=False)
        report = _recover(db, store, now or dt.datetime.now(dt.UTC))
    _count(report)
    if audit is not None:
        for order_id in report.aborted:
            audit.record(AuditEvent("order.abandoned", f"order:{order_id}", details={"by": "recovery"}))
        for order_id in report.expired:
            audit.record(AuditEvent("order.expired", f"order:{order_id}", details={"by": "recovery"}))
        audit.flush_spool()
    return report


def _count(report: RecoveryReport) -> None:
    for action, n in (("aborted", len(report.aborted)), ("expired", len(report.expired)),
                      ("stock_returned", len(report.stock_returned)), ("holds_settled", report.holds_settled),
                      ("holds_released", report.holds_released), ("catalog_synced", report.catalog_synced or 0)):
        if n:
            metrics.RECOVERY_ACTIONS.labels(action).inc(n)


def _recover(db: PostgresDatabase, store: MongoStore, now: dt.datetime) -> RecoveryReport:
    report = RecoveryReport()
    # 1. Checkouts that outlived their lease are aborted: the conditional UPDATE means a checkout
    #    that is merely slow either decided already (we change nothing) or will find it failed.
    for order_id in db.orders.with_expired_lease():
        if db.orders.decide_placing(order_id, OrderStatus.FAILED, reason="abandoned: checkout did not finish",
                                    reason_code=Reason.ABANDONED):
            report.aborted.append(order_id)
    # 2. Unpaid orders past their time are cancelled.
    for order_id in db.orders.unpaid_expired():
        if expire_order(db, store, order_id):
            report.expired.append(order_id)
    # 3. Cancelled orders whose units are not back yet (a crash after the cancellation).
    for order_id in db.orders.cancelled_awaiting_stock():
        if return_stock_of_cancelled(db, store, order_id):
            report.stock_returned.append(order_id)
    # 4. Hold markers: settle those of committed orders, release those of aborted ones.
    _sweep_holds(db, store, report)
    # 5. Refunds whose returned goods are not back in stock yet (a crash after the refund).
    for refund_id in db.refunds.awaiting_stock():
        restock_refund(db, store, refund_id)
    # 6. Return markers of long-finished cancellations and restocks are forgotten.
    _sweep_returns(db, store, now, report)
    # 7. Stock changed since the last pass (marked products): recorded for the low-stock list;
    #    a product is unmarked once nothing is in flight and its stock is the one recorded.
    #    Before that, products sold in options whose sizes in stock changed are projected again, so
    #    their filters offer the sizes they have now (unmarking would hide them from this check).
    refresh_option_filters(db, store)
    _record_stock_levels(db, store)
    # 8. Product writes whose catalog listing was not updated (a crash or PostgreSQL down meanwhile).
    report.catalog_synced = sync_catalog_index(db, store)
    # 9. Audit entries not yet in the audit log's filter index (a bounded batch per pass).
    report.audit_indexed = catch_up_audit_index(db, store, limit=AUDIT_CATCH_UP_PER_PASS)
    # 10. Housekeeping: rate-limit counters whose window is over.
    db.delete_expired_rate_limits()
    if report.aborted or report.expired or report.stock_returned or report.holds_released:
        log.info("recovery: aborted %s, expired %s, stock returned %s, holds settled %d, released %d",
                 report.aborted, report.expired, report.stock_returned, report.holds_settled, report.holds_released)
    return report


def _record_stock_levels(db: PostgresDatabase, store: MongoStore) -> None:
    levels = store.stock.marked_levels()
    recorded = db.catalog.record_stock([(level.product_id, level.listed) for level in levels])
    for level in levels:
        if level.clear and level.product_id in recorded:
            store.stock.unmark(level)


def _markers(db: PostgresDatabase, store: MongoStore, field: str
             ) -> Iterator[tuple[str, int, str | None, Any, tuple[OrderStatus | None, bool]]]:
    """(product id, order id, variant key, marker value, (status, stock_returned)) for every `field`
    marker (a hold's value is its quantity; a return's is {qty, at})."""
    products = store.stock.with_markers(field)
    order_ids = {oid for _, found in products for key in found if (oid := markers.order_of(key)) is not None}
    states = db.orders.states(list(order_ids))
    for product_id, found in products:
        for key, value in found.items():
            order_id = markers.order_of(key)
            if order_id is not None:
                yield product_id, order_id, markers.variant_of(key), value, states.get(order_id, (None, False))


def _sweep_holds(db: PostgresDatabase, store: MongoStore, report: RecoveryReport) -> None:
    for product_id, order_id, variant, quantity, (status, _) in _markers(db, store, markers.HOLDS):
        if status in _SETTLED:
            report.holds_settled += store.stock.settle(product_id, order_id, variant)
        elif status is OrderStatus.FAILED or status is None:
            if status is None:
                log.warning("hold of unknown order %s on product %s: releasing it", order_id, product_id)
            report.holds_released += store.stock.release(product_id, order_id, quantity, variant)
        # placing: still in flight (step 1 aborts it once its lease is over);
        # cancelled: step 3 returns the units through this very hold.


def _sweep_returns(db: PostgresDatabase, store: MongoStore, now: dt.datetime, report: RecoveryReport) -> None:
    """Forget `returns` markers an hour after the stock they remember is back for good: a cancelled
    order's ("o<order id>", once the order says its stock was returned) and a refund's restock
    ("r<refund id>", once the refund says so). One read of the marked products for both."""
    products = store.stock.with_markers(markers.RETURNS)
    keys = [(product_id, key, marker) for product_id, found in products for key, marker in found.items()]
    order_ids = [oid for _, key, _ in keys if (oid := markers.order_of(key)) is not None]
    refund_ids = [rid for _, key, _ in keys if (rid := markers.refund_of(key)) is not None]
    orders_back = {oid: returned for oid, (_, returned) in db.orders.states(order_ids).items()} if order_ids else {}
    refunds_back = db.refunds.stock_states(refund_ids) if refund_ids else {}
    for product_id, key, marker in keys:
        order_id, refund_id = markers.order_of(key), markers.refund_of(key)
        back = (orders_back.get(order_id) if order_id is not None
                else refunds_back.get(refund_id) if refund_id is not None else None)
        at = marker.get("at") if isinstance(marker, dict) else None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        if back and at is not None and now - at > RETURN_MARKER_RETENTION:
            store.stock.forget_marker(product_id, markers.RETURNS, key)
            report.returns_forgotten += 1


def refund_orphans(db: PostgresDatabase, gateway: PaymentGateway, audit: AuditLog | None = None) -> list[int]:
    """Money received for orders that could not take it, whose refund failed when it arrived (the
    provider did not answer, say): asked again now, once per payment (the order's lock and the
    provider's idempotency make a repeat harmless). Returns the payments refunded."""
    refunded = reconcile_payments(db, gateway, refund=True).refunded_now
    if audit is not None and refunded:
        for payment_id in refunded:
            audit.record(AuditEvent("payment.refunded_automatically", f"payment:{payment_id}",
                                    details={"by": "recovery", "provider": gateway.name}))
        audit.flush_spool()
    return refunded


class RecoveryThread(threading.Thread):
    """Runs `recover` every `interval` seconds in a web worker until stopped, and with a payment
    gateway, `refund_orphans` every `refund_interval` seconds (a provider that refuses is not asked
    on every pass)."""

    def __init__(self, make_stores: Callable[[], tuple[PostgresDatabase, MongoStore]], interval: float,
                 spool_path: Path | None = None, make_gateway: Callable[[], PaymentGateway] | None = None,
                 refund_interval: float = 600.0):
        super().__init__(name="order-recovery", daemon=True)
        self._make_stores = make_stores
        self._spool_path = spool_path
        self._interval = interval
        self._make_gateway = make_gateway
        self._refund_interval = refund_interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        db, store = self._make_stores()
        audit = AuditLog(store, self._spool_path, index=db.lists) if self._spool_path else None
        last_refunds = 0.0
        try:
            while not self._stop_event.wait(self._interval):
                try:
                    if recover(db, store, audit=audit).ran and self._make_gateway is not None and \
                            time.monotonic() - last_refunds >= self._refund_interval:
                        last_refunds = time.monotonic()
                        refund_orphans(db, self._make_gateway(), audit)
                except ProviderUnavailable as error:
                    log.warning("refund of orphaned payments failed, will retry: %s", error)
                except (DatabaseError, StoreError) as error:
                    log.warning("recovery pass failed, will retry: %s", error)
                except Exception:  # a bug must not kill the thread silently
                    log.exception("recovery pass crashed, will retry")
        finally:
            db.close()
            store.close()

    def stop(self) -> None:
        self._stop_event.set()
