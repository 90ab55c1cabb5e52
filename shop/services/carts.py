"""A customer's cart (kept in PostgreSQL): what is added, changed and removed, validated here."""

from __future__ import annotations

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.catalog import Product, check_sells
from shop.domain.orders import MAX_QUANTITY_PER_LINE, parse_quantity
from shop.domain.variants import parse_item_ref
from shop.domain.visitor_cart import VisitorCart
from shop.services import catalog as catalog_service


def add_to_cart(db: PostgresDatabase, store: MongoStore, user_id: int, raw_ref: str,
                raw_quantity: str) -> Product:
    """Add units of a product on sale, or of one of its variants ("product id:variant key"); a line
    never goes over MAX_QUANTITY_PER_LINE. Returns the product."""
    product_id, variant = parse_item_ref(raw_ref)
    product = catalog_service.product_detail(store, product_id)
    check_sells(product, variant)
    db.carts.add(user_id, product.product_id, parse_quantity(raw_quantity), MAX_QUANTITY_PER_LINE, variant)
    return product


def change_cart_line(db: PostgresDatabase, user_id: int, raw_ref: str, raw_quantity: str,
                     remove: bool = False) -> None:
    """Set a line's quantity; 0 (or `remove`) takes it out of the cart."""
    product_id, variant = parse_item_ref(raw_ref)
    quantity = 0 if remove or raw_quantity.strip() == "0" else parse_quantity(raw_quantity)
    db.carts.set_quantity(user_id, product_id, quantity, variant)


def put_cart_line(db: PostgresDatabase, store: MongoStore, user_id: int, raw_ref: str, quantity: int) -> None:
    """The cart holds exactly `quantity` units of an item on sale (0 takes it out, whatever it is)."""
    product_id, variant = parse_item_ref(raw_ref)
    if quantity <= 0:
        db.carts.set_quantity(user_id, product_id, 0, variant)
        return
    product = catalog_service.product_detail(store, product_id)
    check_sells(product, variant)
    db.carts.put(user_id, product.product_id, parse_quantity(quantity), variant)


def add_to_visitor_cart(store: MongoStore, cart: VisitorCart, raw_ref: str, raw_quantity: str) -> Product:
    """`add_to_cart` for someone not logged in: the same checks, into the cart their session holds."""
    product_id, variant = parse_item_ref(raw_ref)
    product = catalog_service.product_detail(store, product_id)
    check_sells(product, variant)
    cart.add(product.product_id, variant, parse_quantity(raw_quantity))
    return product


def change_visitor_cart_line(cart: VisitorCart, raw_ref: str, raw_quantity: str, remove: bool = False) -> None:
    """`change_cart_line` for the cart a visitor's session holds."""
    product_id, variant = parse_item_ref(raw_ref)
    quantity = 0 if remove or raw_quantity.strip() == "0" else parse_quantity(raw_quantity)
    cart.set(product_id, variant, quantity)


def join_visitor_cart(db: PostgresDatabase, store: MongoStore, user_id: int, cart: VisitorCart) -> int:
    """At login: each line of what the person chose before logging in that is still on sale joins
    their account's cart (units add up to MAX_QUANTITY_PER_LINE). Returns how many lines joined."""
    items = cart.items()
    products = store.catalog.by_ids(sorted({product_id for product_id, _, _ in items})) if items else {}
    joined = 0
    for product_id, variant, units in items:
        product = products.get(product_id)
        if product is None or not product.sells(variant):
            continue
        db.carts.add(user_id, product_id, units, MAX_QUANTITY_PER_LINE, variant)
        joined += 1
    return joined
