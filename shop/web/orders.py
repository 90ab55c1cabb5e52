"""Buying and the "Pedidos" tab: Comprar, checkout of the cart, the shopper's orders, pay, cancel.

A refused action re-renders the page the person was on, with the reason and the matching status
(409 out of stock, 400 bad input, 503 a database down); an unknown or foreign order is a 404.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from shop import metrics
from shop.adapters.errors import StoreError
from shop.adapters.invoice_pdf import QR_LEGEND, qr_svg
from shop.domain.accounts import Role
from shop.domain.errors import N_, Conflict, DomainError, InvalidInput, LimitReached, NotFound, Unavailable
from shop.domain.images import ProductImage
from shop.domain.invoicing import FullInvoiceNeeded, InvoiceParty, parse_invoice_party
from shop.domain.orders import CreditNote, Order, OrderStatus, OutOfStock, PaymentStatus, new_idempotency_key
from shop.domain.payments import ProviderRedirect
from shop.domain.refunds import Refund
from shop.domain.taxes import order_tax_totals
from shop.services import carts as cart_service
from shop.services import checkout
from shop.services import orders as order_service
from shop.services import refunds as refund_service
from shop.services import shipping as shipping_service
from shop.services.checkout import CheckoutPolicy, CheckoutRequest
from shop.web import invoices
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.cart import render_cart
from shop.web.catalog import render_product
from shop.web.confirm import confirmation_page
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db, get_payment_provider, get_settlements, get_store, limiter, shop_settings
from shop.web.formatting import decline_label, money
from shop.web.invoices import credit_note_lines, pdf_file, pdf_response
from shop.web.links import public_url_for

bp = Blueprint("orders", __name__, url_prefix="/orders")
log = logging.getLogger(__name__)
_REFUSALS = (InvalidInput, Conflict, Unavailable)


def place_for_current_user(lines: list[tuple[str, object]], idempotency_key: str, discount_code: str | None = None,
                           address_id=None, shipping_method_id=None, invoice_party: InvoiceParty | None = None,
                           **audit_details):
    """The checkout for the logged-in customer, with this process's settings, recorded in the audit
    log and counted in the metrics (shop_checkouts_total)."""
    try:
        shipping = shipping_service.shipping_choice(get_db(), current_user.user_id, address_id, shipping_method_id)
        wanted = CheckoutRequest(current_user.user_id, lines, idempotency_key, discount_code=discount_code,
                                 shipping=shipping, client_address=request.remote_addr, invoice_party=invoice_party)
        result = checkout.place_order(get_db(), get_store(), wanted, _checkout_policy(), settlements=get_settlements())
    except DomainError as error:
        metrics.CHECKOUTS.labels(*_checkout_refusal(error)).inc()
        raise
    metrics.CHECKOUTS.labels("placed" if result.created else "replayed",
                             "" if result.status is not OrderStatus.FAILED else "failed").inc()
    if result.created:
        if discount_code:
            audit_details["discount_code"] = discount_code.strip().upper()[:32]
        audit(f"order.{'placed' if result.status is OrderStatus.PENDING else result.status.value}",
              f"order:{result.order_id}", total=str(result.total), lines=len(lines), **audit_details)
    return result


def _checkout_policy() -> CheckoutPolicy:
    """This shop's checkout settings (as the app was configured)."""
    settings = shop_settings()
    return CheckoutPolicy(lease_seconds=settings.checkout_lease_seconds,
                          pending_ttl_minutes=settings.pending_order_ttl_minutes, limits=settings.unpaid_limits,
                          tax_rates=settings.tax_rates, low_stock_threshold=settings.low_stock_threshold,
                          shipping_tax_rule=settings.shipping_tax_rule,
                          simplified_invoice_limit=settings.simplified_invoice_limit)


def _checkout_refusal(error: DomainError) -> tuple[str, str]:
    """(outcome, reason) of a checkout that raised: refused by a rule, or failed (a database down)."""
    if isinstance(error, Unavailable):
        return "failed", "unavailable"
    for cls, reason in ((LimitReached, "unpaid_limit"), (OutOfStock, "out_of_stock"), (NotFound, "not_found"),
                        (InvalidInput, "invalid"), (Conflict, "conflict")):
        if isinstance(error, cls):
            return "refused", reason
    return "refused", "other"


def _per_account() -> str:
    return f"user:{current_user.user_id}" if current_user.is_authenticated else request.remote_addr or "-"


