"""MongoDB access: the client, the collections with their validators and indexes, and queries.

The catalog and the stock live here. Only portable MongoDB 5+ features are used (no `$text`,
no field paths through arrays of sub-documents), so the SecantusDB stand-in and real MongoDB
behave alike. Every filter is built from values validated in `shop.domain.catalog`.

One module per part, reached as attributes: `store.catalog` (catalog.py: products read by id,
added, edited, archived), `store.stock` (stock.py: every change of a product's stock),
`store.reviews` (reviews.py), `store.images` (images.py: image files in GridFS),
`store.audit` (audit_log.py: the hash-chained audit log). The product
document's shape is in `documents.py`. This module keeps the client, the schema and what is shared.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pymongo
from bson.codec_options import CodecOptions, TypeCodec, TypeRegistry
from bson.decimal128 import Decimal128
from pymongo import MongoClient
from pymongo.errors import CollectionInvalid

from shop.adapters.errors import StoreError as StoreError  # the shop's own errors, re-exported
from shop.adapters.errors import StoreUnavailable as StoreUnavailable
from shop.adapters.mongo.attribute_labels import AttributeLabels
from shop.adapters.mongo.audit_log import AuditChain
from shop.adapters.mongo.catalog import Catalog
from shop.adapters.mongo.errors import DRIVER_UNAVAILABLE as DRIVER_UNAVAILABLE
from shop.adapters.mongo.errors import translates_errors
from shop.adapters.mongo.images import Images
from shop.adapters.mongo.reviews import Reviews
from shop.adapters.mongo.stock import Stock
from shop.config import PROJECT_ROOT

SCHEMA_FILE = PROJECT_ROOT / "database" / "mongo" / "collections.json"


def _decimal_codec() -> CodecOptions:
    """Read Decimal128 as Decimal and write Decimal as Decimal128: money never becomes a float."""
    class DecimalCodec(TypeCodec):
        python_type = Decimal
        bson_type = Decimal128

        def transform_python(self, value):
            return Decimal128(value)

        def transform_bson(self, value):
            return value.to_decimal()

    return CodecOptions(type_registry=TypeRegistry([DecimalCodec()]), tz_aware=True)


@translates_errors
class MongoStore:
    """The shop's MongoDB database and its collections. Its methods, and those of its parts, raise
    the shop's own errors (shop.adapters.errors); the raw collections (`products`, `audit_logs`, …)
    that tools and tests use keep pymongo's."""

    def __init__(self, url: str, db_name: str, *, timeout_ms: int = 5000, **client_options):
        self.client = MongoClient(url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms,
                                  appname="shop", tz_aware=True, **client_options)
        self.db = self.client.get_database(db_name, codec_options=_decimal_codec())
        self.products = self.db["products"]
        self.audit_logs = self.db["audit_logs"]
        self.audit_head = self.db["audit_head"]
        self.catalog = Catalog(self.products)
        self.stock = Stock(self.products)
        self.reviews = Reviews(self.db["reviews"])
        self.attribute_labels = AttributeLabels(self.db["attribute_labels"])
        self.images = Images(self.db)
        self.audit = AuditChain(self.audit_logs, self.audit_head)

    def close(self) -> None:
        self.client.close()

    def ping(self, timeout_seconds: float | None = None) -> None:
        """The server answers (within `timeout_seconds`, when given, instead of the client's timeout:
        readiness must answer sooner than a stopped server's 5 s of server selection)."""
        if timeout_seconds is None:
            self.db.command("ping")
            return
        with pymongo.timeout(timeout_seconds):
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
