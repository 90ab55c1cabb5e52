"""Catalog use cases: browse and show products; staff create, edit, archive and restock them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from shop.adapters.errors import DatabaseError, SkuTaken
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.demo_data import DEMO_ATTRIBUTE_LABELS, demo_products
from shop.domain.catalog import (
    MAX_STOCK,
    Product,
    changed_price,
    check_sells,
    lookalike_category,
    new_product,
    parse_product_id,
    product_fields,
)
from shop.domain.errors import N_, Conflict, InvalidFields, InvalidInput, NotFound
from shop.domain.json import JsonObject
from shop.domain.listing import CatalogEntry, CatalogQuery, Listing, ListingIds, name_sort_key, option_facets
from shop.domain.variants import ProductOption, Variant, VariantDraft, check_variants, parse_sku, parse_variant_key
from shop.services.images import illustrate_demo_products

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogPage:
    listing: Listing
    categories: list[tuple[str, int]]
    facets: dict[str, list[tuple[object, int]]]  # attribute -> (value, products in the category)


def catalog_page(db: PostgresDatabase, store: MongoStore, query: CatalogQuery) -> CatalogPage:
    """What the shop's catalog page shows: a listing, the category menu and the category's filters,
    all read from the catalog index in one transaction. A search that is exactly some product's SKU
    shows that product (one lookup on the unique `skus` index, not a search by its words)."""
    sku_match = _sku_match(store, query)
    with db.catalog.reading() as index:
        ids = ListingIds([sku_match], 1, True, None, None, False) if sku_match else index.page(query)
        categories = sorted(index.categories(), key=lambda item: name_sort_key(item[0]))
        facets = index.facets(query.category) if query.category else {}
    return CatalogPage(_with_documents(db, store, ids, archived=False), categories, facets)


def _sku_match(store: MongoStore, query: CatalogQuery) -> str | None:
    """The product whose SKU the first page of a search is, if any (its category, if one is chosen).
    Only a search with a digit in it can be an SKU here: a word alone costs no lookup."""
    if not query.search or not query.is_first_page or query.attributes or not any(c.isdigit() for c in query.search):
        return None
    try:
        sku = parse_sku(query.search)
    except InvalidInput:
        return None
    owner = store.catalog.products_with_skus([sku]).get(sku)
    if owner is None or query.category is not None and (product := store.catalog.get(owner)) is not None \
            and product.category != query.category:
        return None
    return owner


def browse_catalog(db: PostgresDatabase, store: MongoStore, query: CatalogQuery, *, archived: bool = False) -> Listing:
    """A page of products on sale (or archived ones, for staff): which products and in which order
    from the catalog index (PostgreSQL, which chooses how to read them), their documents by _id from
    MongoDB, so prices and stock shown are the catalog's own, as of this request (docs/catalog.md)."""
    return _with_documents(db, store, db.catalog.page(query, archived=archived), archived=archived)


def _with_documents(db: PostgresDatabase, store: MongoStore, ids: ListingIds, *, archived: bool) -> Listing:
    return ids.with_items(_documents(db, store, ids.product_ids, archived))


def _documents(db: PostgresDatabase, store: MongoStore, ids: list[str], archived: bool) -> list[Product]:
    """The products' documents in the order given. An id MongoDB no longer has (deleted for good
    while its index entry could not be removed) is dropped from the index as it is found. No ids
    (a search that matches nothing): no MongoDB round trip."""
    if not ids:
        return []
    found = store.catalog.by_ids(ids, include_archived=archived)
    missing = [pid for pid in ids if pid not in found]
    if missing:
        present = store.catalog.by_ids(missing, include_archived=True)
        for product_id in missing:
            if product_id not in present:
                db.catalog.remove(product_id)
    return [found[pid] for pid in ids if pid in found]


def product_detail(store: MongoStore, raw_product_id: str, *, include_archived: bool = False) -> Product:
    product_id = parse_product_id(raw_product_id)
    product = store.catalog.get(product_id, include_archived=include_archived)
    if product is None:
        raise NotFound(N_("That product does not exist or is no longer sold."))
    return product


def load_demo_catalog(db: PostgresDatabase, store: MongoStore) -> int:
    """Insert the demo catalog into an empty products collection; returns how many were added."""
    # The index is built from MongoDB before this runs (ensure_catalog_index): empty means no products,
    # and asking PostgreSQL costs nothing, while any whole-collection read of SecantusDB is O(N).
    if not db.catalog.is_empty() or store.catalog.any():
        return 0
    product_ids = _insert(db, store, demo_products())
    illustrate_demo_products(store, list(store.catalog.by_ids(product_ids).values()))
    for key, (spanish, english) in DEMO_ATTRIBUTE_LABELS.items():
        store.attribute_labels.write(key, {"es": spanish, "en": english})
    return len(product_ids)