# One budget, per account, for placing orders (Comprar, the cart, the API) and paying them.
checkout_limit = limiter.shared_limit(lambda: shop_settings().checkout_rate_limit, scope="checkout",
                                      key_func=_per_account)


def invoice_party_from_form() -> InvoiceParty | None:
    """The full invoice's data when the customer asked for one at checkout (checked here)."""
    form = request.form
    if form.get("full_invoice") != "1":
        return None
    return parse_invoice_party(form.get("invoice_name"), form.get("invoice_tax_id"), form.get("invoice_address"))


def _place(lines: list[tuple[str, object]]):
    result = place_for_current_user(lines, request.form.get("idempotency_key", ""),
                                    discount_code=request.form.get("discount_code") or None,
                                    address_id=request.form.get("address_id"),
                                    shipping_method_id=request.form.get("shipping_method_id"),
                                    invoice_party=invoice_party_from_form())
    if result.status is OrderStatus.PENDING:
        flash(gettext("Order %(order)d placed. Total: %(total)s. Pay it within %(minutes)d minutes to keep it.",
                      order=result.order_id, total=money(result.total),
                      minutes=shop_settings().pending_order_ttl_minutes), "success")
    elif result.status is OrderStatus.PLACING:
        flash(gettext("Order %(order)d is still being placed; reload this page to see its outcome.",
                      order=result.order_id), "info")
    elif result.status is OrderStatus.FAILED:
        flash(gettext("Order %(order)d could not be placed; nothing was charged.", order=result.order_id), "danger")
    return redirect(url_for("orders.detail", order_id=result.order_id), 303)


@bp.post("/buy")
@roles_required(Role.CUSTOMER)
@checkout_limit
def buy():
    """The seed's "Comprar": one product and a quantity, placed at once if there is stock."""
    product_id = request.form.get("product_id", "")
    variant = request.form.get("variant", "")  # the option picker's choice, for a product sold in options
    ref = f"{product_id}:{variant}" if variant else product_id
    try:
        return _place([(ref, request.form.get("quantity", ""))])
    except FullInvoiceNeeded as error:
        # Comprar has no room for a full invoice's data; the cart has: the product waits there.
        cart_service.add_to_cart(get_db(), get_store(), current_user.user_id, ref, request.form.get("quantity", ""))
        flash(translate_error(error), "warning")
        return redirect(url_for("cart.show"), 303)
    except (*_REFUSALS, NotFound) as error:
        audit("order.refused", f"product:{product_id[:24]}", reason=error.template % error.params
              if error.params else error.template)
        try:
            return render_product(product_id, error=translate_error(error)), status_for(error)
        except (InvalidInput, NotFound):
            raise error from None


@bp.post("/checkout")
@roles_required(Role.CUSTOMER)
@checkout_limit
def checkout_cart():
    """Checkout of the whole cart: every line or none."""
    try:
        return _place(get_db().carts.lines(current_user.user_id))
    except (*_REFUSALS, NotFound) as error:
        return render_cart(error=translate_error(error)), status_for(error)


@bp.get("/")
@roles_required(Role.CUSTOMER, *STAFF)
def index():
    if current_user.role is not Role.CUSTOMER:  # staff have no orders of their own: the "Pedidos" tab lists all
        return redirect(url_for("staff_orders.index"))
    return render_template("orders/index.html", orders=get_db().orders.of_user(current_user.user_id))


# Asking for an order that is not yours (or does not exist) is answered 404 like any missing order,
# and remembered in the audit log — at most this often per person, so the log cannot be flooded.
_PROBES_RECORDED = parse_limit("5 per minute")


def _record_probe(order_id: int, attempted: str = "view") -> None:
    # Its own counter in the rate-limit store (shared by every process and instance); it
    # counts even where request rate limiting is switched off.
    counter = current_app.extensions.get("shop.probe_counter")
    if counter is None:
        uri, options = shop_settings().rate_limit_store
        storage = storage_from_string(uri, **options)
        counter = current_app.extensions["shop.probe_counter"] = FixedWindowRateLimiter(storage)
    if counter.hit(_PROBES_RECORDED, "order-probe", str(current_user.user_id)):
        audit("order.probed", f"order:{order_id}", attempted=attempted)


