"""Catalog pages: the product list (home page) and a product's page."""

from __future__ import annotations

import hashlib

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from shop.domain.accounts import Role
from shop.domain.catalog import Product
from shop.domain.errors import Conflict, InvalidInput
from shop.domain.listing import ATTRIBUTE_FILTER_PREFIX, SORT_OPTIONS, parse_catalog_query
from shop.domain.orders import OrderLine, new_idempotency_key
from shop.services import catalog as catalog_service
from shop.services import discounts as discount_service
from shop.services.reviews import may_review
from shop.web.access import public
from shop.web.addresses import shipping_options
from shop.web.cart import limit_code_previews
from shop.web.errors import translate_error
from shop.web.extensions import cache, get_db, get_store, reused, shop_settings, url_key
from shop.web.shared_pages import forget_shared_page

bp = Blueprint("catalog", __name__)


@bp.get("/")
@public
def index():
    query = parse_catalog_query(request.args.to_dict(flat=False),
                                per_page=shop_settings().products_per_page)  # bad input: 4xx, never cached

    def render_results() -> str:
        page = catalog_service.catalog_page(get_db(), get_store(), query)
        return render_template(
            "catalog/_results.html", listing=page.listing, query=query, categories=page.categories,
            facets=page.facets, selected=dict(query.attributes), sort_options=SORT_OPTIONS,
            attr_prefix=ATTRIBUTE_FILTER_PREFIX)

    # One rendering per URL and language. A page holds nothing about who is looking, so it serves
    # everyone; it may show stock and prices up to CATALOG_CACHE_SECONDS old, which checkout never
    # relies on (it decides on MongoDB).
    results = reused(url_key("catalog-page"), render_results)
    return render_template("catalog/index.html", results=Markup(results))  # noqa: S704  # Jinja's own output


@bp.get("/products/<product_id>")
@public
@limit_code_previews
def product(product_id: str):
    return render_product(product_id, reuse=True,
                          **_code_preview(product_id, request.args.get("code", "").strip()[:64]))


def _product_key(product_id: str) -> str:
    """One entry per product, whatever the case of its id in the URL."""
    return "product-page:" + hashlib.sha256(product_id.lower().encode()).hexdigest()


def _shared_part(product_id: str, reuse: bool) -> tuple:
    """What the product page shows everyone — the product, its rating, its visible reviews — reused
    for CATALOG_CACHE_SECONDS like a catalog page (three MongoDB reads, more than half of the page's
    time), and dropped at once by `forget_product` when the product or its reviews change (on every
    instance when the cache is Redis; elsewhere other instances show it at most that long). Forms
    and anything about the person looking are rendered for each request. `reuse=False`: read now (a
    page re-rendered to explain a refused purchase must show the stock that refused it)."""
    def read() -> tuple:
        store = get_store()
        item = catalog_service.product_detail(store, product_id)  # unknown: NotFound, nothing cached
        return item, *store.reviews.summary(item.product_id), store.reviews.of(item.product_id)

    if not reuse:
        shared = read()
        cache.set(_product_key(product_id), shared)
        return shared
    return reused(_product_key(product_id), read)


def forget_product(product_id: str) -> None:
    """The product or its reviews changed: its page is read anew on the next request."""
    cache.delete(_product_key(product_id))
    forget_shared_page(url_for("catalog.product", product_id=product_id))


def _code_preview(product_id: str, code: str) -> dict:
    """What a discount code takes off one unit of this product, for the customer looking, before
    Comprar (or why it does not apply); nothing is taken until the order."""


    if not code or not current_user.is_authenticated or current_user.role is not Role.CUSTOMER:
        return {}
    item = catalog_service.product_detail(get_store(), product_id)
    line = OrderLine(item.product_id, item.name, item.price, 1, category=item.category)
    try:
        return {"code_preview": discount_service.preview_discount(get_db(), current_user.user_id, code, [line])}
    except (InvalidInput, Conflict) as refusal:
        return {"code_error": translate_error(refusal)}


def render_product(product_id: str, reuse: bool = False, **extra):
    """The product page with its reviews (also re-rendered, with a reason, when buying or reviewing fails)."""


    item, average, count, reviews = _shared_part(product_id, reuse)
    user = current_user.user if current_user.is_authenticated else None
    return render_template(
        "catalog/product.html", product=item, idempotency_key=new_idempotency_key(),
        reviews=reviews, review_average=average, review_count=count,
        can_review=may_review(get_db(), user, item.product_id),
        my_review=get_store().reviews.by(item.product_id, user.user_id) if user else None,
        shipping=shipping_options(),
        shown_image=_shown_image(item, request.args.get("imagen"), request.args.get("variante")),
        chosen_variant=_chosen_variant(item, request.form.get("variant") or request.args.get("variante")), **extra)


def _chosen_variant(product: Product, raw: str | None) -> str | None:
    """Which variant the picker has chosen: the one asked for (`?variante=v2`, or the form sent back
    with an error) if it is in stock, else the first in stock."""
    in_stock = [variant.key for variant in product.variants if variant.in_stock]
    return raw if raw in in_stock else next(iter(in_stock), None)


def _shown_image(product: Product, raw: str | None, variant: str | None = None) -> int:
    """Which image the gallery shows large (`?imagen=2`: the second); else the picture of the
    variant asked for (`?variante=v2`), else the main one."""
    if raw and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= len(product.images):
        return int(raw) - 1
    return next((n for n, image in enumerate(product.images) if variant and image.variant == variant), 0)
