"""The cart: a customer's is kept in PostgreSQL; a visitor's (someone not logged in) in their
session, and it joins their account's cart when they log in (`join_visitor_cart`). Add, change
quantities, remove, see the totals; checking out needs a customer account."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_limiter.util import get_remote_address
from flask_login import current_user

from shop.domain.accounts import Role
from shop.domain.cart import cart_totals
from shop.domain.errors import Conflict, InvalidInput
from shop.domain.orders import OrderLine, new_idempotency_key
from shop.domain.variants import item_ref, parse_item_ref
from shop.domain.visitor_cart import SESSION_KEY, VisitorCart
from shop.services import carts as cart_service
from shop.services import discounts as discount_service
from shop.web.access import visitors_and
from shop.web.addresses import shipping_options
from shop.web.errors import translate_error
from shop.web.extensions import csrf, get_db, get_store, limiter, shop_settings
from shop.web.shared_pages import protect_token_less_form

bp = Blueprint("cart", __name__, url_prefix="/cart")


def _no_code_typed() -> bool:
    return not request.args.get("code", "").strip()


def _code_limit() -> str:
    return shop_settings().discount_code_rate_limit


def _account_key() -> str:
    return f"user:{current_user.user_id}" if current_user.is_authenticated else get_remote_address()


# Trying discount codes (the cart's Aplicar, the product page's preview) is guessing them: one
# budget per account and one per client address, like logins, shared by both pages.
code_preview_limits = (
    limiter.shared_limit(_code_limit, scope="discount-code-account", key_func=_account_key,
                         exempt_when=_no_code_typed),
    limiter.shared_limit(_code_limit, scope="discount-code-address", key_func=get_remote_address,
                         exempt_when=_no_code_typed),
)


def limit_code_previews(view):
    for limit in code_preview_limits:
        view = limit(view)
    return view


def render_cart(error: str | None = None, code: str | None = None) -> str:
    return _cart_page(error, code)[0]


def _cart_page(error: str | None = None, code: str | None = None) -> tuple[str, bool]:
    """The cart; with `code`, what that discount code takes off it, or why it does not apply
    (then True: the page says no to what was asked)."""
    visitor = not current_user.is_authenticated
    lines = (VisitorCart.from_session(session).items() if visitor
             else [(*parse_item_ref(ref), quantity) for ref, quantity in get_db().carts.lines(current_user.user_id)])
    products = get_store().catalog.by_ids([pid for pid, _, _ in lines]) if lines else {}
    rows, missing = [], []
    for product_id, variant, quantity in lines:
        product = products.get(product_id)
        if product is None or not product.sells(variant):
            missing.append(item_ref(product_id, variant))
            continue
        rows.append((product, OrderLine(product_id, product.name, product.price_of(variant), quantity,
                                        shop_settings().tax_rates[product.tax_class], category=product.category,
                                        variant=variant, sku=product.sku_of(variant),
                                        variant_label=product.label_of(variant))))
    preview, code_error = None, None
    if code and rows and not visitor:  # a code's uses are counted per account
        try:
            preview = discount_service.preview_discount(get_db(), current_user.user_id, code,
                                                        [line for _, line in rows])
        except (InvalidInput, Conflict) as refusal:
            code_error = translate_error(refusal)
    shipping = shipping_options()  # a customer's addresses and the methods; None for a visitor
    methods = shipping.methods if shipping else get_db().shipping.methods(active_only=True) if visitor else []
    totals = cart_totals([line for _, line in rows], preview.discount if preview else None,
                         methods, shop_settings().tax_rates,
                         shop_settings().shipping_tax_rule)
    limit = shop_settings().simplified_invoice_limit
    return render_template("cart/show.html", rows=rows, missing=missing, totals=totals, error=error,
                           invoice_limit=limit, invoice_required=any(total.total > limit for total in totals),
                           invoice_form=request.form if request.method == "POST" else {},
                           idempotency_key=new_idempotency_key(), preview=preview, code=code or "",
                           code_error=code_error, shipping=shipping, visitor=visitor), code_error is not None


@bp.get("/")
@visitors_and(Role.CUSTOMER)
@limit_code_previews
def show():
    page, refused = _cart_page(code=request.args.get("code", "").strip()[:64] or None)
    return page, 400 if refused else 200


@bp.post("/add")
@csrf.exempt  # checked below: a visitor's product page may come from a shared cache, with no token
@visitors_and(Role.CUSTOMER)
def add():
    protect_token_less_form()
    product_id, variant = request.form.get("product_id", ""), request.form.get("variant", "")
    ref, quantity = f"{product_id}:{variant}" if variant else product_id, request.form.get("quantity", "")
    if current_user.is_authenticated:
        product = cart_service.add_to_cart(get_db(), get_store(), current_user.user_id, ref, quantity)
    else:
        cart = VisitorCart.from_session(session)
        product = cart_service.add_to_visitor_cart(get_store(), cart, ref, quantity)
        session[SESSION_KEY] = cart.as_session()
    flash(gettext("%(name)s added to your cart.", name=product.name), "success")
    return redirect(url_for("cart.show"), 303)


@bp.post("/update")
@visitors_and(Role.CUSTOMER)
def update():
    ref, quantity, remove = request.form.get("product_id", ""), request.form.get("quantity", ""), \
        bool(request.form.get("remove"))
    if current_user.is_authenticated:
        cart_service.change_cart_line(get_db(), current_user.user_id, ref, quantity, remove=remove)
    else:
        cart = VisitorCart.from_session(session)
        cart_service.change_visitor_cart_line(cart, ref, quantity, remove=remove)
        session[SESSION_KEY] = cart.as_session()
    return redirect(url_for("cart.show"), 303)


@bp.errorhandler(InvalidInput)
def invalid_cart_input(error: InvalidInput):
    return render_cart(error=translate_error(error)), 400
