"""The product document's shape, shared by the catalog and stock modules: which fields a price check
reads, what "on sale" and "no marker left" mean as filters, and the Product a document becomes."""

from __future__ import annotations

from typing import Any

from shop.domain.catalog import Product
from shop.domain.images import ProductImage
from shop.domain.money import to_money
from shop.domain.variants import ProductOption, Variant

PRICING_FIELDS = {"name": 1, "category": 1, "price": 1, "stock": 1, "tax_class": 1, "sku": 1, "options": 1,
                  "variants": 1}
# Archived products stay in the collection for the orders that reference them, but are not sold.
ON_SALE: dict[str, Any] = {"deleted_at": {"$exists": False}}
# Every write of a listed field (name, category, price, attributes, archiving) adds 1 to `revision`
# and sets `catalog_pending` in the same update; the catalog index (PostgreSQL) is brought up to
# that revision right after, and `catalog_pending` is cleared only if no newer write came meanwhile.
# A sparse index finds what a crash left pending without reading the collection (docs/catalog.md).
CATALOG_WRITE: dict[str, Any] = {"$inc": {"revision": 1}, "$set": {"catalog_pending": True}}
NO_MARKERS: dict[str, Any] = {"holds": 0, "returns": 0}
# "No hold and no return marker": each field missing (null matches missing) or empty. Written with
# $in, not $or: SecantusDB plans any $or/$and beside an _id as a collection scan (0.4 s at 20,000
# products, 1 s at 100,000), which turned a recovery pass over 200 marked products into minutes.
NO_MARKER_LEFT: dict[str, Any] = {"holds": {"$in": [None, {}]}, "returns": {"$in": [None, {}]}}
# A read-then-conditional-update that loses a race reads again; this many times at most.
OPTIMISTIC_ATTEMPTS = 20
NOT_LISTED = {"holds": 0, "returns": 0, "description": 0, "catalog_pending": 0, "marked": 0}


def product_of(doc: dict) -> Product:
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
        images=tuple(image_of(image) for image in doc.get("images") or ()),
        images_rev=int(doc.get("images_rev", 0)),
        sku=doc.get("sku"),
        handle=doc.get("handle"),
        last_variant_number=int(doc.get("last_variant", 0)),
        options=tuple(ProductOption(option["name"], tuple(option["values"])) for option in doc.get("options") or ()),
        variants=tuple(Variant(key, variant["sku"], tuple(variant["values"]), int(variant["stock"]),
                               to_money(variant["price"]) if variant.get("price") is not None else None)
                       for key, variant in (doc.get("variants") or {}).items()),
    )


def product_document(fields: dict) -> dict:
    """A product's fields as stored: its options and variants in their stored shape, and `skus`
    (every SKU it has: its own, or its variants'), which a unique index keeps on one product."""
    doc = {key: value for key, value in fields.items() if key not in ("options", "variants")}
    options, variants = fields.get("options") or (), fields.get("variants") or []
    if variants:
        doc.pop("sku", None)
        doc.update({"options": options_document(options), "variants": variants_document(variants),
                    "skus": [variant.sku for variant in variants], "stock": sum(v.stock for v in variants)})
    elif doc.get("sku"):
        doc["skus"] = [doc["sku"]]
    else:
        doc.pop("sku", None)
    return doc


def options_document(options: tuple[ProductOption, ...]) -> list[dict]:
    return [{"name": option.name, "values": list(option.values)} for option in options]


def variants_document(variants: list[Variant]) -> dict:
    """`variants` as stored: keyed by the shop's own variant keys, in the order staff listed them."""
    return {variant.key: {"sku": variant.sku, "values": list(variant.values), "stock": variant.stock,
                          **({"price": variant.price} if variant.price is not None else {})}
            for variant in variants}


def image_of(doc: dict) -> ProductImage:
    return ProductImage(image_id=doc["image_id"], alt=doc["alt"], width=int(doc["width"]), height=int(doc["height"]),
                        widths=tuple(int(w) for w in doc["widths"]), variant=doc.get("variant"))


def image_document(image: ProductImage) -> dict:
    return {"image_id": image.image_id, "alt": image.alt, "width": image.width, "height": image.height,
            "widths": list(image.widths), **({"variant": image.variant} if image.variant else {})}
