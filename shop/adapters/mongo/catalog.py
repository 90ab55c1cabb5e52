"""The product documents in MongoDB (`store.catalog`): reading products by id, adding and editing
them, archiving, and the catalog index's side of each write (docs/catalog.md).

Which products a listing shows is decided by the catalog index in PostgreSQL; here products are only
read by `_id` (point lookups: cheap at any catalog size, on SecantusDB and MongoDB alike). The stock
never changes here: that is `stock.py`. Every write of a listed field adds 1 to `revision` and marks
the product `catalog_pending` in the same update (documents.CATALOG_WRITE).
"""

from __future__ import annotations

import datetime as dt

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shop.adapters.errors import SkuTaken, StoreError
from shop.adapters.mongo.documents import (
    CATALOG_WRITE,
    NO_MARKER_LEFT,
    NO_MARKERS,
    NOT_LISTED,
    ON_SALE,
    OPTIMISTIC_ATTEMPTS,
    image_document,
    options_document,
    product_document,
    product_of,
    variants_document,
)
from shop.adapters.mongo.errors import translates_errors
from shop.domain.catalog import Product
from shop.domain.images import ProductImage
from shop.domain.variants import ProductOption, Variant


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# An $in of many values on an index costs more than its values one by one on SecantusDB (1,000 SKUs:
# 0.54 s in one query, 0.07 s in twenty of 50), so long lists are asked for in chunks.
_IN_CHUNK = 50


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i:i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]


