"""The store's endpoints for programs: the catalog, the cart, checkout, a customer's orders and
addresses — the same services the pages call, answered as JSON (shop.web.api_v1.schemas)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from flask import request, url_for
from flask_login import current_user
from spectree import Response

from shop.domain.accounts import Role
from shop.domain.api_access import ACCESS_TOKEN_SECONDS
from shop.domain.catalog import Product
from shop.domain.errors import N_, Conflict, InvalidCredentials
from shop.domain.images import ProductImage
from shop.domain.invoicing import parse_invoice_party
from shop.domain.listing import parse_catalog_query
from shop.domain.orders import Order, OrderStatus
from shop.domain.shipping import parse_address
from shop.domain.taxes import order_tax_totals
from shop.domain.variants import item_ref, parse_item_ref
from shop.services import accounts
from shop.services import api_access as api_access_service
from shop.services import carts as cart_service
from shop.services import catalog as catalog_service
from shop.services import orders as order_service
from shop.services import shipping as shipping_service
from shop.web.access import public, roles_required
from shop.web.api_v1.blueprint import bp
from shop.web.api_v1.credentials import issue_access_token
from shop.web.api_v1.openapi import spec
from shop.web.api_v1.schemas import (
    AddressIn,
    AddressList,
    AddressOut,
    Cart,
    CartLineIn,
    CartLineOut,
    CatalogParams,
    Category,
    CategoryList,
    CheckoutIn,
    Created,
    CreditNoteOut,
    IdempotencyHeaders,
    Image,
    LogoutRequest,
    OptionOut,
    OrderItemOut,
    OrderList,
    OrderOut,
    PaymentStartOut,
    ProductDetail,
    ProductPage,
    ProductSummary,
    RedirectOut,
    TaxLine,
    TokenPair,
    TokenRequest,
    VariantOut,
)
from shop.web.auditing import audit
from shop.web.extensions import get_db, get_payment_provider, get_store, limiter, reused, shop_settings, url_key
from shop.web.invoices import pdf_response
from shop.web.orders import checkout_limit, invoiced_order, payment_urls, place_for_current_user, render_invoice

# Keys a client chose that are not UUIDs are mapped to one, stably (the orders table keeps a UUID
# per account and key): the same text always names the same order of the same account.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("8f5b7c1e-3a52-4c1b-9e0f-2d6a3b7c4e11")
_AUTH, _CATALOG, _CART, _ORDERS, _ADDRESSES = "auth", "catalog", "cart", "orders", "addresses"


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


# --- auth --------------------------------------------------------------------------------------------

def _token_limit() -> str:
    return shop_settings().login_rate_limit


@bp.post("/auth/token")
@public
@limiter.limit(_token_limit, key_func=lambda: request.remote_addr or "-")
@spec.validate(json=TokenRequest, resp=Response(HTTP_200=TokenPair), tags=[_AUTH], security={})
def token(json: TokenRequest):
    """A customer's access token (15 minutes) and refresh token (30 days, used once)."""
    db = get_db()
    if json.grant_type == "refresh_token":
        user, refresh_token = api_access_service.refresh(db, json.refresh_token or "")
    else:
        user = accounts.authenticate(db, json.email or "", json.password or "")
        if user.role is not Role.CUSTOMER:
            raise InvalidCredentials(N_("Staff use personal API keys (Account → API keys), not tokens."))
        refresh_token = api_access_service.issue_refresh_token(db, user)
        audit("api.token_issued", f"user:{user.user_id}", actor=user)
    return TokenPair(access_token=issue_access_token(user), expires_in=ACCESS_TOKEN_SECONDS,
                     refresh_token=refresh_token)


@bp.post("/auth/logout")
@roles_required(Role.CUSTOMER)
@spec.validate(json=LogoutRequest, resp=Response("HTTP_204"), tags=[_AUTH])
def logout(json: LogoutRequest):
    """Ends every session and token of the account (an access token is not stored, so it can only be
    ended with all the others)."""
    accounts.end_sessions(get_db(), current_user.user_id)
    audit("user.logout", f"user:{current_user.user_id}", via="api")
    return "", 204


# --- catalog -----------------------------------------------------------------------------------------

