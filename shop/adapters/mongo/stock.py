"""Stock in MongoDB (`store.stock`): the only code that changes a product's `stock` (and its variants').

Every change is one conditional update on one document, so a product without stock is never sold:
a checkout takes units with `{_id, stock: {$gte: q}}` + `$inc` and leaves a hold marker in the same
update; releasing, settling and returning are conditional on those markers, so each is safe to
repeat (shop/domain/markers.py, docs/checkout.md). A variant's units are taken the same way,
`{_id, variants.v2.stock: {$gte: q}}` + `$inc` of both `variants.v2.stock` and the product's `stock`,
so the product's stock stays the sum of its variants'. Staff adjustments never take the stock below
what orders hold. Recovery finds the products with markers through the `marked` flag and its
sparse index, never by reading the collection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bson import ObjectId

from shop.adapters.errors import StoreError
from shop.adapters.mongo.documents import (
    NO_MARKER_LEFT,
    ON_SALE,
    OPTIMISTIC_ATTEMPTS,
    PRICING_FIELDS,
    product_of,
)
from shop.adapters.mongo.errors import translates_errors
from shop.domain import markers
from shop.domain.catalog import Product
from shop.domain.variants import parse_variant_key

CAS_ATTEMPTS = 5  # adjust_stock's exact compare-and-set tries before its single conditional $inc


@translates_errors
class Stock:
    def __init__(self, products):
        self.products = products  # the products collection

    def adjust(self, product_id: str, delta: int, max_stock: int, variant: str | None = None) -> int | None:
        """Add `delta` units (negative: remove) to the product, or to its `variant`; the new stock
        (the variant's), or None when the change would go below zero or above `max_stock` (or there
        is no such variant). Races with sales are safe: both are atomic increments on the same
        document, so neither can overwrite the other.

        First a compare-and-set on the stock read, so the result is exactly before + delta. When
        sales keep changing the stock (a busy product), after a few tries it falls back to one
        conditional $inc — always applied or refused in a single step — and reports the stock read
        right after, which may already include the sales of that moment.
        """
        field = stock_path(variant)
        # A product with variants has no stock of its own: only its variants' (the total follows them).
        own = {"variants": {"$exists": False}} if variant is None else {}
        for _ in range(CAS_ATTEMPTS):
            doc = self.products.find_one({"_id": ObjectId(product_id)}, {field: 1})
            level = stock_in(doc, variant)
            if level is None or not 0 <= level + delta <= max_stock:
                return None
            result = self.products.update_one({"_id": ObjectId(product_id), field: level, **own},
                                              {"$inc": stock_change(variant, delta), "$set": {"marked": True}})
            if result.modified_count == 1:
                return level + delta
        bound = {"$gte": -delta} if delta < 0 else {"$lte": max_stock - delta}
        result = self.products.update_one({"_id": ObjectId(product_id), field: bound, **own},
                                          {"$inc": stock_change(variant, delta), "$set": {"marked": True}})
        if result.modified_count != 1:
            return None
        return stock_in(self.products.find_one({"_id": ObjectId(product_id)}, {field: 1}), variant)


    def set_to(self, product_id: str, target: int, max_stock: int, variant: str | None = None
               ) -> tuple[int, int] | None:
        """Make the stock (the variant's) exactly `target` by adding the difference to what is read,
        only if it is still what was read (compare-and-set, retried while sales change it). Returns
        (before, after); None if there is no such product or variant. A sale in between is never
        undone: the difference is computed again from the stock that includes it."""
        if not 0 <= target <= max_stock:
            return None
        field = stock_path(variant)
        own = {"variants": {"$exists": False}} if variant is None else {}
        for _ in range(OPTIMISTIC_ATTEMPTS):
            level = stock_in(self.products.find_one({"_id": ObjectId(product_id)}, {field: 1}), variant)
            if level is None:
                return None
            if level == target:
                return level, level
            result = self.products.update_one({"_id": ObjectId(product_id), field: level, **own},
                                              {"$inc": stock_change(variant, target - level), "$set": {"marked": True}})
            if result.modified_count == 1:
                return level, target
        raise StoreError("the stock kept changing while it was being set; try again")


    def has_markers(self, product_id: str) -> bool:
        """Whether an order still holds units here or a return is remembered (see docs/checkout.md)."""
        doc = self.products.find_one({"_id": ObjectId(product_id)}, {"holds": 1, "returns": 1})
        return doc is not None and bool(doc.get("holds") or doc.get("returns"))


    def reserve(self, product_id: str, order_id: int, quantity: int,
                      settle: Iterable[str] = (), variant: str | None = None) -> Product | None:
        """Take `quantity` units of the product (of its `variant`) for the order if that many are left.

        Returns the product as it was just before (name and price as sold), or None if too few
        units are left or it has no such variant. `settle` lists hold keys of committed orders
        (markers.order_key) dropped from this product in the same update (settlement piggybacked on
        the next reservation, see docs/checkout.md).
        """
        own = markers.order_key(order_id, variant)
        key = markers.path(markers.HOLDS, own)
        field = stock_path(variant)
        update: dict = {"$inc": stock_change(variant, -quantity), "$set": {key: quantity, "marked": True}}
        settled = {markers.path(markers.HOLDS, other): "" for other in settle if other != own}
        if settled:
            update["$unset"] = settled
        product = ObjectId(product_id)
        for _ in range(OPTIMISTIC_ATTEMPTS):
            # Read the name and price, then take the units only if the product is still at that
            # revision (every change of name or price adds 1 to it): the line is sold at exactly
            # the price read. findAndModify would do both in one command, but SecantusDB runs it as
            # a collection scan; a point read plus a conditional update cost the same everywhere.
            doc = self.products.find_one({"_id": product}, {**PRICING_FIELDS, "revision": 1, "deleted_at": 1,
                                                            key: 1})
            if doc is None:
                return None
            if own in (doc.get(markers.HOLDS) or {}):
                return product_of(doc)  # this order already holds them: a retry, nothing to take
            level = stock_in(doc, variant)
            if "deleted_at" in doc or level is None or level < quantity or (variant is None and doc.get("variants")):
                return None
            result = self.products.update_one(
                {"_id": product, "revision": doc.get("revision"), field: {"$gte": quantity},
                 key: {"$exists": False}, **ON_SALE}, update)
            if result.modified_count == 1:
                return product_of(doc)
            # Not modified: the stock ran out, the product was edited or archived, or an earlier
            # attempt of this very update landed unseen (a retried write): read again and decide.
        raise StoreError("the product kept changing during the reservation")


    def release(self, product_id: str, order_id: int, quantity: int, variant: str | None = None) -> bool:
        """Give an aborted order's units back; a no-op if it holds none here."""
        key = markers.path(markers.HOLDS, markers.order_key(order_id, variant))
        result = self.products.update_one(
            {"_id": ObjectId(product_id), key: quantity},
            {"$inc": stock_change(variant, quantity), "$unset": {key: ""}},
        )
        return result.modified_count == 1


    def settle(self, product_id: str, order_id: int, variant: str | None = None) -> bool:
        """A committed order's units are sold for good: drop the marker, keep the stock as it is."""
        key = markers.path(markers.HOLDS, markers.order_key(order_id, variant))
        result = self.products.update_one({"_id": ObjectId(product_id), key: {"$exists": True}},
                                          {"$unset": {key: ""}})
        return result.modified_count == 1


    def return_cancelled(self, product_id: str, order_id: int, quantity: int, variant: str | None = None) -> bool:
        """Give a cancelled order's units back exactly once (a `returns` marker remembers it)."""
        hold = markers.path(markers.HOLDS, markers.order_key(order_id, variant))
        returned = markers.path(markers.RETURNS, markers.order_key(order_id, variant))
        marker = {"qty": quantity, "at": dt.datetime.now(dt.UTC)}
        product = ObjectId(product_id)
        # Still held (cancelled before its hold was settled): release and remember in one update.
        result = self.products.update_one(
            {"_id": product, hold: {"$exists": True}, returned: {"$exists": False}},
            {"$inc": stock_change(variant, quantity), "$unset": {hold: ""}, "$set": {returned: marker, "marked": True}},
        )
        if result.modified_count == 0:
            result = self.products.update_one(
                {"_id": product, hold: {"$exists": False}, returned: {"$exists": False}},
                {"$inc": stock_change(variant, quantity), "$set": {returned: marker, "marked": True}},
            )
        return result.modified_count == 1


    def return_units(self, product_id: str, marker_key: str, quantity: int, variant: str | None = None) -> bool:
        """Put `quantity` units back once for `marker_key` (a refund's returned goods: "r<refund id>",
        with the variant's key after it for a variant); a repeat finds the marker and changes nothing."""
        returned = markers.path(markers.RETURNS, marker_key)
        result = self.products.update_one(
            {"_id": ObjectId(product_id), returned: {"$exists": False}},
            {"$inc": stock_change(variant, quantity),
             "$set": {returned: {"qty": quantity, "at": dt.datetime.now(dt.UTC)}, "marked": True}})
        return result.modified_count == 1


    def with_markers(self, field: str) -> list[tuple[str, dict]]:
        """(product id, markers) for every product with `holds` or `returns` markers.

        Every update that adds a marker also sets `marked: true`, and the sparse index on `marked`
        holds only those products: the sweep reads the work in flight, never the whole collection.
        """
        if field not in markers.FIELDS:
            raise ValueError(f"not a stock marker field: {field!r}")
        docs = self.products.find({"marked": True}, {field: 1})
        return [(str(doc["_id"]), doc[field]) for doc in docs if doc.get(field)]


    def marked_levels(self) -> list[MarkedLevel]:
        """The stock of every marked product: those whose stock changed since the recovery pass last
        recorded it (every stock change sets `marked`)."""
        docs = self.products.find({"marked": True}, {"holds": 1, "returns": 1, "stock": 1, "variants": 1})
        return [MarkedLevel(str(doc["_id"]), int(doc["stock"]),
                            {key: int(v["stock"]) for key, v in (doc.get("variants") or {}).items()},
                            not doc.get("holds") and not doc.get("returns")) for doc in docs]


    def marked_with_variants(self) -> list[Product]:
        """The marked products sold in options (their variants' stock changed since the last pass)."""
        docs = self.products.find({"marked": True}, {**PRICING_FIELDS, "revision": 1, "deleted_at": 1})
        return [product_of(doc) for doc in docs if doc.get("variants")]


    def unmark(self, level: MarkedLevel) -> bool:
        """Drop `marked` if no hold or return is left and the stock (each variant's too) is still the
        one recorded. The filter re-checks all of it in the same atomic update, so a reservation,
        return or restock meanwhile keeps its product marked for the next pass."""
        variants = {stock_path(key): stock for key, stock in level.variants.items()}
        return self.products.update_one(
            {"_id": ObjectId(level.product_id), "marked": True, "stock": level.stock, **variants, **NO_MARKER_LEFT},
            {"$unset": {"marked": ""}}).modified_count == 1


    def mark_products_with_markers(self) -> None:
        """Set `marked` on products whose markers predate the flag (a full read: rebuilds only)."""
        for field in markers.FIELDS:
            self.products.update_many({field: {"$gt": {}}, "marked": {"$exists": False}}, {"$set": {"marked": True}})


    def forget_marker(self, product_id: str, field: str, key: str) -> None:
        self.products.update_one({"_id": ObjectId(product_id)}, {"$unset": {markers.path(field, key): ""}})


    def levels(self) -> dict[str, int]:
        """The stock of everything: by product id, and by "product id:variant key" for each variant
        (a full read: tests and tools)."""
        found: dict[str, int] = {}
        for doc in self.products.find({}, {"stock": 1, "variants": 1}):
            found[str(doc["_id"])] = doc["stock"]
            for key, variant in (doc.get("variants") or {}).items():
                found[f"{doc['_id']}:{key}"] = variant["stock"]
        return found


@dataclass(frozen=True)
class MarkedLevel:
    """A marked product's stock as the recovery pass reads it."""
    product_id: str
    stock: int
    variants: dict[str, int]  # variant key → its stock (none: a product without options)
    clear: bool  # no hold or return marker left

    @property
    def listed(self) -> int:
        """What the low-stock list goes by (Product.scarcest_stock)."""
        return min(self.variants.values(), default=self.stock)


def stock_path(variant: str | None) -> str:
    """Where the stock that a sale of `variant` takes is kept: the product's `stock`, or its variant's."""
    return "stock" if variant is None else f"variants.{parse_variant_key(variant)}.stock"


def stock_change(variant: str | None, delta: int) -> dict[str, int]:
    """The $inc of a change of `delta` units: a variant's stock and its product's total move together,
    in the same update, so the total is always the sum of the variants."""
    return {"stock": delta} if variant is None else {"stock": delta, stock_path(variant): delta}


def stock_in(doc: dict | None, variant: str | None) -> int | None:
    """The stock a document holds for `variant` (the product's own for None); None if there is none."""
    if doc is None:
        return None
    if variant is None:
        return int(doc["stock"])
    found = (doc.get("variants") or {}).get(variant)
    return int(found["stock"]) if found is not None else None

