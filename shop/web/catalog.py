"""Catalog pages: the product list (home page) and a product's page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from shop.domain.catalog import ATTRIBUTE_FILTER_PREFIX, SORT_OPTIONS, parse_catalog_query
from shop.domain.orders import new_idempotency_key
from shop.services import catalog as catalog_service
from shop.web.access import public
from shop.web.extensions import get_store

bp = Blueprint("catalog", __name__)


@bp.get("/")
@public
def index():
    query = parse_catalog_query(request.args.to_dict(flat=False),
                                per_page=current_app.config["PRODUCTS_PER_PAGE"])
    store = get_store()
    page = catalog_service.browse_catalog(store, query)
    facets = store.attribute_facets(query.category) if query.category else {}
    return render_template(
        "catalog/index.html", page=page, query=query, categories=store.categories(), facets=facets,
        selected=dict(query.attributes), sort_options=SORT_OPTIONS, attr_prefix=ATTRIBUTE_FILTER_PREFIX,
    )


@bp.get("/products/<product_id>")
@public
def product(product_id: str):
    item = catalog_service.product_detail(get_store(), product_id)
    return render_template("catalog/product.html", product=item, idempotency_key=new_idempotency_key())
