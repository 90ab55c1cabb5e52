"""Catalog use cases: browse and show products; staff create, edit, archive and restock them."""

from __future__ import annotations

from dataclasses import dataclass

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.catalog import (
    MAX_STOCK,
    CatalogQuery,
    Page,
    Product,
    new_product,
    parse_product_id,
    product_fields,
)
from shop.domain.errors import N_, Conflict, NotFound


def browse_catalog(store: MongoStore, query: CatalogQuery) -> Page:
    """A page of products; asking for a page past the last one is an error, not an empty page."""
    items, total = store.find_products(query)
    page = Page(items=items, total=total, page=query.page, per_page=query.per_page)
    if query.page > page.pages:
        raise NotFound(N_("Page %(page)d does not exist; there are %(pages)d pages."),
                       page=query.page, pages=page.pages)
    return page


def product_detail(store: MongoStore, raw_product_id: str, *, include_archived: bool = False) -> Product:
    product_id = parse_product_id(raw_product_id)
    product = store.get_product(product_id, include_archived=include_archived)
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


# --- staff ----------------------------------------------------------------------------------------

def _editable(product: dict) -> dict:
    """The fields an edit can change, as the audit log's before/after records them."""
    return {"name": product["name"], "category": product["category"], "price": str(product["price"]),
            "description": product.get("description") or "", "attributes": product.get("attributes") or {}}


def create_product(store: MongoStore, fields: dict) -> tuple[str, dict]:
    """A new product from validated form values; returns its id and what was stored."""
    product = new_product(**fields)
    product_id = store.insert_product(product)
    return product_id, {**_editable(product), "stock": product["stock"]}


@dataclass(frozen=True)
class ProductChange:
    product_id: str
    before: dict
    after: dict

    @property
    def changed(self) -> dict:
        """Only the fields that changed: {field: [before, after]}."""
        return {name: [self.before[name], self.after[name]] for name in self.after
                if self.before.get(name) != self.after[name]}


def edit_product(store: MongoStore, raw_product_id: str, fields: dict, revision) -> ProductChange:
    """Save an edit made on the form read at `revision`; a newer edit by someone else is never overwritten."""
    product_id = parse_product_id(raw_product_id)
    updated = product_fields(**fields)
    before = store.update_product(product_id, updated, revision)
    if before is None:
        if store.get_product(product_id, include_archived=True) is None:
            raise NotFound(N_("That product does not exist or is no longer sold."))
        raise Conflict(N_("Someone changed this product while you were editing it. Reload the page and make "
                          "your change again."))
    return ProductChange(product_id, _editable(before), _editable(updated))


def delete_product(db: PostgresDatabase, store: MongoStore, raw_product_id: str) -> tuple[str, dict]:
    """Take a product off sale; remove it for good only if no order ever referenced it.

    Order matters (docs/admin.md): first archive (no reservation can succeed after that), then look
    at the stock markers (a checkout that reserved before still holds one until its order is
    decided and settled), then at PostgreSQL (where any committed order's items are by then).
    Returns ("deleted" | "archived", the product as it was).
    """
    product_id = parse_product_id(raw_product_id)
    before = store.archive_product(product_id)
    if before is None:
        if store.get_product(product_id, include_archived=True) is None:
            raise NotFound(N_("That product does not exist or is no longer sold."))
        raise Conflict(N_("This product is already archived."))
    if (not store.has_stock_markers(product_id) and not db.is_product_ordered(product_id)
            and store.delete_archived_product(product_id)):
        return "deleted", {**_editable(before), "stock": before["stock"]}
    return "archived", {**_editable(before), "stock": before["stock"]}


def restore_product(store: MongoStore, raw_product_id: str) -> None:
    product_id = parse_product_id(raw_product_id)
    if not store.restore_product(product_id):
        raise NotFound(N_("That product is not archived."))


@dataclass(frozen=True)
class StockAdjustment:
    product_id: str
    delta: int
    before: int
    after: int
    reason: str


def adjust_stock(store: MongoStore, raw_product_id: str, delta: int, reason: str) -> StockAdjustment:
    """Add or remove units in one atomic, conditional increment: never below zero, and a sale at
    the same moment is neither lost nor overwritten (both are $inc on the same document)."""
    product_id = parse_product_id(raw_product_id)
    after = store.adjust_stock(product_id, delta, MAX_STOCK)
    if after is None:
        product = store.get_product(product_id, include_archived=True)
        if product is None:
            raise NotFound(N_("That product does not exist or is no longer sold."))
        if delta < 0:
            raise Conflict(N_("Only %(stock)d units are in stock; the stock cannot go below zero."),
                           stock=product.stock)
        raise Conflict(N_("The stock can be at most %(max)d units."), max=MAX_STOCK)
    return StockAdjustment(product_id, delta, after - delta, after, reason)
