"""Catalog use cases: browse the catalog, show a product, load the demo catalog."""

from __future__ import annotations

from shop.adapters.mongo import MongoStore
from shop.domain.catalog import CatalogQuery, Page, Product, new_product, parse_product_id
from shop.domain.errors import N_, NotFound


def browse_catalog(store: MongoStore, query: CatalogQuery) -> Page:
    """A page of products; asking for a page past the last one is an error, not an empty page."""
    items, total = store.find_products(query)
    page = Page(items=items, total=total, page=query.page, per_page=query.per_page)
    if query.page > page.pages:
        raise NotFound(N_("Page %(page)d does not exist; there are %(pages)d pages."),
                       page=query.page, pages=page.pages)
    return page


def product_detail(store: MongoStore, raw_product_id: str) -> Product:
    product_id = parse_product_id(raw_product_id)
    product = store.get_product(product_id)
    if product is None:
        raise NotFound(N_("That product does not exist or is no longer sold."))
    return product


def load_demo_catalog(store: MongoStore) -> int:
    """Insert the demo catalog into an empty products collection; returns how many were added."""
    from shop.demo_data import demo_products

    if store.count_products():
        return 0
    return add_products(store, demo_products())


def add_products(store: MongoStore, products: list[dict]) -> int:
    """Validate and insert products; one invalid product rejects the whole list before any insert."""
    return store.insert_products([new_product(**p) for p in products])
