"""Staff endpoints for programs (an ERP syncing stock, a warehouse marking parcels shipped, an
auditor's tool reading the log): with a personal API key, each limited by the key's scopes; an
auditor's key only reads. The same services as the staff pages, audited the same way."""

from __future__ import annotations

from flask import request
from flask_login import current_user
from spectree import Response

from shop.domain.accounts import Role
from shop.domain.api_access import Scope
from shop.domain.catalog import parse_stock_adjustment
from shop.domain.filters import parse_audit_filter, parse_order_filter
from shop.domain.orders import parse_shipment
from shop.domain.refunds import parse_refund_form
from shop.services import catalog as catalog_service
from shop.services import orders as order_service
from shop.services import refunds as refund_service
from shop.services import staff_lists
from shop.web.access import STAFF, roles_required
from shop.web.api_v1.blueprint import bp
from shop.web.api_v1.credentials import scope_required
from shop.web.api_v1.openapi import spec
from shop.web.api_v1.schemas import (
    AuditEntryOut,
    AuditPage,
    IdempotencyHeaders,
    OrderOut,
    RefundIn,
    RefundOut,
    ShipmentIn,
    StaffListParams,
    StaffOrder,
    StaffOrderPage,
    StockAdjustmentIn,
    StockLevel,
)
from shop.web.api_v1.store import idempotency_uuid, order_out
from shop.web.auditing import audit
from shop.web.catalog import forget_product
from shop.web.extensions import get_db, get_payment_provider, get_report_db, get_store
from shop.web.staff_products import tell_subscribers_if_stock_fell_low

_STAFF = "staff"


def _list_args() -> dict[str, list[str]]:
    return request.args.to_dict(flat=False)


@bp.get("/admin/orders")
@roles_required(*STAFF)
@scope_required(Scope.ORDERS_READ)
@spec.validate(query=StaffListParams, resp=Response(HTTP_200=StaffOrderPage), tags=[_STAFF])
def staff_orders(query: StaffListParams):
    """Every customer's orders, newest first, with the staff list's filters (`status`, `q`, `from`,
    `to`) and keyset pages (`after`). Scope `orders:read`."""
    listing = staff_lists.list_orders(get_report_db(), parse_order_filter(_list_args()))
    return StaffOrderPage(
        items=[StaffOrder(id=row.order_id, status=row.status.value, total=f"{row.total_amount:.2f}",
                          created_at=row.created_at, customer_email=row.email, customer_name=row.full_name)
               for row in listing.items],
        next_cursor=listing.next_position.token() if listing.next_position else None)


@bp.post("/admin/orders/<int(max=2147483647):order_id>/ship")
@roles_required(Role.ADMIN)
@scope_required(Scope.ORDERS_WRITE)
@spec.validate(json=ShipmentIn, resp=Response(HTTP_200=OrderOut), tags=[_STAFF])
def ship(order_id: int, json: ShipmentIn):
    """Marks a paid order shipped, with the carrier and tracking number if given. Scope `orders:write`."""
    shipment = parse_shipment(json.carrier, json.tracking)
    order_service.mark_shipped(get_db(), current_user.user, order_id, shipment)
    audit("order.shipped", f"order:{order_id}", by="staff", via="api")
    return order_out(order_service.order_for(get_db(), current_user.user, order_id))


@bp.post("/admin/orders/<int(max=2147483647):order_id>/refunds")
@roles_required(Role.ADMIN)
@scope_required(Scope.REFUNDS_WRITE)
@spec.validate(json=RefundIn, headers=IdempotencyHeaders, resp=Response(HTTP_201=RefundOut, HTTP_200=RefundOut),
               tags=[_STAFF])
def refund(order_id: int, json: RefundIn, headers: IdempotencyHeaders):
    """Refunds units of a paid or shipped order through its payment provider (or all that is left,
    with `full`). The same Idempotency-Key answers the first refund again (200) and refunds nothing
    more. Scope `refunds:write`."""
    order = order_service.order_for(get_db(), current_user.user, order_id)
    form = {"reason": json.reason, "goods_returned": "1" if json.goods_returned else "",
            **{f"units_{item_id}": str(units) for item_id, units in json.units.items()}}
    wanted = parse_refund_form(form, [item.order_item_id for item in order.items], full=json.full)
    outcome = refund_service.refund_order(get_db(), get_store(), get_payment_provider(), current_user.user, order_id,
                                          wanted, idempotency_uuid(headers.idempotency_key), full=json.full)
    if not outcome.replayed:
        audit("order.refunded", f"order:{order_id}", refund=outcome.refund_id, amount=str(outcome.amount),
              reason=wanted.reason, goods_returned=wanted.goods_returned, by="staff", via="api")
    answer = RefundOut(refund_id=outcome.refund_id, amount=f"{outcome.amount:.2f}", replayed=outcome.replayed,
                       order=order_out(order_service.order_for(get_db(), current_user.user, order_id)))
    return answer, 200 if outcome.replayed else 201


@bp.post("/admin/products/<product_id>/stock")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=StockAdjustmentIn, resp=Response(HTTP_200=StockLevel), tags=[_STAFF])
def adjust_stock(product_id: str, json: StockAdjustmentIn):
    """Adds or removes units (of a variant, for a product sold in options) in one atomic update that
    never goes below zero; audited with its reason. Scope `catalog:write`."""
    delta, reason = parse_stock_adjustment(str(json.delta), json.reason)
    done = catalog_service.adjust_stock(get_store(), product_id, delta, reason, json.variant)
    variant = {"variant": done.variant, "sku": done.sku} if done.variant else {}
    audit("stock.adjusted", f"product:{done.product_id}", delta=done.delta, before=done.before, after=done.after,
          reason=done.reason, via="api", **variant)
    tell_subscribers_if_stock_fell_low(done)
    forget_product(done.product_id)
    return StockLevel(product_id=done.product_id, variant=done.variant, stock=done.after)


@bp.get("/admin/audit-log")
@roles_required(*STAFF)
@scope_required(Scope.AUDIT_READ)
@spec.validate(query=StaffListParams, resp=Response(HTTP_200=AuditPage), tags=[_STAFF])
def audit_log(query: StaffListParams):
    """The audit log, newest first, with the log page's filters (`action`, `actor`, `target`, `from`,
    `to`) and keyset pages (`after`). Read-only. Scope `audit:read`."""
    store = get_store()
    listing, _ = staff_lists.read_audit_page(get_db(), get_report_db(), store, parse_audit_filter(_list_args()),
                                             store.audit.head_mark())
    return AuditPage(
        items=[AuditEntryOut(seq=entry.seq, at=entry.ts, action=entry.action, target=entry.target,
                             actor_id=entry.actor_id, actor_role=entry.actor_role, details=dict(entry.details),
                             hash=entry.hash) for entry in listing.items],
        next_cursor=listing.next_position.token() if listing.next_position else None)
