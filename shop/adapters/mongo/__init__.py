"""MongoDB access: the client, the collections with their validators and indexes, and queries.

The catalog and the stock live here. Only portable MongoDB 5+ features are used (no `$text`,
no field paths through arrays of sub-documents), so the SecantusDB stand-in and real MongoDB
behave alike. Every filter is built from values validated in `shop.domain.catalog`.

Every change of a product's stock is in `stock.py` (`store.stock`); the product document's shape in
`documents.py`. The audit chain is in `audit_log.py` (`store.audit`). Catalog writes and reviews are still in
this class.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from bson import ObjectId
from bson.codec_options import CodecOptions, TypeRegistry
from bson.decimal128 import Decimal128
from pymongo import MongoClient
from pymongo.errors import CollectionInvalid, ConnectionFailure, PyMongoError

from shop.adapters.mongo.audit_log import AuditChain
from shop.adapters.mongo.documents import (
    CATALOG_WRITE,
    NO_MARKER_LEFT,
    NO_MARKERS,
    NOT_LISTED,
    ON_SALE,
    OPTIMISTIC_ATTEMPTS,
    product_of,
)
from shop.adapters.mongo.stock import Stock
from shop.config import PROJECT_ROOT
from shop.domain.catalog import Product

StoreError = PyMongoError  # any failure talking to MongoDB
StoreUnavailable = ConnectionFailure  # MongoDB did not answer (down, unreachable, timed out)

SCHEMA_FILE = PROJECT_ROOT / "database" / "mongo" / "collections.json"
_SPANISH = {"locale": "es", "strength": 1}  # "árbol" sorts with "arbol", "Zapato" with "zapato"

def _decimal_codec() -> CodecOptions:
    """Read Decimal128 as Decimal and write Decimal as Decimal128: money never becomes a float."""
    from bson.codec_options import TypeCodec

    class DecimalCodec(TypeCodec):
        python_type = Decimal
        bson_type = Decimal128

        def transform_python(self, value):
            return Decimal128(value)

        def transform_bson(self, value):
            return value.to_decimal()

    return CodecOptions(type_registry=TypeRegistry([DecimalCodec()]), tz_aware=True)


class MongoStore:
    """The shop's MongoDB database and its collections."""

    def __init__(self, url: str, db_name: str, *, timeout_ms: int = 5000, **client_options):
        self.client = MongoClient(url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms,
                                  appname="shop", tz_aware=True, **client_options)
        self.db = self.client.get_database(db_name, codec_options=_decimal_codec())
        self.products = self.db["products"]
        self.reviews = self.db["reviews"]
        self.audit_logs = self.db["audit_logs"]
        self.audit_head = self.db["audit_head"]
        self.stock = Stock(self.products)
        self.audit = AuditChain(self.audit_logs, self.audit_head)

    def close(self) -> None:
        self.client.close()

    def ping(self) -> None:
        self.db.command("ping")

    # --- schema -------------------------------------------------------------------------------

    def apply_schema(self, schema_file: Path = SCHEMA_FILE) -> None:
        """Create collections with validators, or update the validators; create indexes. Idempotent."""
        schema = json.loads(schema_file.read_text())
        existing = set(self.db.list_collection_names())
        for name, spec in schema.items():
            if name.startswith("_"):
                continue
            validator = spec.get("validator", {})
            if name in existing:
                self.db.command("collMod", name, validator=validator, validationLevel="strict",
                                validationAction="error")
            else:
                try:
                    self.db.create_collection(name, validator=validator)
                except CollectionInvalid:  # created meanwhile by a concurrent start-up
                    self.db.command("collMod", name, validator=validator)
            for index in spec.get("indexes", []):
                self.db[name].create_index([tuple(k) for k in index["keys"]], name=index["name"],
                                           unique=index.get("unique", False), sparse=index.get("sparse", False))

    def validators(self) -> dict[str, dict]:
        return {c["name"]: c.get("options", {}).get("validator", {}) for c in self.db.list_collections()}

    # --- catalog ------------------------------------------------------------------------------

    def get_product(self, product_id: str, *, include_archived: bool = False) -> Product | None:
        # Only _id in the filter: SecantusDB plans any other condition beside it as a collection scan.
        doc = self.products.find_one({"_id": ObjectId(product_id)}, NO_MARKERS)
        if doc is None or ("deleted_at" in doc and not include_archived):
            return None
        return product_of(doc)

    def insert_products(self, products: list[dict]) -> list[str]:
        """Insert validated product fields (see shop.domain.catalog.new_product)."""
        now = dt.datetime.now(dt.timezone.utc)
        docs = [{**p, "created_at": now, "updated_at": now, "revision": 1, "catalog_pending": True} for p in products]
        # ordered=False: one invalid document must not silently drop the whole batch
        return [str(i) for i in self.products.insert_many(docs, ordered=False).inserted_ids]

    def insert_product(self, product: dict) -> str:
        now = dt.datetime.now(dt.timezone.utc)
        return str(self.products.insert_one({**product, "created_at": now, "updated_at": now, "revision": 1,
                                             "catalog_pending": True}).inserted_id)

    def count_products(self) -> int:
        """Every product counted: a read of the whole collection (tests and tools, not requests)."""
        return self.products.count_documents({})

    def has_products(self) -> bool:
        """Whether there is any product (on SecantusDB this reads the whole collection: ask only when
        the answer is likely no, or when a full read follows anyway)."""
        return self.products.find_one({}, {"_id": 1}) is not None

    def products_by_ids(self, product_ids: list[str], *, include_archived: bool = False) -> dict[str, Product]:
        """Products by id (point lookups on _id: cheap at any catalog size)."""
        docs = self.products.find({"_id": {"$in": [ObjectId(pid) for pid in product_ids]}}, NO_MARKERS)
        return {str(doc["_id"]): product_of(doc) for doc in docs if include_archived or "deleted_at" not in doc}

    # --- the catalog index's side (docs/catalog.md) -------------------------------------------------

    def catalog_pending(self, limit: int = 500) -> list[str]:
        """Products written since the catalog index last showed them (the sparse index holds only these)."""
        return [str(doc["_id"]) for doc in self.products.find({"catalog_pending": True}, {"_id": 1}).limit(limit)]

    def catalog_projected(self, product_id: str, revision: int) -> None:
        """The index shows `revision`: clear the pending mark, unless a newer write set it again."""
        self.products.update_one({"_id": ObjectId(product_id), "revision": revision, "catalog_pending": True},
                                 {"$unset": {"catalog_pending": ""}})

    def products_for_catalog_index(self, batch_size: int = 5000):
        """Every product, archived ones included, without what a listing does not need (a rebuild)."""
        return (product_of(doc) for doc in self.products.find({}, NOT_LISTED).batch_size(batch_size))

    def clear_catalog_pending_before(self, moment: dt.datetime) -> None:
        """After a rebuild that read every product: what was written before `moment` is in the index.
        Later writes stay pending and are projected by the next sweep (the revision check makes that
        harmless if the rebuild had seen them too)."""
        self.products.update_many({"catalog_pending": True, "updated_at": {"$lt": moment}},
                                  {"$unset": {"catalog_pending": ""}})

    # --- staff: products and stock ---------------------------------------------------------------

    def update_product(self, product_id: str, fields: dict, revision: dt.datetime | None) -> dict | None:
        """Replace the editable fields if nobody changed the product since `revision` was read.

        Returns the document as it was before (for the audit log's before/after), or None when the
        product changed meanwhile or does not exist. The stock is not among the fields: it only
        moves by atomic $inc (sales, cancellations, adjustments), so an edit never undoes a sale.
        """
        before = self.products.find_one({"_id": ObjectId(product_id)}, NO_MARKERS)
        if before is None or before.get("updated_at") != revision:
            return None
        now = dt.datetime.now(dt.timezone.utc)
        # The read above and this write are one step: the write applies only to the revision read.
        result = self.products.update_one(
            {"_id": ObjectId(product_id), "revision": before.get("revision"),
             "updated_at": revision if revision else {"$exists": False}},
            {"$set": {**fields, "updated_at": now, **CATALOG_WRITE["$set"]}, "$inc": CATALOG_WRITE["$inc"]})
        return before if result.modified_count == 1 else None


    def archive_product(self, product_id: str) -> dict | None:
        """Take a product off sale (soft delete); returns it as it was, None if unknown or archived."""
        for _ in range(OPTIMISTIC_ATTEMPTS):
            before = self.products.find_one({"_id": ObjectId(product_id)}, NO_MARKERS)
            if before is None or "deleted_at" in before:
                return None
            now = dt.datetime.now(dt.timezone.utc)
            result = self.products.update_one(
                {"_id": ObjectId(product_id), "revision": before.get("revision"), **ON_SALE},
                {"$set": {"deleted_at": now, "updated_at": now, **CATALOG_WRITE["$set"]},
                 "$inc": CATALOG_WRITE["$inc"]})
            if result.modified_count == 1:
                return before
        raise StoreError("the product kept changing while it was being archived; try again")

    def restore_product(self, product_id: str) -> bool:
        now = dt.datetime.now(dt.timezone.utc)
        result = self.products.update_one(
            {"_id": ObjectId(product_id), "deleted_at": {"$exists": True}},
            {"$unset": {"deleted_at": ""}, "$set": {"updated_at": now, **CATALOG_WRITE["$set"]},
             "$inc": CATALOG_WRITE["$inc"]})
        return result.modified_count == 1


    def delete_archived_product(self, product_id: str) -> bool:
        """Remove an archived product for good, unless a checkout marked it meanwhile."""
        result = self.products.delete_one({
            "_id": ObjectId(product_id), "deleted_at": {"$exists": True},
            **NO_MARKER_LEFT,
        })
        return result.deleted_count == 1











    def save_review(self, product_id: str, user_id: int, author: str, rating: int, text: str) -> None:
        """One review per customer and product (unique index): a second one replaces the first."""
        now = dt.datetime.now(dt.timezone.utc)
        self.reviews.update_one(
            {"product_id": ObjectId(product_id), "user_id": user_id},
            {"$set": {"rating": rating, "text": text, "author": author, "updated_at": now},
             "$setOnInsert": {"created_at": now, "hidden": False}},
            upsert=True,
        )

    def review_summary(self, product_id: str) -> tuple[float | None, int]:
        """(average rating, number of visible reviews) by aggregation."""
        rows = list(self.reviews.aggregate([
            {"$match": {"product_id": ObjectId(product_id), "hidden": {"$ne": True}}},
            {"$group": {"_id": None, "average": {"$avg": "$rating"}, "count": {"$sum": 1}}},
        ]))
        return (rows[0]["average"], rows[0]["count"]) if rows else (None, 0)

    def reviews_of(self, product_id: str, *, include_hidden: bool = False, limit: int = 50) -> list[dict]:
        query: dict = {"product_id": ObjectId(product_id)}
        if not include_hidden:
            query["hidden"] = {"$ne": True}
        docs = self.reviews.find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit)
        return [{**doc, "review_id": str(doc["_id"])} for doc in docs]

    def review_by(self, product_id: str, user_id: int) -> dict | None:
        return self.reviews.find_one({"product_id": ObjectId(product_id), "user_id": user_id})

    def hide_review(self, review_id: str) -> dict | None:
        """Hide a review; returns it as it was, or None if there is no such review."""
        before = self.reviews.find_one({"_id": ObjectId(review_id)})
        if before is not None:
            self.reviews.update_one({"_id": ObjectId(review_id)}, {"$set": {"hidden": True}})
        return before