def add_products(db: PostgresDatabase, store: MongoStore, products: list[JsonObject]) -> int:
    """Validate and insert products; one invalid product rejects the whole list before any insert."""
    return len(_insert(db, store, products))


def _insert(db: PostgresDatabase, store: MongoStore, products: list[JsonObject]) -> list[str]:
    product_ids = store.catalog.insert_many([new_product(**p) for p in products])
    update_catalog_index(db, store, product_ids)
    return product_ids


# --- the catalog index: kept up to date with every product write ----------------------------------

def update_catalog_index(db: PostgresDatabase, store: MongoStore, product_ids: list[str]) -> int:
    """Bring the catalog index up to the products' current revisions; returns how many changed.

    Called right after each product write. If PostgreSQL cannot be reached, the products stay
    marked `catalog_pending` in MongoDB and the recovery pass projects them later: a product write
    never fails because its listing could not be updated at once.
    """
    changed = 0
    try:
        products = list(store.catalog.by_ids(product_ids, include_archived=True).values())
        if len(products) == 1:
            changed = int(db.catalog.project(CatalogEntry.of(products[0])))
        elif products:
            changed = db.catalog.project_many([CatalogEntry.of(product) for product in products])
        store.catalog.projected_many([(product.product_id, product.revision) for product in products])
    except DatabaseError as error:
        log.warning("catalog index not updated now (the recovery pass will): %s", error)
    return changed


def sync_catalog_index(db: PostgresDatabase, store: MongoStore, batch: int = 500) -> int:
    """Project every product still marked pending (a crash between a write and its projection).
    Reads only the sparse `catalog_pending` index: its cost is the work left, not the catalog size."""
    synced, previous = 0, None
    # The same ids twice in a row: PostgreSQL is unreachable (or they are being rewritten): next pass.
    while (ids := store.catalog.pending(limit=batch)) and ids != previous:
        synced += update_catalog_index(db, store, ids)
        previous = ids
    return synced


# A rebuild reads every product through one cursor, and SecantusDB sends the first batch only after
# reading the whole collection (about a minute at a million products): the MongoStore given to a
# rebuild waits this long for an answer instead of the usual 5 s.
REBUILD_TIMEOUT_MS = 900_000


def refresh_option_filters(db: PostgresDatabase, store: MongoStore) -> int:
    """Products sold in options whose sizes in stock are not the ones their filters offer (a size sold
    out or came back since they were projected) are projected again; returns how many. Run by the
    recovery pass over the products whose stock changed since its last pass."""
    products = store.stock.marked_with_variants()
    indexed = db.catalog.facets_of([product.product_id for product in products])
    stale = [product.product_id for product in products if product.product_id in indexed
             and any(indexed[product.product_id].get(key) != values
                     for key, values in option_facets(product).items())]
    for product_id in stale:
        store.catalog.touch(product_id)
    return update_catalog_index(db, store, stale) if stale else 0


def rebuild_catalog_index(db: PostgresDatabase, store: MongoStore) -> int:
    """Rebuild the whole catalog index from MongoDB (first start after an upgrade or a restore,
    or `flask --app shop catalog-rebuild`). Returns how many products it holds. Give it a
    MongoStore opened with timeout_ms=REBUILD_TIMEOUT_MS."""
    started = dt.datetime.now(dt.UTC)
    store.stock.mark_products_with_markers()
    count = db.catalog.rebuild(CatalogEntry.of(product) for product in store.catalog.everything_for_the_index())
    # Clock skew between hosts: a write this close to the start is left pending and projected again.
    store.catalog.clear_pending_before(started - dt.timedelta(seconds=60))
    return count


def ensure_catalog_index(db: PostgresDatabase, store: MongoStore) -> int | None:
    """Build the catalog index if it is empty while MongoDB has products; None if nothing to do."""
    if db.catalog.is_empty() and store.catalog.any():  # MongoDB asked only when the index is empty
        log.info("building the catalog index from MongoDB ...")
        count = rebuild_catalog_index(db, store)
        log.info("catalog index built: %d products", count)
        return count
    return None


# --- staff ----------------------------------------------------------------------------------------

def _editable(product: JsonObject) -> JsonObject:
    """The fields an edit can change, as the audit log's before/after records them."""
    return {"name": product["name"], "category": product["category"], "price": str(product["price"]),
            "description": product.get("description") or "", "attributes": product.get("attributes") or {},
            "tax_class": product.get("tax_class") or "general"}