@translates_errors
class Catalog:
    def __init__(self, products):
        self.products = products  # the products collection

    def get(self, product_id: str, *, include_archived: bool = False) -> Product | None:
        # Only _id in the filter: SecantusDB plans any other condition beside it as a collection scan.
        doc = self.products.find_one({"_id": ObjectId(product_id)}, NO_MARKERS)
        if doc is None or ("deleted_at" in doc and not include_archived):
            return None
        return product_of(doc)

    def by_ids(self, product_ids: list[str], *, include_archived: bool = False) -> dict[str, Product]:
        """Products by id (point lookups on _id: cheap at any catalog size)."""
        docs = self.products.find({"_id": {"$in": [ObjectId(pid) for pid in product_ids]}}, NO_MARKERS)
        return {str(doc["_id"]): product_of(doc) for doc in docs if include_archived or "deleted_at" not in doc}

    def insert_many(self, products: list[dict]) -> list[str]:
        """Insert validated product fields (see shop.domain.catalog.new_product)."""
        now = _now()
        docs = [{**product_document(p), "created_at": now, "updated_at": now, "revision": 1, "catalog_pending": True}
                for p in products]
        # ordered=False: one invalid document must not silently drop the whole batch
        try:
            return [str(i) for i in self.products.insert_many(docs, ordered=False).inserted_ids]
        except BulkWriteError as error:
            if any(e.get("code") == 11000 for e in error.details.get("writeErrors", [])):
                raise SkuTaken(self.products_with_skus([s for d in docs for s in d.get("skus", [])])) from error
            raise

    def insert(self, product: dict) -> str:
        now = _now()
        doc = product_document(product)
        try:
            return str(self.products.insert_one({**doc, "created_at": now, "updated_at": now, "revision": 1,
                                                 "catalog_pending": True}).inserted_id)
        except DuplicateKeyError as error:
            raise SkuTaken(self.products_with_skus(doc.get("skus", []))) from error

    def products_with_skus(self, skus: list[str], *, other_than: str | None = None) -> dict[str, str]:
        """{SKU: id of the product that has it} for those of `skus` some product has (the unique
        multikey index on `skus` answers: point lookups)."""
        wanted = set(skus)
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(wanted)):
            for doc in self.products.find({"skus": {"$in": chunk}}, {"skus": 1}):
                if str(doc["_id"]) != other_than:
                    found.update({sku: str(doc["_id"]) for sku in doc["skus"] if sku in wanted})
        return found

    def products_with_handles(self, handles: list[str]) -> dict[str, str]:
        """{handle: id of the product imported under it} for those of `handles` some product has."""
        return {doc["handle"]: str(doc["_id"]) for chunk in _chunks(sorted(set(handles)))
                for doc in self.products.find({"handle": {"$in": chunk}}, {"handle": 1})}

    def set_variants(self, product_id: str, revision: dt.datetime | None, options: tuple[ProductOption, ...],
                     variants: list[Variant], sku: str | None, fields: dict | None = None) -> dict | None:
        """Give the product these options and variants, if nobody changed it since `revision` was read.

        Existing variants (their keys) keep their stock: only their SKU, values and price are set;
        new ones come with their first stock, added to the product's total in the same update. A
        product that had no variants gains them only while its own stock is 0 (its units would
        belong to no variant). A variant left out is removed, only if it still has no units when
        the update lands (a sale or an adjustment meanwhile makes this return None), and its key
        is remembered as given (`last_variant`). Returns the document as it was before, or None
        when it changed meanwhile.
        Raises SkuTaken when another product has one of the SKUs. `fields`: other product fields
        set in the same update (an import's name, price, …).
        """
        before = self.products.find_one({"_id": ObjectId(product_id)}, NO_MARKERS)
        if before is None or before.get("updated_at") != revision:
            return None
        had = before.get("variants") or {}
        condition: dict = {"_id": ObjectId(product_id), "revision": before.get("revision"),
                           "updated_at": revision if revision else {"$exists": False}}
        if not had and variants:
            condition["stock"] = 0
        fields = {**(fields or {}), "updated_at": _now(), **CATALOG_WRITE["$set"]}
        unset: dict = {}
        added = 0
        kept = {variant.key for variant in variants}
        for gone in (set(had) - kept) if variants else ():  # without variants, all go (at stock 0, below)
            condition[f"variants.{gone}.stock"] = 0
            unset[f"variants.{gone}"] = ""
        numbers = [int(key[1:]) for key in (*had, *kept)]
        if variants:
            stored = variants_document(variants)
            fields["options"] = options_document(options)
            fields["skus"] = [variant.sku for variant in variants]
            unset["sku"] = ""
            for variant in variants:
                if variant.key in had:
                    doc = stored[variant.key]
                    fields.update({f"variants.{variant.key}.sku": doc["sku"],
                                   f"variants.{variant.key}.values": doc["values"]})
                    if variant.price is None:
                        unset[f"variants.{variant.key}.price"] = ""
                    else:
                        fields[f"variants.{variant.key}.price"] = variant.price
                else:
                    fields[f"variants.{variant.key}"] = stored[variant.key]
                    added += variant.stock
        else:
            if had:
                condition["stock"] = 0
            unset.update({"options": "", "variants": ""})
            if sku:
                fields.update({"sku": sku, "skus": [sku]})
            else:
                unset.update({"sku": "", "skus": ""})
        update: dict = {"$set": fields, "$inc": {**CATALOG_WRITE["$inc"], "stock": added}}
        if numbers:
            update["$max"] = {"last_variant": max(numbers)}
        if unset:
            update["$unset"] = unset
        try:
            result = self.products.update_one(condition, update)
        except DuplicateKeyError as error:
            raise SkuTaken(self.products_with_skus(fields.get("skus", []), other_than=product_id)) from error
        return before if result.modified_count == 1 else None

    def count(self) -> int:
        """Every product counted: a read of the whole collection (tests and tools, not requests)."""
        return self.products.count_documents({})

    def any(self) -> bool:
        """Whether there is any product (on SecantusDB this reads the whole collection: ask only when
        the answer is likely no, or when a full read follows anyway)."""
        return self.products.find_one({}, {"_id": 1}) is not None

    # --- the catalog index's side (docs/catalog.md) -------------------------------------------------

    def pending(self, limit: int = 500) -> list[str]:
        """Products written since the catalog index last showed them (the sparse index holds only these)."""
        return [str(doc["_id"]) for doc in self.products.find({"catalog_pending": True}, {"_id": 1}).limit(limit)]

    def projected(self, product_id: str, revision: int) -> None:
        """The index shows `revision`: clear the pending mark, unless a newer write set it again."""
        self.products.update_one({"_id": ObjectId(product_id), "revision": revision, "catalog_pending": True},
                                 {"$unset": {"catalog_pending": ""}})

    def projected_many(self, revisions: list[tuple[str, int]]) -> None:
        """`projected` for several products, in one round trip."""
        if len(revisions) == 1:
            self.projected(*revisions[0])
        elif revisions:
            self.products.bulk_write([UpdateOne({"_id": ObjectId(pid), "revision": revision, "catalog_pending": True},
                                                {"$unset": {"catalog_pending": ""}}) for pid, revision in revisions],
                                     ordered=False)

    def everything_for_the_index(self, batch_size: int = 5000):
        """Every product, archived ones included, without what a listing does not need (a rebuild)."""
        return (product_of(doc) for doc in self.products.find({}, NOT_LISTED).batch_size(batch_size))

    def touch(self, product_id: str) -> None:
        """Have the catalog index project the product again (its revision moves on, nothing else)."""
        self.products.update_one({"_id": ObjectId(product_id)},
                                 {"$set": CATALOG_WRITE["$set"], "$inc": CATALOG_WRITE["$inc"]})

    def every_product(self, batch_size: int = 1000):
        """Every product, archived ones included, in the order they were created (an export)."""
        return (product_of(doc) for doc in self.products.find({}, NO_MARKERS).sort("_id", 1).batch_size(batch_size))

    def clear_pending_before(self, moment: dt.datetime) -> None:
        """After a rebuild that read every product: what was written before `moment` is in the index.
        Later writes stay pending and are projected by the next sweep (the revision check makes that
        harmless if the rebuild had seen them too)."""
        self.products.update_many({"catalog_pending": True, "updated_at": {"$lt": moment}},
                                  {"$unset": {"catalog_pending": ""}})

    # --- staff edits ---------------------------------------------------------------------------------

    def update(self, product_id: str, fields: dict, revision: dt.datetime | None) -> dict | None:
        """Replace the editable fields if nobody changed the product since `revision` was read.

        Returns the document as it was before (for the audit log's before/after), or None when the
        product changed meanwhile or does not exist. The stock is not among the fields: it only
        moves by atomic $inc (sales, cancellations, adjustments), so an edit never undoes a sale.
        """
        before = self.products.find_one({"_id": ObjectId(product_id)}, NO_MARKERS)
        if before is None or before.get("updated_at") != revision:
            return None
        # The read above and this write are one step: the write applies only to the revision read.
        result = self.products.update_one(
            {"_id": ObjectId(product_id), "revision": before.get("revision"),
             "updated_at": revision if revision else {"$exists": False}},
            {"$set": {**fields, "updated_at": _now(), **CATALOG_WRITE["$set"]}, "$inc": CATALOG_WRITE["$inc"]})
        return before if result.modified_count == 1 else None

    def archive(self, product_id: str) -> dict | None:
        """Take a product off sale (soft delete); returns it as it was, None if unknown or archived."""
        for _ in range(OPTIMISTIC_ATTEMPTS):
            before = self.products.find_one({"_id": ObjectId(product_id)}, NO_MARKERS)
            if before is None or "deleted_at" in before:
                return None
            now = _now()
            result = self.products.update_one(
                {"_id": ObjectId(product_id), "revision": before.get("revision"), **ON_SALE},
                {"$set": {"deleted_at": now, "updated_at": now, **CATALOG_WRITE["$set"]},
                 "$inc": CATALOG_WRITE["$inc"]})
            if result.modified_count == 1:
                return before
        raise StoreError("the product kept changing while it was being archived; try again")

    def replace_images(self, product_id: str, images_rev: int, images: tuple[ProductImage, ...]) -> bool:
        """Set a product's images (in order, the main one first) if nobody changed them since they
        were read at `images_rev`; False when someone did (or there is no such product). Its
        revision and edit time are left alone: the catalog index does not hold images, and an open
        edit form stays valid."""
        result = self.products.update_one(
            {"_id": ObjectId(product_id), "images_rev": images_rev or None},  # None: never set (0)
            {"$set": {"images": [image_document(image) for image in images]}, "$inc": {"images_rev": 1}})
        return result.modified_count == 1

    def restore(self, product_id: str) -> bool:
        result = self.products.update_one(
            {"_id": ObjectId(product_id), "deleted_at": {"$exists": True}},
            {"$unset": {"deleted_at": ""}, "$set": {"updated_at": _now(), **CATALOG_WRITE["$set"]},
             "$inc": CATALOG_WRITE["$inc"]})
        return result.modified_count == 1

    def delete_archived(self, product_id: str) -> bool:
        """Remove an archived product for good, unless a checkout marked it meanwhile."""
        result = self.products.delete_one({"_id": ObjectId(product_id), "deleted_at": {"$exists": True},
                                           **NO_MARKER_LEFT})
        return result.deleted_count == 1