def render_order(order_id: int, error: str | None = None, attempted: str = "view"):
    """An order's page: the customer's own, or any order for staff (with the customer and, for
    admins, the staff actions its status allows)."""
    db = get_db()
    try:
        order = order_service.order_for(db, current_user.user, order_id)
    except NotFound:
        _record_probe(order_id, attempted)
        raise
    status = order.status
    role = current_user.role
    customer = db.users.get(order.user_id) if role in STAFF else None
    staff_actions = order_service.staff_actions(order) if role is Role.ADMIN else ()
    refundable = role is Role.ADMIN and status in refund_service.REFUNDABLE
    return render_template("orders/detail.html", order=order, error=error, customer=customer,
                           customer_may_pay=role is Role.CUSTOMER and status is OrderStatus.PENDING,
                           staff_actions=staff_actions, tax_totals=order_tax_totals(order),
                           refunds=db.refunds.of_order(order_id), refundable=refundable,
                           refund_key=new_idempotency_key() if refundable else None,
                           line_images=_line_images(order))


def _line_images(order: Order) -> dict[int, ProductImage]:
    """Each line's picture (its variant's, else its product's main image, as they are now), by order
    item; none when MongoDB does not answer: the order page is PostgreSQL's and shows without them."""
    try:
        products = get_store().catalog.by_ids(sorted({item.product_id for item in order.items}),
                                              include_archived=True)
    except StoreError:
        return {}
    pictures = {item.order_item_id: products[item.product_id].image_of(item.variant) for item in order.items
                if item.product_id in products}
    return {item_id: image for item_id, image in pictures.items() if image is not None}


@bp.get("/<int:order_id>/invoice")
@roles_required(Role.CUSTOMER, *STAFF)
def invoice(order_id: int):
    """The printable simplified invoice of a paid order (the customer's own, or any for staff)."""
    return render_invoice(order_id)


@bp.get("/<int:order_id>/invoice.pdf")
@roles_required(Role.CUSTOMER, *STAFF)
def invoice_pdf(order_id: int):
    """The invoice as a PDF (the same bytes every time), for the customer, staff and auditors."""
    return pdf_response(invoiced_order(order_id), shop_settings())


def _credit_note(order_id: int, refund_id: int) -> tuple[Order, CreditNote, Refund | None]:
    order = invoiced_order(order_id)
    note = next((note for note in order.credit_notes if note.refund_id == refund_id), None)
    if note is None:
        raise NotFound(N_("That credit note does not exist."))
    refund = next((refund for refund in get_db().refunds.of_order(order_id) if refund.refund_id == refund_id), None)
    return order, note, refund


@bp.get("/<int:order_id>/credit-notes/<int:refund_id>")
@roles_required(Role.CUSTOMER, *STAFF)
def credit_note(order_id: int, refund_id: int):
    """A refund's factura rectificativa, printable, for the customer, staff and auditors."""
    order, note, refund = _credit_note(order_id, refund_id)
    return render_template("orders/credit_note.html", order=order, note=note,
                           lines=credit_note_lines(order, note, refund), seller=shop_settings(),
                           **_qr(note.printed_number, note.issued_at, note.amount))


@bp.get("/<int:order_id>/credit-notes/<int:refund_id>.pdf")
@roles_required(Role.CUSTOMER, *STAFF)
def credit_note_pdf(order_id: int, refund_id: int):
    order, note, refund = _credit_note(order_id, refund_id)
    return pdf_file(invoices.credit_note_pdf(order, note, refund, shop_settings()),
                    invoices.credit_note_file_name(note))


def invoiced_order(order_id: int) -> Order:
    """An invoiced order the person looking may see (404 otherwise, or before it is paid)."""
    try:
        order = order_service.order_for(get_db(), current_user.user, order_id)
    except NotFound:
        _record_probe(order_id)
        raise
    if order.invoice is None:
        raise NotFound(N_("This order has no invoice yet: it is issued when the order is paid."))
    return order


def render_invoice(order_id: int) -> str:
    """The invoice page of an order the person looking may see (404 otherwise, or before it is paid)."""
    order = invoiced_order(order_id)
    assert order.invoice is not None  # noqa: S101 - invoiced_order refuses the others
    return render_template("orders/invoice.html", order=order, tax_totals=order_tax_totals(order),
                           number=order.invoice.printed_number, seller=shop_settings(),
                           **_qr(order.invoice.printed_number, order.invoice.issued_at, order.total_amount))


def _qr(number: str, issued_at: dt.datetime, total: Decimal) -> dict:
    """What a printable invoice shows of its QR code: the legend, the image and the address it holds."""
    url = invoices.invoice_qr(number, issued_at, total, shop_settings())
    return {"qr_legend": QR_LEGEND, "qr_image": qr_svg(url), "qr_url": url}


