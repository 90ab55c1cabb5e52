"""MongoDB access: the client, the collections with their validators and indexes, and queries.

The catalog and the stock live here. Only portable MongoDB 5+ features are used (no `$text`,
no field paths through arrays of sub-documents), so the SecantusDB stand-in and real MongoDB
behave alike. Every filter is built from values validated in `shop.domain.catalog`.

(Over 400 lines, and known to be: the products' stock operations, catalog writes, reviews and the
audit chain still share this one class; issue 9 splits them by aggregate — `stock`, `catalog`,
`reviews`, `audit_log` — which has not been done yet. New MongoDB code goes in modules beside it,
as rate_limits.py does.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import time
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from bson import ObjectId
from bson.codec_options import CodecOptions, TypeRegistry
from bson.decimal128 import Decimal128
from pymongo import MongoClient
from pymongo.errors import BulkWriteError, CollectionInvalid, ConnectionFailure, DuplicateKeyError, PyMongoError

from shop.config import PROJECT_ROOT
from shop.domain import markers
from shop.domain.catalog import Product
from shop.domain.money import to_money

StoreError = PyMongoError  # any failure talking to MongoDB
StoreUnavailable = ConnectionFailure  # MongoDB did not answer (down, unreachable, timed out)

_PRICING_FIELDS = {"name": 1, "category": 1, "price": 1, "stock": 1, "tax_class": 1}
SCHEMA_FILE = PROJECT_ROOT / "database" / "mongo" / "collections.json"
_SPANISH = {"locale": "es", "strength": 1}  # "árbol" sorts with "arbol", "Zapato" with "zapato"
# Archived products stay in the collection for the orders that reference them, but are not sold.
_ON_SALE = {"deleted_at": {"$exists": False}}
# Every write of a listed field (name, category, price, attributes, archiving) adds 1 to `revision`
# and sets `catalog_pending` in the same update; the catalog index (PostgreSQL) is brought up to
# that revision right after, and `catalog_pending` is cleared only if no newer write came meanwhile.
# A sparse index finds what a crash left pending without reading the collection (docs/catalog.md).
_CATALOG_WRITE = {"$inc": {"revision": 1}, "$set": {"catalog_pending": True}}
_NO_MARKERS = {"holds": 0, "returns": 0}
# "No hold and no return marker": each field missing (null matches missing) or empty. Written with
# $in, not $or: SecantusDB plans any $or/$and beside an _id as a collection scan (0.4 s at 20,000
# products, 1 s at 100,000), which turned a recovery pass over 200 marked products into minutes.
_NO_MARKER_LEFT = {"holds": {"$in": [None, {}]}, "returns": {"$in": [None, {}]}}
# A read-then-conditional-update that loses a race reads again; this many times at most.
_OPTIMISTIC_ATTEMPTS = 20
_CAS_ATTEMPTS = 5  # adjust_stock's exact compare-and-set tries before its single conditional $inc
_NOT_LISTED = {"holds": 0, "returns": 0, "description": 0, "catalog_pending": 0, "marked": 0}


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
        doc = self.products.find_one({"_id": ObjectId(product_id)}, _NO_MARKERS)
        if doc is None or ("deleted_at" in doc and not include_archived):
            return None
        return _product(doc)

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
        docs = self.products.find({"_id": {"$in": [ObjectId(pid) for pid in product_ids]}}, _NO_MARKERS)
        return {str(doc["_id"]): _product(doc) for doc in docs if include_archived or "deleted_at" not in doc}

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
        return (_product(doc) for doc in self.products.find({}, _NOT_LISTED).batch_size(batch_size))

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
        before = self.products.find_one({"_id": ObjectId(product_id)}, _NO_MARKERS)
        if before is None or before.get("updated_at") != revision:
            return None
        now = dt.datetime.now(dt.timezone.utc)
        # The read above and this write are one step: the write applies only to the revision read.
        result = self.products.update_one(
            {"_id": ObjectId(product_id), "revision": before.get("revision"),
             "updated_at": revision if revision else {"$exists": False}},
            {"$set": {**fields, "updated_at": now, **_CATALOG_WRITE["$set"]}, "$inc": _CATALOG_WRITE["$inc"]})
        return before if result.modified_count == 1 else None

    def adjust_stock(self, product_id: str, delta: int, max_stock: int) -> int | None:
        """Add `delta` units (negative: remove); the new stock, or None when the change would go below
        zero or above `max_stock`. Races with sales are safe: both are atomic increments on the same
        document, so neither can overwrite the other.

        First a compare-and-set on the stock read, so the result is exactly before + delta. When
        sales keep changing the stock (a busy product), after a few tries it falls back to one
        conditional $inc — always applied or refused in a single step — and reports the stock read
        right after, which may already include the sales of that moment.
        """
        for _ in range(_CAS_ATTEMPTS):
            doc = self.products.find_one({"_id": ObjectId(product_id)}, {"stock": 1})
            if doc is None or not 0 <= doc["stock"] + delta <= max_stock:
                return None
            result = self.products.update_one({"_id": ObjectId(product_id), "stock": doc["stock"]},
                                              {"$inc": {"stock": delta}, "$set": {"marked": True}})
            if result.modified_count == 1:
                return int(doc["stock"]) + delta
        bound = {"$gte": -delta} if delta < 0 else {"$lte": max_stock - delta}
        result = self.products.update_one({"_id": ObjectId(product_id), "stock": bound},
                                          {"$inc": {"stock": delta}, "$set": {"marked": True}})
        if result.modified_count != 1:
            return None
        return int(self.products.find_one({"_id": ObjectId(product_id)}, {"stock": 1})["stock"])

    def archive_product(self, product_id: str) -> dict | None:
        """Take a product off sale (soft delete); returns it as it was, None if unknown or archived."""
        for _ in range(_OPTIMISTIC_ATTEMPTS):
            before = self.products.find_one({"_id": ObjectId(product_id)}, _NO_MARKERS)
            if before is None or "deleted_at" in before:
                return None
            now = dt.datetime.now(dt.timezone.utc)
            result = self.products.update_one(
                {"_id": ObjectId(product_id), "revision": before.get("revision"), **_ON_SALE},
                {"$set": {"deleted_at": now, "updated_at": now, **_CATALOG_WRITE["$set"]},
                 "$inc": _CATALOG_WRITE["$inc"]})
            if result.modified_count == 1:
                return before
        raise StoreError("the product kept changing while it was being archived; try again")

    def restore_product(self, product_id: str) -> bool:
        now = dt.datetime.now(dt.timezone.utc)
        result = self.products.update_one(
            {"_id": ObjectId(product_id), "deleted_at": {"$exists": True}},
            {"$unset": {"deleted_at": ""}, "$set": {"updated_at": now, **_CATALOG_WRITE["$set"]},
             "$inc": _CATALOG_WRITE["$inc"]})
        return result.modified_count == 1

    def has_stock_markers(self, product_id: str) -> bool:
        """Whether an order still holds units here or a return is remembered (see docs/checkout.md)."""
        doc = self.products.find_one({"_id": ObjectId(product_id)}, {"holds": 1, "returns": 1})
        return doc is not None and bool(doc.get("holds") or doc.get("returns"))

    def delete_archived_product(self, product_id: str) -> bool:
        """Remove an archived product for good, unless a checkout marked it meanwhile."""
        result = self.products.delete_one({
            "_id": ObjectId(product_id), "deleted_at": {"$exists": True},
            **_NO_MARKER_LEFT,
        })
        return result.deleted_count == 1

    def reserve_stock(self, product_id: str, order_id: int, quantity: int,
                      settle: Iterable[int] = ()) -> Product | None:
        """Take `quantity` units for the order if that many are left.

        Returns the product as it was just before (name and price as sold), or None if too few
        units are left. `settle` lists committed orders whose holds on this product are dropped in
        the same update (settlement piggybacked on the next reservation, see docs/checkout.md).
        """
        key = markers.path(markers.HOLDS, markers.order_key(order_id))
        update: dict = {"$inc": {"stock": -quantity}, "$set": {key: quantity, "marked": True}}
        settled = {markers.path(markers.HOLDS, markers.order_key(other)): "" for other in settle if other != order_id}
        if settled:
            update["$unset"] = settled
        product = ObjectId(product_id)
        for _ in range(_OPTIMISTIC_ATTEMPTS):
            # Read the name and price, then take the units only if the product is still at that
            # revision (every change of name or price adds 1 to it): the line is sold at exactly
            # the price read. findAndModify would do both in one command, but SecantusDB runs it as
            # a collection scan; a point read plus a conditional update cost the same everywhere.
            doc = self.products.find_one({"_id": product}, {**_PRICING_FIELDS, "revision": 1, "deleted_at": 1,
                                                            key: 1})
            if doc is None:
                return None
            if markers.order_key(order_id) in (doc.get(markers.HOLDS) or {}):
                return _product(doc)  # this order already holds them: a retry, nothing to take
            if "deleted_at" in doc or doc["stock"] < quantity:
                return None
            result = self.products.update_one(
                {"_id": product, "revision": doc.get("revision"), "stock": {"$gte": quantity},
                 key: {"$exists": False}, **_ON_SALE}, update)
            if result.modified_count == 1:
                return _product(doc)
            # Not modified: the stock ran out, the product was edited or archived, or an earlier
            # attempt of this very update landed unseen (a retried write): read again and decide.
        raise StoreError("the product kept changing during the reservation")

    def release_hold(self, product_id: str, order_id: int, quantity: int) -> bool:
        """Give an aborted order's units back; a no-op if it holds none here."""
        key = markers.path(markers.HOLDS, markers.order_key(order_id))
        result = self.products.update_one(
            {"_id": ObjectId(product_id), key: quantity},
            {"$inc": {"stock": quantity}, "$unset": {key: ""}},
        )
        return result.modified_count == 1

    def settle_hold(self, product_id: str, order_id: int) -> bool:
        """A committed order's units are sold for good: drop the marker, keep the stock as it is."""
        key = markers.path(markers.HOLDS, markers.order_key(order_id))
        result = self.products.update_one({"_id": ObjectId(product_id), key: {"$exists": True}},
                                          {"$unset": {key: ""}})
        return result.modified_count == 1

    def return_stock(self, product_id: str, order_id: int, quantity: int) -> bool:
        """Give a cancelled order's units back exactly once (a `returns` marker remembers it)."""
        hold = markers.path(markers.HOLDS, markers.order_key(order_id))
        returned = markers.path(markers.RETURNS, markers.order_key(order_id))
        marker = {"qty": quantity, "at": dt.datetime.now(dt.timezone.utc)}
        product = ObjectId(product_id)
        # Still held (cancelled before its hold was settled): release and remember in one update.
        result = self.products.update_one(
            {"_id": product, hold: {"$exists": True}, returned: {"$exists": False}},
            {"$inc": {"stock": quantity}, "$unset": {hold: ""}, "$set": {returned: marker, "marked": True}},
        )
        if result.modified_count == 0:
            result = self.products.update_one(
                {"_id": product, hold: {"$exists": False}, returned: {"$exists": False}},
                {"$inc": {"stock": quantity}, "$set": {returned: marker, "marked": True}},
            )
        return result.modified_count == 1

    def return_units(self, product_id: str, marker_key: str, quantity: int) -> bool:
        """Put `quantity` units back once for `marker_key` (a refund's returned goods: "r<refund id>");
        a repeat finds the marker and changes nothing."""
        returned = markers.path(markers.RETURNS, marker_key)
        result = self.products.update_one(
            {"_id": ObjectId(product_id), returned: {"$exists": False}},
            {"$inc": {"stock": quantity},
             "$set": {returned: {"qty": quantity, "at": dt.datetime.now(dt.timezone.utc)}, "marked": True}})
        return result.modified_count == 1

    def products_with_markers(self, field: str) -> list[tuple[str, dict]]:
        """(product id, markers) for every product with `holds` or `returns` markers.

        Every update that adds a marker also sets `marked: true`, and the sparse index on `marked`
        holds only those products: the sweep reads the work in flight, never the whole collection.
        """
        if field not in markers.FIELDS:
            raise ValueError(f"not a stock marker field: {field!r}")
        docs = self.products.find({"marked": True}, {field: 1})
        return [(str(doc["_id"]), doc[field]) for doc in docs if doc.get(field)]

    def marked_stock_levels(self) -> list[tuple[str, int, bool]]:
        """(product id, stock, no marker left) for every marked product: those whose stock changed
        since the recovery pass last recorded it (every stock change sets `marked`)."""
        docs = self.products.find({"marked": True}, {"holds": 1, "returns": 1, "stock": 1})
        return [(str(doc["_id"]), int(doc["stock"]), not doc.get("holds") and not doc.get("returns")) for doc in docs]

    def unmark(self, product_id: str, stock: int) -> bool:
        """Drop `marked` if no hold or return is left and the stock is still the one recorded. The
        filter re-checks all of it in the same atomic update, so a reservation, return or restock
        meanwhile keeps its product marked for the next pass."""
        return self.products.update_one(
            {"_id": ObjectId(product_id), "marked": True, "stock": stock, **_NO_MARKER_LEFT},
            {"$unset": {"marked": ""}}).modified_count == 1

    def mark_products_with_markers(self) -> None:
        """Set `marked` on products whose markers predate the flag (a full read: rebuilds only)."""
        for field in markers.FIELDS:
            self.products.update_many({field: {"$gt": {}}, "marked": {"$exists": False}}, {"$set": {"marked": True}})

    def forget_marker(self, product_id: str, field: str, key: str) -> None:
        self.products.update_one({"_id": ObjectId(product_id)}, {"$unset": {markers.path(field, key): ""}})

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

    # --- audit log ------------------------------------------------------------------------------

    def append_audit_entries(self, items: list, build, attempts: int = 100) -> list[dict]:
        """Append items to the hash chain in order; `build(item, seq, previous_hash)` makes each entry.
        Returns the entries as written.

        The unique index on `seq` lets exactly one writer (of any process or host) take each
        number; a writer that loses the race keeps what of its batch did land (checked by hash),
        backs off and links the rest after the new last entry, so the chain has no gaps and no forks.
        The last entry is found from `audit_head` (one small document, moved forward after each
        append) plus point lookups of the next numbers, never by sorting the log: SecantusDB reads
        a whole index range for `sort + limit 1`, so that cost would grow with the log.
        """
        pending, written = list(items), []
        for attempt in range(attempts):
            if not pending:
                return written
            seq, previous = self._audit_tail()
            entries = []
            for item in pending:
                seq += 1
                entries.append(build(item, seq, previous))
                previous = entries[-1]["hash"]
            try:
                self.audit_logs.insert_many(entries, ordered=True)
                pending = []
            except (DuplicateKeyError, BulkWriteError):
                landed = 0  # an ordered insert keeps a prefix: count it by point lookups, by hash
                for entry in entries:
                    found = self.audit_logs.find_one({"seq": entry["seq"]}, {"hash": 1})
                    if found is None or found["hash"] != entry["hash"]:
                        break
                    landed += 1
                pending = pending[landed:]
                entries = entries[:landed]
                # Jitter, not cryptography.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311  # nosec B311
            if entries:
                self._advance_audit_head(entries[-1]["seq"], entries[-1]["hash"])
                written += entries
        if pending:
            raise StoreError("could not append to the audit log: too many concurrent writers")
        return written

    def _audit_tail(self) -> tuple[int, str]:
        """(seq, hash) of the last entry: the head document, then forward by point lookups (the head
        lags when a writer stopped between its insert and moving the head)."""
        from shop.domain.audit import GENESIS_HASH

        head = self.audit_head.find_one({"_id": "chain"})
        if head is None:
            if self.audit_logs.find_one({"seq": 1}, {"_id": 1}) is None:
                return 0, GENESIS_HASH
            # A log written before the head existed: find its end once, the slow way.
            last = self.audit_logs.find_one({}, {"seq": 1, "hash": 1}, sort=[("seq", -1)])
            self._advance_audit_head(last["seq"], last["hash"])
            return last["seq"], last["hash"]
        seq, last_hash = head["seq"], head["hash"]
        at_head = self.audit_logs.find_one({"seq": seq}, {"hash": 1})
        if at_head is None or at_head["hash"] != last_hash:  # a head ahead of its chain (restored apart)
            self.audit_head.delete_one({"_id": "chain"})
            return self._audit_tail()
        while (following := self.audit_logs.find_one({"seq": seq + 1}, {"seq": 1, "hash": 1})) is not None:
            seq, last_hash = following["seq"], following["hash"]
        return seq, last_hash

    def _advance_audit_head(self, seq: int, last_hash: str) -> None:
        """Move the head forward to `seq` (never back: a slower writer's older head is ignored)."""
        with contextlib.suppress(DuplicateKeyError):  # the head is already at or past `seq`
            self.audit_head.update_one({"_id": "chain", "seq": {"$lt": seq}},
                                       {"$set": {"seq": seq, "hash": last_hash}}, upsert=True)

    def audit_head_seq(self) -> int:
        """How many entries the chain has (seq is gapless from 1), from the head: a point read."""
        return self._audit_tail()[0]

    def audit_entries(self, batch_size: int = 1000):
        return self.audit_logs.find({}, {"_id": 0}).sort("seq", 1).batch_size(batch_size)

    def count_audit_entries(self) -> int:
        return self.audit_logs.count_documents({})

    def audit_entries_by_seq(self, seqs: list[int]) -> list[dict]:
        """The entries with these sequence numbers, in the order asked (point lookups on the unique
        seq index; a number not in the log is left out)."""
        found = {doc["seq"]: doc for doc in self.audit_logs.find({"seq": {"$in": list(seqs)}}, {"_id": 0})}
        return [found[n] for n in seqs if n in found]

    def stock_levels(self) -> dict[str, int]:
        return {str(doc["_id"]): doc["stock"] for doc in self.products.find({}, {"stock": 1})}


def _product(doc: dict) -> Product:
    return Product(
        product_id=str(doc["_id"]),
        name=doc["name"],
        category=doc.get("category", ""),
        price=to_money(doc["price"]),
        stock=int(doc["stock"]),
        attributes=doc.get("attributes") or {},
        description=doc.get("description", ""),
        deleted="deleted_at" in doc,
        updated_at=doc.get("updated_at"),
        revision=int(doc.get("revision", 0)),
        tax_class=doc.get("tax_class") or "general",
    )


