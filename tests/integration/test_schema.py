"""The schema on the real databases: migrations are idempotent and constraints do the guarding."""

from decimal import Decimal

import psycopg2
import pytest
from bson import Decimal128
from pymongo.errors import WriteError

from shop.adapters.postgres import MIGRATIONS_DIR


def test_migrations_are_tracked_and_applying_them_again_changes_nothing(db):
    assert db.migrate() == []
    assert db.schema_version() == sorted(p.name[:4] for p in MIGRATIONS_DIR.glob("*.sql"))[-1]


# Triggers that only keep a row's bookkeeping right. Business work — mails, invoices, sales figures,
# discount uses — happens in Python (shop.domain.order_effects), where a reader can see it.
INTEGRITY_TRIGGERS = {("users", "users_set_updated_at"), ("orders", "orders_set_updated_at"),
                      ("payments", "payments_set_updated_at")}


def test_no_trigger_does_business_work_only_the_integrity_guards_remain(db):
    with db.transaction() as cur:
        cur.execute("""SELECT c.relname AS table_name, t.tgname AS trigger_name, p.proname AS function_name
                       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
                       WHERE NOT t.tgisinternal""")
        triggers = cur.fetchall()
    assert {(row["table_name"], row["trigger_name"]) for row in triggers} == INTEGRITY_TRIGGERS
    assert {row["function_name"] for row in triggers} == {"set_updated_at"}
    with db.transaction() as cur:
        cur.execute("""SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                       JOIN pg_language l ON l.oid = p.prolang
                       WHERE l.lanname = 'plpgsql' AND n.nspname = current_schema()""")
        assert {row["proname"] for row in cur.fetchall()} == {"set_updated_at"}


def test_users_emails_are_unique_and_lower_case(db, make_user):
    make_user(email="ana@example.com")
    with pytest.raises(psycopg2.errors.UniqueViolation), db.transaction() as cur:
        cur.execute("INSERT INTO users (email, full_name, password_hash) VALUES ('ana@example.com', 'A', 'x')")
    with pytest.raises(psycopg2.errors.CheckViolation), db.transaction() as cur:
        cur.execute("INSERT INTO users (email, full_name, password_hash) VALUES ('Bob@example.com', 'B', 'x')")


def test_roles_are_constrained_to_the_three_of_the_seed(db):
    with pytest.raises(psycopg2.errors.CheckViolation), db.transaction() as cur:
        cur.execute("INSERT INTO users (email, full_name, password_hash, role) VALUES ('r@x.es', 'R', 'x', 'root')")


def test_orders_and_items_refuse_impossible_values(db, make_user):
    user = make_user()
    with db.transaction() as cur:
        cur.execute("INSERT INTO orders (user_id, total_amount, status) VALUES (%s, %s, 'pending') RETURNING order_id",
                    (user.user_id, Decimal("10.50")))
        order_id = cur.fetchone()["order_id"]
    bad_statements = [
        ("INSERT INTO orders (user_id, total_amount, status) VALUES (%s, 1, 'lost')", (user.user_id,)),
        ("INSERT INTO orders (user_id, total_amount, status) VALUES (%s, -1, 'pending')", (user.user_id,)),
        ("INSERT INTO orders (user_id, total_amount, status) VALUES (999999, 1, 'pending')", ()),
        ("INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity) "
         "VALUES (%s, '0123456789abcdef01234567', 'X', 1, 0)", (order_id,)),
        ("INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity) "
         "VALUES (%s, 'not-an-object-id', 'X', 1, 1)", (order_id,)),
    ]
    for statement, params in bad_statements:
        with pytest.raises(psycopg2.IntegrityError), db.transaction() as cur:
            cur.execute(statement, params)


def test_an_order_can_be_paid_successfully_only_once(db, make_user):
    user = make_user()
    with db.transaction() as cur:
        cur.execute("INSERT INTO orders (user_id, total_amount, status) VALUES (%s, 5, 'pending') RETURNING order_id",
                    (user.user_id,))
        order_id = cur.fetchone()["order_id"]
        cur.execute("INSERT INTO payments (order_id, amount, status, method) VALUES (%s, 5, 'succeeded', 'card')",
                    (order_id,))
    with pytest.raises(psycopg2.errors.UniqueViolation), db.transaction() as cur:
        cur.execute("INSERT INTO payments (order_id, amount, status, method) VALUES (%s, 5, 'succeeded', 'card')",
                    (order_id,))


def test_money_is_numeric_in_postgres(db, make_user):
    user = make_user()
    with db.transaction() as cur:
        cur.execute("INSERT INTO orders (user_id, total_amount, status) VALUES (%s, %s, 'pending') "
                    "RETURNING total_amount", (user.user_id, Decimal("0.10") + Decimal("0.20")))
        assert cur.fetchone()["total_amount"] == Decimal("0.30")


def test_mongo_validators_refuse_invalid_products(store):
    good = {"name": "P", "category": "C", "price": Decimal128("1.00"), "stock": 1, "attributes": {}}
    store.products.insert_one(dict(good))
    # A negative Decimal128 price is refused by real MongoDB's validator, but SecantusDB does not apply
    # `minimum` to decimals (README: the stand-in's gaps); shop.domain.catalog.new_product refuses it.
    for bad in ({"stock": -1}, {"stock": 1.5}, {"price": 9.99},
                {"attributes": "x"}, {"name": ""}):
        with pytest.raises(WriteError):
            store.products.insert_one({**good, **bad})
    with pytest.raises(WriteError):
        store.products.update_one({"name": "P"}, {"$inc": {"stock": -2}})


def test_mongo_schema_is_idempotent_and_creates_the_indexes(store):
    store.apply_schema()
    store.apply_schema()
    assert set(store.validators()) >= {"products", "reviews", "audit_logs"}
    assert "$jsonSchema" in store.validators()["products"]
    indexes = store.products.index_information()
    assert indexes["catalog_pending"]["sparse"] and indexes["marked"]["sparse"]
    assert "one_review_per_customer" in store.reviews.collection.index_information()


def test_prices_round_trip_as_exact_decimals(store, make_product):
    make_product(name="Exacto", price="0.30")
    raw = store.products.with_options(codec_options=store.products.codec_options.with_options(
        type_registry=None)).find_one({"name": "Exacto"})
    assert isinstance(raw["price"], Decimal128)
    assert store.catalog.get(str(raw["_id"])).price == Decimal("0.30")


def test_an_order_in_flight_must_carry_a_lease(db, make_user):
    user = make_user()
    with pytest.raises(psycopg2.errors.CheckViolation), db.transaction() as cur:
        cur.execute("INSERT INTO orders (user_id, total_amount, status) VALUES (%s, 1, 'placing')", (user.user_id,))


def test_an_idempotency_key_is_used_once_per_customer(db, make_user):
    user = make_user()
    statement = ("INSERT INTO orders (user_id, total_amount, status, idempotency_key) "
                 "VALUES (%s, 1, 'pending', '6f1c8a56-3a3c-4b61-9f6e-0d0f7b1c2a10')")
    with db.transaction() as cur:
        cur.execute(statement, (user.user_id,))
    with pytest.raises(psycopg2.errors.UniqueViolation), db.transaction() as cur:
        cur.execute(statement, (user.user_id,))