def image_out(image: ProductImage) -> Image:
    def url(width: int) -> str:
        return url_for("images.show", name=f"{image.image_id}-{width}.webp")
    return Image(id=image.image_id, url=url(image.largest), alt=image.alt, width=image.width, height=image.height,
                 sizes={str(width): url(width) for width in image.widths}, variant=image.variant)


def _summary_fields(product: Product) -> dict:
    return {"id": product.product_id, "name": product.name, "category": product.category,
            "price": _money(product.price_range[0]), "stock": product.stock, "tax_class": product.tax_class,
            "sku": product.sku, "image": image_out(product.main_image) if product.main_image else None,
            "url": url_for("catalog.product", product_id=product.product_id)}


@bp.get("/products")
@public
@spec.validate(query=CatalogParams, resp=Response(HTTP_200=ProductPage), tags=[_CATALOG], security={})
def products(query: CatalogParams):
    """Products on sale: search (`q`), category, attribute filters (`attr.<name>`), sort, and keyset
    pages (`after=next_cursor`, `before=previous_cursor`), as the home page."""
    args = {name: values for name, values in request.args.to_dict(flat=False).items() if name != "limit"}
    wanted = parse_catalog_query(args, per_page=query.limit)  # bad input: a 4xx, never cached

    def read() -> ProductPage:
        listing = catalog_service.browse_catalog(get_db(), get_store(), wanted)
        return ProductPage(
            items=[ProductSummary(**_summary_fields(product)) for product in listing.items],
            total=listing.total, total_is_exact=listing.total_is_exact,
            next_cursor=listing.next_position.token() if listing.next_position else None,
            previous_cursor=listing.previous_position.token() if listing.previous_position and listing.has_previous
            else None)

    # The same answer for every caller (it holds nothing about who asks), reused like a catalog page
    # for CATALOG_CACHE_SECONDS: stock and prices may be that old; checkout decides on MongoDB.
    return reused(url_key("api-products"), read)


@bp.get("/products/<product_id>")
@public
@spec.validate(resp=Response(HTTP_200=ProductDetail), tags=[_CATALOG], security={})
def product(product_id: str):
    """A product with its attributes, options, variants (each with its SKU, price and stock) and images."""
    return ProductDetail(**detail_fields(catalog_service.product_detail(get_store(), product_id)))


def detail_fields(item: Product) -> dict:
    """A product as its detail shows it (the staff's adds whether it is archived, and its revision)."""
    return {**_summary_fields(item), "description": item.description, "attributes": dict(item.attributes),
            "options": [OptionOut(name=option.name, values=list(option.values)) for option in item.options],
            "variants": [VariantOut(key=v.key, sku=v.sku, values=dict(zip((o.name for o in item.options), v.values,
                                                                            strict=False)),
                                    price=_money(item.price_of(v.key)), stock=v.stock,
                                    ref=item_ref(item.product_id, v.key))
                         for v in item.variants],
            "images": [image_out(image) for image in item.images]}


@bp.get("/categories")
@public
@spec.validate(resp=Response(HTTP_200=CategoryList), tags=[_CATALOG], security={})
def categories():
    """Every category with products on sale, and how many."""
    with get_db().catalog.reading() as index:
        found = index.categories()
    return CategoryList(items=[Category(name=name, products=count) for name, count in sorted(found)])


# --- cart --------------------------------------------------------------------------------------------

def _cart() -> Cart:
    lines = [(*parse_item_ref(ref), quantity) for ref, quantity in get_db().carts.lines(current_user.user_id)]
    products = get_store().catalog.by_ids([pid for pid, _, _ in lines]) if lines else {}
    out, subtotal = [], Decimal("0.00")
    for product_id, variant, quantity in lines:
        found = products.get(product_id)
        available = found is not None and found.sells(variant)
        price = found.price_of(variant) if found is not None and available else Decimal("0.00")
        if available:
            subtotal += price * quantity
        out.append(CartLineOut(ref=item_ref(product_id, variant), product_id=product_id,
                               name=found.name if found else "", variant=found.label_of(variant) if found else None,
                               quantity=quantity, unit_price=_money(price), subtotal=_money(price * quantity),
                               available=available))
    return Cart(lines=out, subtotal=_money(subtotal))


