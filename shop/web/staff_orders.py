"""Staff order management: every customer's orders, filtered; mark paid or shipped; cancel.

The same lifecycle rules and row locks as the customer's own actions (shop.services.orders):
a cancellation returns the units exactly once, whoever cancels.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from shop.domain.accounts import Role
from shop.domain.errors import N_, Conflict, InvalidInput, NotFound
from shop.domain.filters import PAYMENT_STATUSES, parse_order_filter, parse_payment_filter
from shop.domain.orders import OrderStatus, parse_shipment
from shop.domain.refunds import parse_refund_form
from shop.services import orders as order_service
from shop.services import refunds as refund_service
from shop.services import staff_lists
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.confirm import confirmation_page
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db, get_payment_provider, get_report_db, get_store
from shop.web.formatting import money
from shop.web.orders import render_order

bp = Blueprint("staff_orders", __name__, url_prefix="/admin/orders")


@bp.get("/")
@roles_required(*STAFF)
def index():
    order_filter = parse_order_filter(request.args.to_dict(flat=False))
    return render_template("staff/orders.html", listing=staff_lists.list_orders(get_report_db(), order_filter),
                           filter=order_filter, statuses=[status.value for status in OrderStatus])


@bp.get("/payments")
@roles_required(*STAFF)
def payments():
    """Every payment attempt, accepted or declined, across all orders."""
    payment_filter = parse_payment_filter(request.args.to_dict(flat=False))
    return render_template("staff/payments.html", listing=staff_lists.list_payments(get_report_db(), payment_filter),
                           filter=payment_filter, statuses=PAYMENT_STATUSES)


def _act(order_id: int, action, event: str, message: str):
    try:
        action()
    except Conflict as error:
        return render_order(order_id, translate_error(error)), status_for(error)
    audit(event, f"order:{order_id}", by="staff")
    flash(message, "success")
    return redirect(url_for("orders.detail", order_id=order_id), 303)


@bp.post("/<int:order_id>/paid")
@roles_required(Role.ADMIN)
def mark_paid(order_id: int):
    return _act(order_id, lambda: order_service.mark_paid(get_db(), current_user.user, order_id), "order.paid",
                gettext("Order %(order)d marked as paid.", order=order_id))


@bp.post("/<int:order_id>/shipped")
@roles_required(Role.ADMIN)
def mark_shipped(order_id: int):
    try:
        shipment = parse_shipment(request.form.get("carrier"), request.form.get("tracking_number"))
    except InvalidInput as error:
        return render_order(order_id, translate_error(error)), status_for(error)
    return _act(order_id, lambda: order_service.mark_shipped(get_db(), current_user.user, order_id, shipment),
                "order.shipped", gettext("Order %(order)d marked as shipped.", order=order_id))


@bp.post("/<int:order_id>/cancel")
@roles_required(Role.ADMIN)
def cancel(order_id: int):
    return _act(order_id, lambda: order_service.cancel_order(get_db(), get_store(), current_user.user, order_id,
                                                             reason="cancelled by staff"),
                "order.cancelled", gettext("Order %(order)d cancelled; its units are back in stock.", order=order_id))


@bp.post("/<int:order_id>/refund")
@roles_required(Role.ADMIN)
def refund(order_id: int):
    """Refund units of a paid or shipped order (all that are left with `full=1`), with a reason;
    the goods go back to stock only when the admin says they came back."""
    full = request.form.get("full") == "1"
    if full and (asked := confirmation_page(
            gettext("Refund everything left of order %(order)d?", order=order_id),
            gettext("Every unit not refunded yet, and the shipping if it was not refunded, goes back to the "
                    "customer. This cannot be undone."),
            gettext("Yes, refund everything"), url_for("orders.detail", order_id=order_id))) is not None:
        return asked
    try:
        order = get_db().orders.get(order_id)
        if order is None:
            raise NotFound(N_("Order not found."))
        refund_request = parse_refund_form(request.form, [item.order_item_id for item in order.items], full=full)
        outcome = refund_service.refund_order(get_db(), get_store(), get_payment_provider(), current_user.user,
                                              order_id, refund_request, request.form.get("idempotency_key", ""),
                                              full=full)
    except (Conflict, InvalidInput) as error:
        return render_order(order_id, translate_error(error)), status_for(error)
    if not outcome.replayed:
        audit("order.refunded", f"order:{order_id}", refund=outcome.refund_id, amount=str(outcome.amount),
              reason=refund_request.reason, goods_returned=refund_request.goods_returned, by="staff")
    flash(gettext("Refunded %(amount)s of order %(order)d.", amount=money(outcome.amount), order=order_id), "success")
    return redirect(url_for("orders.detail", order_id=order_id), 303)