@bp.get("/<int:order_id>")
@roles_required(Role.CUSTOMER, *STAFF)
def detail(order_id: int):
    return render_order(order_id)


@bp.post("/<int:order_id>/pay")
@roles_required(Role.CUSTOMER)
@checkout_limit
def pay(order_id: int):
    """Send the customer to the provider's page to pay a pending order (docs/payments.md). The shop
    never asks for a card: the provider does, on its own page, and tells the shop the outcome."""
    try:
        start = order_service.begin_payment(get_db(), get_payment_provider(), current_user.user, order_id,
                                            payment_urls(order_id), shop_settings().payment_limits)
    except NotFound:
        _record_probe(order_id, "pay")
        raise
    except _REFUSALS as error:
        if isinstance(error, LimitReached):
            log.info("payment of order %s refused while paused", order_id)
        return render_order(order_id, translate_error(error), attempted="pay"), status_for(error)
    if start.redirect is None:  # nothing to charge: paid at once
        audit("payment.succeeded", f"order:{order_id}", amount="0.00")
        flash(gettext("Payment received: order %(order)d is paid.", order=order_id), "success")
        return redirect(url_for("orders.detail", order_id=order_id), 303)
    audit("payment.started", f"order:{order_id}", provider=get_payment_provider().name)
    return redirect_to_provider(start.redirect)


def payment_urls(order_id: int) -> order_service.PaymentUrls:
    """The addresses the provider is given: where the customer comes back, where it posts the
    outcome. From PUBLIC_URL for a real provider (never from the Host header), the shop's own paths
    for the simulated one (its page is part of this shop)."""
    provider = get_payment_provider().name
    link = url_for if provider == "simulated" else public_url_for
    return order_service.PaymentUrls(
        description=gettext("Order %(order)d", order=order_id),
        return_url=link("orders.payment_return", order_id=order_id),
        notify_url=link("payments.notify", provider=provider))


def redirect_to_provider(target: ProviderRedirect):
    """A link is followed at once; a form (Redsys) is posted by the customer's browser from a page
    with one button (and no script: it works wherever the shop does)."""
    if target.method == "GET":
        return redirect(target.url, 303)
    return render_template("orders/to_provider.html", target=target)


@bp.get("/<int:order_id>/payment")
@roles_required(Role.CUSTOMER)
def payment_return(order_id: int):
    """Where the provider sends the customer back: the order says what the provider's notification
    decided (a notification may still be on its way: then the page says so)."""
    order = order_service.order_for(get_db(), current_user.user, order_id)
    latest = order.payments[-1] if order.payments else None
    if order.status in (OrderStatus.PAID, OrderStatus.SHIPPED):
        flash(gettext("Payment received: order %(order)d is paid.", order=order_id), "success")
    elif latest is not None and latest.status is PaymentStatus.DECLINED:
        flash(gettext("The payment was declined (%(reason)s). The order is still pending; try another card.",
                      reason=decline_label(latest.decline_reason)), "danger")
    elif latest is not None and latest.status is PaymentStatus.PENDING:
        flash(gettext("We are waiting for the bank to confirm your payment; reload this page in a moment."), "info")
    return redirect(url_for("orders.detail", order_id=order_id), 303)


@bp.post("/<int:order_id>/cancel")
@roles_required(Role.CUSTOMER)
def cancel(order_id: int):
    try:
        order = order_service.order_for(get_db(), current_user.user, order_id)  # someone else's: 404, not asked
        if order.may_become(OrderStatus.CANCELLED):  # (one that cannot be cancelled is refused below, unasked)
            asked = confirmation_page(gettext("Cancel order %(order)d?", order=order_id),
                                      gettext("The order is cancelled for good; its units go back on sale."),
                                      gettext("Yes, cancel the order"), url_for("orders.detail", order_id=order_id))
            if asked is not None:
                return asked
        order_service.cancel_order(get_db(), get_store(), current_user.user, order_id)
    except NotFound:
        _record_probe(order_id, "cancel")
        raise
    except _REFUSALS as error:
        return render_order(order_id, translate_error(error), attempted="cancel"), status_for(error)
    audit("order.cancelled", f"order:{order_id}")
    flash(gettext("Order %(order)d cancelled; its units are back in stock.", order=order_id), "info")
    return redirect(url_for("orders.detail", order_id=order_id), 303)
