"""Upgrading a shop that sold before variants existed: the orders, carts and products it holds are
all still there and read the same, and its products sell, cancel and restock as before."""

from __future__ import annotations

import shutil
import uuid
from decimal import Decimal

import pytest

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import MIGRATIONS_DIR, PostgresDatabase
from shop.domain.accounts import Role
from shop.services import accounts, checkout, orders
from shop.services.catalog import update_catalog_index
from shop.services.checkout import CheckoutRequest
from tests.conftest import _admin, _with_database
from tests.integration.invariant import assert_invariant_after_recovery

BEFORE_VARIANTS = "0020"


@pytest.fixture
def shop_before_variants(servers, tmp_path):
    """Databases migrated up to the last schema without variants, and MongoDB with its validators."""
    name = f"shop_upgrade_{uuid.uuid4().hex[:8]}"
    _admin(servers.postgres_url, f'CREATE DATABASE "{name}"')
    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name[:4] <= BEFORE_VARIANTS:
            shutil.copy(path, old / path.name)
    db = PostgresDatabase(_with_database(servers.postgres_url, name), max_connections=2)
    db.migrate(old)
    store = MongoStore(servers.mongodb_url, name)
    store.apply_schema()
    yield db, store
    db.close()
    store.client.drop_database(name)
    store.close()
    _admin(servers.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_orders_carts_and_products_from_before_variants_survive_the_upgrade_and_keep_selling(shop_before_variants):
    db, store = shop_before_variants
    customer = accounts.create_user(db, "antes@example.com", "Clienta de Antes", "una-clave-larga-9", Role.CUSTOMER)
    product_id = str(store.products.insert_one(
        {"name": "Taza", "category": "Hogar", "price": Decimal("10.00"), "stock": 7, "attributes": {},
         "revision": 1}).inserted_id)
    with db.transaction() as cur:  # an order and a cart line as the shop before variants wrote them
        cur.execute("""INSERT INTO orders (user_id, status, total_amount, expires_at)
                       VALUES (%s, 'pending', 20.00, now() + interval '30 minutes') RETURNING order_id""",
                    (customer.user_id,))
        old_order = cur.fetchone()["order_id"]
        cur.execute("""INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity, tax_rate,
                                                tax_amount) VALUES (%s, %s, 'Taza', 10.00, 2, 21, 3.47)""",
                    (old_order, product_id))
        cur.execute("INSERT INTO cart_items (user_id, product_id, quantity) VALUES (%s, %s, 3)",
                    (customer.user_id, product_id))

    assert db.migrate()[0] == "0021_variants.sql"  # and any later migration after it

    (item,) = db.orders.get(old_order).items
    assert (item.product_name, item.unit_price, item.quantity, item.variant, item.sku) == (
        "Taza", Decimal("10.00"), 2, None, None)
    assert db.carts.lines(customer.user_id) == [(product_id, 3)]
    update_catalog_index(db, store, [product_id])
    result = checkout.place_order(db, store, CheckoutRequest(customer.user_id, db.carts.lines(customer.user_id),
                                                             str(uuid.uuid4())))
    assert result.total == Decimal("30.00") and db.carts.lines(customer.user_id) == []
    orders.cancel_order(db, store, customer, result.order_id)
    assert store.products.find_one()["stock"] == 7
    # the 2 units of the order placed before the upgrade are still counted as sold
    assert_invariant_after_recovery(db, store, {product_id: 9})