@bp.get("/cart")
@roles_required(Role.CUSTOMER)
@spec.validate(resp=Response(HTTP_200=Cart), tags=[_CART])
def cart():
    """The customer's cart (a line whose product left the catalog says `available: false`)."""
    return _cart()


@bp.put("/cart/items/<ref>")
@roles_required(Role.CUSTOMER)
@spec.validate(json=CartLineIn, resp=Response(HTTP_200=Cart), tags=[_CART])
def put_cart_item(ref: str, json: CartLineIn):
    """Sets how many units of a product (or `product id:variant key`) the cart holds; 0 removes it."""
    cart_service.put_cart_line(get_db(), get_store(), current_user.user_id, ref, json.quantity)
    return _cart()


@bp.delete("/cart/items/<ref>")
@roles_required(Role.CUSTOMER)
@spec.validate(resp=Response(HTTP_200=Cart), tags=[_CART])
def delete_cart_item(ref: str):
    """Takes a line out of the cart (nothing happens if it was not there)."""
    cart_service.put_cart_line(get_db(), get_store(), current_user.user_id, ref, 0)
    return _cart()


# --- checkout and orders -----------------------------------------------------------------------------

def order_out(order: Order, replayed: bool | None = None) -> OrderOut:
    return OrderOut(
        id=order.order_id, status=order.status.value, total=_money(order.total_amount),
        refunded=_money(order.refunded_amount), discount=_money(order.discount_total),
        shipping=_money(order.shipping_amount), created_at=order.created_at,
        pay_before=order.expires_at if order.status is OrderStatus.PENDING else None,
        items=[OrderItemOut(product_id=item.product_id, name=item.product_name, sku=item.sku,
                            variant=item.variant_label, quantity=item.quantity, unit_price=_money(item.unit_price),
                            subtotal=_money(item.subtotal)) for item in order.items],
        taxes=[TaxLine(rate=f"{line.rate:g}", base=_money(line.base), tax=_money(line.tax))
               for line in order_tax_totals(order)],
        tracking=order.tracking_number,
        tracking_url=order.tracking_url,
        invoice=order.invoice.printed_number if order.invoice else None,
        credit_notes=[CreditNoteOut(number=note.printed_number, refund_id=note.refund_id, amount=_money(note.amount),
                                    issued_at=note.issued_at) for note in order.credit_notes],
        replayed=replayed)


def idempotency_uuid(key: str) -> str:
    """The order key for a client's Idempotency-Key: itself if it is a UUID, else a UUID made from it."""
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, key))


@bp.post("/checkout")
@roles_required(Role.CUSTOMER)
@checkout_limit
@spec.validate(json=CheckoutIn, headers=IdempotencyHeaders,
               resp=Response(HTTP_201=OrderOut, HTTP_200=OrderOut), tags=[_ORDERS])
def checkout(json: CheckoutIn, headers: IdempotencyHeaders):
    """Places an order: the lines given, or the whole cart when `items` is left out. Answers 201 with
    the new order; the same Idempotency-Key again answers 200 with that same order (`replayed`).
    With `invoice`, the order gets a full invoice made out to it; an order over the simplified
    invoice's limit (400,00 € by default) is refused (400) without it."""
    if json.items is not None:
        lines: list[tuple[str, object]] = [(item.product_id, item.quantity) for item in json.items]
    else:
        lines = list(get_db().carts.lines(current_user.user_id))
        if not lines:
            raise Conflict(N_("Your cart is empty."))
    party = parse_invoice_party(json.invoice.name, json.invoice.tax_id, json.invoice.address) if json.invoice else None
    result = place_for_current_user(lines, idempotency_uuid(headers.idempotency_key),
                                    discount_code=json.discount_code, address_id=json.address_id,
                                    shipping_method_id=json.shipping_method_id, invoice_party=party, via="api")
    order = order_service.order_for(get_db(), current_user.user, result.order_id)
    return order_out(order, replayed=not result.created), 201 if result.created else 200


@bp.get("/orders")
@roles_required(Role.CUSTOMER)
@spec.validate(resp=Response(HTTP_200=OrderList), tags=[_ORDERS])
def orders():
    """The customer's orders, newest first (the last 100)."""
    return OrderList(items=[order_out(order) for order in get_db().orders.of_user(current_user.user_id)])