def category_names(db: PostgresDatabase) -> list[str]:
    """The categories products on sale are in, in reading order (what staff choose from)."""
    with db.catalog.reading() as index:
        return sorted((name for name, _ in index.categories()), key=name_sort_key)


def _validated(db: PostgresDatabase, build: Callable[..., JsonObject], fields: JsonObject, new_category: bool,
               current_category: str | None = None) -> JsonObject:
    """`build(**fields)`, with every wrong field reported at once; and unless `new_category`, a new
    category that looks like an existing one ("libros" for "Libros") is refused, so that a slip
    never starts a category."""
    problems: dict[str, InvalidInput] = {}
    built: JsonObject = {}
    try:
        built = build(**fields)
    except InvalidFields as invalid:
        problems = dict(invalid.problems)
    category = str(fields.get("category") or "").strip()
    if not new_category and "category" not in problems and category != current_category:
        existing = lookalike_category(category, category_names(db))
        if existing:
            problems["category"] = InvalidInput(
                N_("%(category)s looks like %(existing)s, a category that exists: choose it, or tick New category "
                   "to start %(category)s."), category=category, existing=existing)
    if problems:
        raise InvalidFields(problems)
    return built


def create_product(db: PostgresDatabase, store: MongoStore, fields: JsonObject,
                   new_category: bool = True) -> tuple[str, JsonObject]:
    """A new product from validated form values; returns its id and what was stored. With
    `new_category` False (the staff form, unless ticked), a category like an existing one is refused."""
    product = _validated(db, new_product, fields, new_category)
    try:
        product_id = store.catalog.insert(product)
    except SkuTaken as taken:
        raise Conflict(N_("The SKU %(sku)s already belongs to another product."),
                       sku=", ".join(sorted(taken.owners)) or "?") from None
    update_catalog_index(db, store, [product_id])
    stored = {**_editable(product), "stock": product["stock"]}
    return product_id, {**stored, "sku": product["sku"]} if product.get("sku") else stored


@dataclass(frozen=True)
class ProductChange:
    product_id: str
    before: JsonObject
    after: JsonObject

    @property
    def changed(self) -> JsonObject:
        """Only the fields that changed: {field: [before, after]}."""
        return {name: [self.before[name], self.after[name]] for name in self.after
                if self.before.get(name) != self.after[name]}


def edit_product(db: PostgresDatabase, store: MongoStore, raw_product_id: str, fields: JsonObject,
                 revision: dt.datetime | None, new_category: bool = True) -> ProductChange:
    """Save an edit made on the form read at `revision`; a newer edit by someone else is never
    overwritten. With `new_category` False, a category like an existing one is refused (_validated)."""
    product_id = parse_product_id(raw_product_id)
    current = None if new_category else store.catalog.get(product_id, include_archived=True)
    updated = _validated(db, product_fields, fields, new_category, current.category if current else None)
    before = store.catalog.update(product_id, updated, revision)
    if before is None:
        if store.catalog.get(product_id, include_archived=True) is None:
            raise NotFound(N_("That product does not exist or is no longer sold."))
        raise Conflict(N_("Someone changed this product while you were editing it. Reload the page and make "
                          "your change again."))
    update_catalog_index(db, store, [product_id])
    return ProductChange(product_id, _editable(before), _editable(updated))


def edit_in_bulk(db: PostgresDatabase, store: MongoStore, raw_product_id: str, *, category: str | None = None,
                 percent: Decimal | None = None) -> ProductChange:
    """One product of a bulk action: moved to `category`, or its price changed by `percent` (its
    variants' own prices stay as they are), through the same checks as the form."""
    product = product_detail(store, raw_product_id, include_archived=True)
    fields = {"name": product.name, "category": category if category is not None else product.category,
              "price": changed_price(product.price, percent) if percent is not None else product.price,
              "attributes": product.attributes, "description": product.description, "tax_class": product.tax_class}
    return edit_product(db, store, product.product_id, fields, revision=product.updated_at,
                        new_category=category is None)


def delete_product(db: PostgresDatabase, store: MongoStore, raw_product_id: str) -> tuple[str, JsonObject]:
    """Take a product off sale; remove it for good only if no order ever referenced it.

    Order matters (docs/admin.md): first archive (no reservation can succeed after that), then look
    at the stock markers (a checkout that reserved before still holds one until its order is
    decided and settled), then at PostgreSQL (where any committed order's items are by then).
    Returns ("deleted" | "archived", the product as it was).
    """
    product_id = parse_product_id(raw_product_id)
    before = store.catalog.archive(product_id)
    if before is None:
        if store.catalog.get(product_id, include_archived=True) is None:
            raise NotFound(N_("That product does not exist or is no longer sold."))
        raise Conflict(N_("This product is already archived."))
    update_catalog_index(db, store, [product_id])
    if (not store.stock.has_markers(product_id) and not db.reports.is_product_ordered(product_id)
            and store.catalog.delete_archived(product_id)):
        try:
            db.catalog.remove(product_id)
        except DatabaseError as error:  # the listing drops it when it finds it gone (browse_catalog)
            log.warning("catalog index entry of deleted product %s not removed: %s", product_id, error)
        return "deleted", {**_editable(before), "stock": before["stock"]}
    return "archived", {**_editable(before), "stock": before["stock"]}


