"""Integration fixtures: each test gets clean tables and its own MongoDB database."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.config import Settings
from shop.domain.accounts import Role
from shop.domain.variants import ProductOption, VariantDraft
from shop.services import accounts
from shop.services.catalog import add_products
from shop.web.extensions import close_stores
from shop.web.factory import create_app
from tests.conftest import csrf_token_from

PASSWORD = "correct horse battery"
_TABLES = ("payments, order_items, orders, users, rate_limit_counters, catalog_entries, catalog_categories, "
           "catalog_facet_values, catalog_facet_keys, catalog_terms, catalog_postings, audit_index, "
           "invoice_series, invoices, credit_note_series, credit_notes, invoice_records, mail_outbox, discount_uses, "
           "discount_codes, sales_daily, product_sales_daily, refund_lines, refunds, addresses, shipping_methods, "
           "api_keys, api_refresh_tokens, webhook_deliveries, webhook_events, webhook_endpoints")


@pytest.fixture(scope="session")
def migrated(servers) -> str:
    db = PostgresDatabase(servers.postgres_url, max_connections=1)
    try:
        db.migrate()
    finally:
        db.close()
    return servers.postgres_url


@pytest.fixture
def db(migrated) -> Iterator[PostgresDatabase]:
    database = PostgresDatabase(migrated, max_connections=4)
    with database.transaction() as cur:
        cur.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")  # noqa: S608 - constant
        cur.execute("UPDATE audit_index_state SET through = 0, last_hash = NULL")
        cur.execute("UPDATE invoice_chain SET last_record_id = NULL, last_hash = ''")
    yield database
    database.close()


@pytest.fixture
def mongo_db_name() -> str:
    return f"shop_test_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(servers, mongo_db_name) -> Iterator[MongoStore]:
    mongo = MongoStore(servers.mongodb_url, mongo_db_name)
    mongo.apply_schema()
    yield mongo
    mongo.client.drop_database(mongo_db_name)
    mongo.close()


@pytest.fixture
def settings(servers, migrated, mongo_db_name, tmp_path) -> Settings:
    # No page cache (as load_settings gives the testing environment): a page shows the last write.
    return Settings(env="testing", secret_key="t" * 48, database_url=migrated, mongodb_url=servers.mongodb_url,
                    mongodb_db=mongo_db_name, data_dir=tmp_path, products_per_page=12, catalog_cache_seconds=0)


@pytest.fixture
def app(settings, db, store):
    application = create_app({"TESTING": True, "RATELIMIT_ENABLED": False}, settings=settings)
    yield application
    close_stores(application)


@pytest.fixture
def cached_app(settings, db, store):
    """`cached_app(seconds)`: an app whose page cache is on for that long (testing turns it off)."""
    made = []

    def make(seconds: int):
        made.append(create_app({"TESTING": True, "RATELIMIT_ENABLED": False},
                               settings=dataclasses.replace(settings, catalog_cache_seconds=seconds)))
        return made[-1]

    yield make
    for application in made:
        close_stores(application)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_product(db, store):
    def make(name="Producto de prueba", price="10.00", stock=5, category="Pruebas", attributes=None, **extra):
        add_products(db, store, [{"name": name, "price": Decimal(price), "stock": stock, "category": category,
                              "attributes": attributes if attributes is not None else {}, **extra}])
        return store.products.find_one({"name": name})

    return make


@pytest.fixture
def make_sized_product(db, store):
    """A product sold in sizes (option Talla), each its own variant: `sizes` is size → (SKU, stock)
    or size → (SKU, stock, own price). Returns the document; variant keys are v1, v2, … in order."""
    def make(name="Camiseta", price="19.90", sizes=None, category="Ropa", **extra):
        sizes = sizes or {"S": ("CAM-S", 2), "M": ("CAM-M", 1), "L": ("CAM-L", 4)}
        drafts = [VariantDraft(None, spec[0], (size,), Decimal(spec[2]) if len(spec) > 2 else None, spec[1])
                  for size, spec in sizes.items()]
        add_products(db, store, [{"name": name, "price": Decimal(price), "stock": 0, "category": category,
                                  "attributes": {}, "options": (ProductOption("Talla", tuple(sizes)),),
                                  "variants": drafts, **extra}])
        return store.products.find_one({"name": name})

    return make


@pytest.fixture
def admin(auth, make_user):
    """An admin, logged in through the test client (`client`)."""
    user = make_user(role=Role.ADMIN, email="admin@example.com", name="Ada Admin")
    auth.login("admin@example.com")
    return user


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10_000))

    def make(role=Role.CUSTOMER, email=None, name="Usuaria de Prueba", password=PASSWORD):
        email = email or f"user{next(counter)}@example.com"
        return accounts.create_user(db, email, name, password, role)

    return make


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, email, password=PASSWORD):
        token = csrf_token_from(self.client.get("/auth/login").get_data(as_text=True))
        return self.client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token})

    def logout(self):
        token = csrf_token_from(self.client.get("/").get_data(as_text=True))
        return self.client.post("/auth/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def create_api_key(client, scopes, name="ERP", days="30"):
    """The answer to creating a personal API key on the logged-in person's keys page."""
    token = csrf_token_from(client.get("/account/api-keys/").get_data(as_text=True))
    return client.post("/account/api-keys/", data={"name": name, "scopes": scopes, "days": days, "csrf_token": token})


def api_key_in(answer) -> str:
    """The key text an answer to `create_api_key` shows (once)."""
    return re.search(r"shk_[0-9]+_[A-Za-z0-9_-]{43}", answer.get_data(as_text=True)).group(0)


def deliver_mails(app) -> None:
    """What the shop's mail sender does every few seconds: deliver the outbox's due mails (account
    mails and order mails) through the app's mailer (.eml files under its data directory)."""
    from shop.services.notifications import deliver_outbox
    from shop.web.extensions import get_db, get_mailer
    from shop.web.mail_compose import mail_composer

    with app.app_context():
        db = get_db()
        deliver_outbox(db, get_mailer(), mail_composer(app, db))


@pytest.fixture
def paid_order(db, store, make_product, make_user):
    """A paid order of 3 mugs (10,00) and 2 books (19,95), and its customer and an admin."""
    from shop.services import checkout
    from shop.services.checkout import CheckoutRequest
    from tests.payments import pay

    mug = make_product(name="Taza", price="10.00", stock=10)
    book = make_product(name="Libro", price="19.95", stock=10, tax_class="super_reduced")
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    order_id = checkout.place_order(db, store,
                                    CheckoutRequest(customer.user_id, [(str(mug["_id"]), 3), (str(book["_id"]), 2)],
                                                    str(uuid.uuid4()))).order_id
    pay(db, customer, order_id)
    items = {i.product_name: i for i in db.orders.get(order_id).items}
    return {"order_id": order_id, "admin": admin, "customer": customer, "mug": mug, "book": book, "items": items}


def refund(db, store, o, units=None, *, full=False, goods=False, key=None, actor=None):
    """Refund units of `paid_order`'s lines by product name (or everything left, with `full`)."""
    from shop.domain.refunds import RefundRequest
    from shop.services.refunds import refund_order
    from tests.payments import simulated_provider

    request = RefundRequest({o["items"][name].order_item_id: n for name, n in (units or {}).items()},
                            "roto en el envío", goods)
    return refund_order(db, store, simulated_provider(), actor or o["admin"], o["order_id"], request,
                        key or str(uuid.uuid4()), full=full)