@bp.get("/orders/<int(max=2147483647):order_id>")
@roles_required(Role.CUSTOMER)
@spec.validate(resp=Response(HTTP_200=OrderOut), tags=[_ORDERS])
def order(order_id: int):
    """One of the customer's orders (someone else's is a 404)."""
    return order_out(order_service.order_for(get_db(), current_user.user, order_id))


@bp.post("/orders/<int(max=2147483647):order_id>/cancel")
@roles_required(Role.CUSTOMER)
@spec.validate(resp=Response(HTTP_200=OrderOut), tags=[_ORDERS])
def cancel(order_id: int):
    """Cancels a pending order; its units go back to stock."""
    order_service.cancel_order(get_db(), get_store(), current_user.user, order_id)
    audit("order.cancelled", f"order:{order_id}", via="api")
    return order_out(order_service.order_for(get_db(), current_user.user, order_id))


@bp.post("/orders/<int(max=2147483647):order_id>/payment")
@roles_required(Role.CUSTOMER)
@checkout_limit
@spec.validate(resp=Response(HTTP_200=PaymentStartOut), tags=[_ORDERS])
def start_payment(order_id: int):
    """Starts paying a pending order: the customer opens `redirect` (the payment provider's page: the
    shop never takes a card). The provider tells the shop the outcome; read the order to see it."""
    start = order_service.begin_payment(get_db(), get_payment_provider(), current_user.user, order_id,
                                        payment_urls(order_id), shop_settings().payment_limits)
    audit("payment.started" if start.redirect else "payment.succeeded", f"order:{order_id}", via="api")
    target = start.redirect
    return PaymentStartOut(
        order=order_out(order_service.order_for(get_db(), current_user.user, order_id)),
        redirect=RedirectOut(url=target.url, method="POST" if target.method == "POST" else "GET",
                             fields=dict(target.fields)) if target else None)


@bp.get("/orders/<int(max=2147483647):order_id>/invoice")
@roles_required(Role.CUSTOMER)
@spec.validate(resp=Response("HTTP_200"), tags=[_ORDERS])
def invoice(order_id: int):
    """The order's simplified invoice once it is paid: a PDF with `Accept: application/pdf` (the same
    bytes every time), otherwise the printable HTML page (`text/html`)."""
    wanted = request.accept_mimetypes.best_match(["text/html", "application/pdf"], default="text/html")
    if wanted == "application/pdf":
        return pdf_response(invoiced_order(order_id), shop_settings())
    return render_invoice(order_id)


# --- addresses ---------------------------------------------------------------------------------------

def _addresses() -> AddressList:
    return AddressList(items=[
        AddressOut(id=address_id, full_name=a.full_name, street=a.street, postal_code=a.postal_code, city=a.city,
                   province=a.province, country=a.country, phone=a.phone, default=is_default)
        for address_id, a, is_default in get_db().shipping.addresses_of(current_user.user_id)])


@bp.get("/addresses")
@roles_required(Role.CUSTOMER)
@spec.validate(resp=Response(HTTP_200=AddressList), tags=[_ADDRESSES])
def addresses():
    """The customer's address book, the default first."""
    return _addresses()


@bp.post("/addresses")
@roles_required(Role.CUSTOMER)
@spec.validate(json=AddressIn, resp=Response(HTTP_201=Created), tags=[_ADDRESSES])
def add_address(json: AddressIn):
    """Saves an address (the first one, or one marked `default`, becomes the default)."""
    fields = json.model_dump(exclude={"default"})
    address_id = shipping_service.add_address(get_db(), current_user.user_id, parse_address(fields), json.default)
    return Created(id=address_id), 201


@bp.delete("/addresses/<int(max=2147483647):address_id>")
@roles_required(Role.CUSTOMER)
@spec.validate(resp=Response("HTTP_204"), tags=[_ADDRESSES])
def delete_address(address_id: int):
    """Deletes an address (orders already placed keep the address they were sent to)."""
    shipping_service.delete_address(get_db(), current_user.user_id, address_id)
    return "", 204