def restore_product(db: PostgresDatabase, store: MongoStore, raw_product_id: str) -> None:
    product_id = parse_product_id(raw_product_id)
    if not store.catalog.restore(product_id):
        raise NotFound(N_("That product is not archived."))
    update_catalog_index(db, store, [product_id])


@dataclass(frozen=True)
class StockAdjustment:
    product_id: str
    delta: int
    before: int
    after: int
    reason: str
    variant: str | None = None  # the variant's key, for a product sold in options
    sku: str | None = None


def adjust_stock(store: MongoStore, raw_product_id: str, delta: int, reason: str,
                 variant: str | None = None) -> StockAdjustment:
    """Add or remove units — of the product, or of one of its variants — in one atomic, conditional
    increment: never below zero, and a sale at the same moment is neither lost nor overwritten (both
    are $inc on the same document). A product sold in options has stock only per variant."""
    product_id = parse_product_id(raw_product_id)
    key = parse_variant_key(variant) if variant else None
    after = store.stock.adjust(product_id, delta, MAX_STOCK, key)
    if after is None:
        product = store.catalog.get(product_id, include_archived=True)
        if product is None:
            raise NotFound(N_("That product does not exist or is no longer sold."))
        check_sells(product, key)
        if delta < 0:
            raise Conflict(N_("Only %(stock)d units are in stock; the stock cannot go below zero."),
                           stock=product.stock_of(key))
        raise Conflict(N_("The stock can be at most %(max)d units."), max=MAX_STOCK)
    sku = None
    if key is not None:
        product = store.catalog.get(product_id, include_archived=True)
        sku = product.sku_of(key) if product is not None else None
    return StockAdjustment(product_id, delta, after - delta, after, reason, key, sku)


def edit_variants(db: PostgresDatabase, store: MongoStore, raw_product_id: str, options: tuple[ProductOption, ...],
                  drafts: list[VariantDraft], sku: str | None, revision: dt.datetime | None) -> ProductChange:
    """Give a product its options and variants (the staff grid), as read at `revision`.

    Existing variants keep their stock (it moves only by adjustments and sales); new ones start
    with the stock typed for them. A product without options gains them only while its stock is 0,
    and a variant is removed only at stock 0 (its units would otherwise vanish). Every SKU belongs
    to one product: one taken elsewhere is refused, naming it."""
    product_id = parse_product_id(raw_product_id)
    product = store.catalog.get(product_id, include_archived=True)
    if product is None:
        raise NotFound(N_("That product does not exist or is no longer sold."))
    variants = check_variants(options, drafts, product.variants, product.last_variant_number)
    if variants and not product.variants and product.stock:
        raise Conflict(N_("This product has %(stock)d units of its own. Adjust its stock to 0, then give it "
                          "options; each variant then gets its own stock."), stock=product.stock)
    if not variants and product.variants and product.stock:
        raise Conflict(N_("Its variants still have %(stock)d units in stock; adjust them to 0 before removing "
                          "the options."), stock=product.stock)
    own_sku = parse_sku(sku) if sku and not variants else None
    try:
        before = store.catalog.set_variants(product_id, revision, options, variants, own_sku)
    except SkuTaken as taken:
        raise Conflict(N_("The SKU %(sku)s already belongs to another product."),
                       sku=", ".join(sorted(taken.owners)) or "?") from None
    if before is None:
        raise Conflict(N_("Someone changed this product while you were editing it. Reload the page and make "
                          "your change again."))
    update_catalog_index(db, store, [product_id])
    return ProductChange(product_id, {"variants": _variants_summary(product.options, product.variants, product.sku)},
                         {"variants": _variants_summary(options, tuple(variants), own_sku)})


def _variants_summary(options: tuple[ProductOption, ...], variants: tuple[Variant, ...],
                      sku: str | None) -> list[object]:
    """What the audit log keeps of a product's variants: per variant its SKU, values and own price."""
    if not variants:
        return [sku] if sku else []
    return [{"sku": v.sku, "values": dict(zip((o.name for o in options), v.values, strict=False)),
             "price": str(v.price) if v.price is not None else None} for v in variants]
