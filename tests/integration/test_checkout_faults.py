"""Faults in the middle of the protocol: a killed process, a database stopped, injected errors.

For each: what the shopper was told is true, and after recovery the invariant holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest

from shop import failpoints
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import Role
from shop.domain.errors import Unavailable
from shop.embedded import EmbeddedMongo, EmbeddedPostgres
from shop.services import accounts, checkout, orders
from shop.services.catalog import add_products
from shop.services.checkout import CheckoutPolicy, CheckoutRequest
from tests.conftest import ROOT
from tests.integration.invariant import assert_invariant_after_recovery

LEASE = 1  # seconds: the killed checkout's lease, so recovery may abort it right after


@pytest.fixture(autouse=True)
def no_failpoints():
    yield
    failpoints.clear()


def two_products(make_product):
    return [make_product(name="Uno", stock=5), make_product(name="Dos", stock=3)]


@pytest.fixture(params=["two products", "two sizes of one product"])
def two_lines(request, make_product, make_sized_product):
    """A cart of two lines of 2 units, and the stock before: two products, or two sizes of one
    product sold in sizes (both lines then meet on the same document, each with its own stock)."""
    if request.param == "two products":
        products = two_products(make_product)
        return [(str(p["_id"]), 2) for p in products], {str(products[0]["_id"]): 5, str(products[1]["_id"]): 3}
    shirt = make_sized_product(sizes={"S": ("UNO-S", 5), "M": ("UNO-M", 3)})
    pid = str(shirt["_id"])
    return [(f"{pid}:v1", 2), (f"{pid}:v2", 2)], {pid: 8, f"{pid}:v1": 5, f"{pid}:v2": 3}


def run_child(servers, db_url, mongo_db_name, **args) -> subprocess.CompletedProcess:
    payload = {"postgres_url": db_url, "mongodb_url": servers.mongodb_url, "mongodb_db": mongo_db_name,
               "lease_seconds": LEASE, **args}
    return subprocess.run([sys.executable, "-m", "tests.integration.checkout_child", json.dumps(payload)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def expire_leases(db):
    with db.transaction() as cur:
        cur.execute("UPDATE orders SET lease_until = now() - interval '1 second' WHERE status = 'placing'")


@pytest.mark.parametrize("point, expected_status", [
    ("checkout.after_order_created", "failed"),
    ("checkout.after_reserve", "failed"),      # killed after the first of two reservations
    ("checkout.after_commit", "pending"),      # the decision was made: the order stands
    ("checkout.after_settle", "pending"),
])
def test_a_checkout_killed_after_each_step_ends_consistent(servers, migrated, mongo_db_name, db, store, make_user,
                                                           two_lines, point, expected_status):
    customer = make_user()
    lines, before = two_lines
    child = run_child(servers, migrated, mongo_db_name, action="place", failpoint=f"{point}=exit",
                      user_id=customer.user_id, lines=lines, key=str(uuid.uuid4()))
    assert child.returncode == failpoints.EXIT_CODE, child.stdout + child.stderr
    time.sleep(LEASE + 0.2)
    assert_invariant_after_recovery(db, store, before)
    (order,) = db.orders.of_user(customer.user_id, include_failed=True)
    assert order.status == expected_status


@pytest.mark.parametrize("point", ["cancel.after_status", "cancel.after_return"])
def test_a_cancellation_killed_halfway_is_finished_by_recovery(servers, migrated, mongo_db_name, db, store,
                                                               make_user, two_lines, point):
    customer = make_user()
    lines, before = two_lines
    result = checkout.place_order(db, store, CheckoutRequest(customer.user_id, lines, str(uuid.uuid4())))
    child = run_child(servers, migrated, mongo_db_name, action="cancel", failpoint=f"{point}=exit",
                      user_id=customer.user_id, order_id=result.order_id)
    assert child.returncode == failpoints.EXIT_CODE, child.stdout + child.stderr
    assert db.orders.get(result.order_id).status == "cancelled"
    assert_invariant_after_recovery(db, store, before)
    levels = store.stock.levels()
    assert {ref: levels[ref] for ref in before} == before  # every unit of every line is back


def test_a_double_submission_racing_itself_yields_one_order(db, store, make_user, make_product):
    import threading

    customer = make_user()
    product = make_product(stock=10)
    idem = str(uuid.uuid4())
    results, errors = [], []

    def submit():
        try:
            results.append(checkout.place_order(db, store,
                                                CheckoutRequest(customer.user_id, [(str(product["_id"]), 3)], idem)))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({r.order_id for r in results}) == 1 and sum(r.created for r in results) == 1
    assert store.stock.levels()[str(product["_id"])] == 7
    assert_invariant_after_recovery(db, store, {str(product["_id"]): 10})


# --- a database stopped in the middle -------------------------------------------------------------

@pytest.fixture
def own_postgres(tmp_path):
    server = EmbeddedPostgres(tmp_path / "pg")
    url = server.start()
    database = PostgresDatabase(url, max_connections=4)
    database.migrate()
    yield server, database
    database.close()
    server.stop()


@pytest.fixture
def own_mongo(tmp_path):
    server = EmbeddedMongo(tmp_path / "mongo", enable_test_commands=True)
    server.start()
    mongo = MongoStore(server.url, "faults", timeout_ms=1500)
    mongo.apply_schema()
    yield server, mongo
    mongo.close()
    server.stop()


def _customer_and_products(db, store):
    customer = accounts.create_user(db, f"c{uuid.uuid4().hex[:6]}@example.com", "C", "a long password", Role.CUSTOMER)
    add_products(db, store, [{"name": "Uno", "category": "X", "price": "5.00", "stock": 5, "attributes": {}},
                             {"name": "Dos", "category": "X", "price": "7.00", "stock": 3, "attributes": {}}])
    ids = sorted(str(d["_id"]) for d in store.products.find({}, {"_id": 1}))
    return customer, ids


def test_postgres_stopped_before_the_decision(own_postgres, store):
    server, db = own_postgres
    customer, ids = _customer_and_products(db, store)
    failpoints.install("checkout.after_reserve", server.stop)
    with pytest.raises(Unavailable, match="could not confirm"):
        checkout.place_order(db, store,
                             CheckoutRequest(customer.user_id, [(i, 1) for i in ids], str(uuid.uuid4())),
                             CheckoutPolicy(lease_seconds=LEASE))
    failpoints.clear()
    # The shopper was told "not confirmed; if it went through it shows under Orders, if not nothing is
    # charged". Both databases come back; recovery settles it.
    server.start()
    time.sleep(LEASE + 0.2)
    assert_invariant_after_recovery(db, store, {ids[0]: 5, ids[1]: 3})
    (order,) = db.orders.of_user(customer.user_id, include_failed=True)
    assert order.status == "failed"  # the decision never reached PostgreSQL


def test_postgres_down_at_checkout_takes_nothing(own_postgres, store):
    server, db = own_postgres
    customer, ids = _customer_and_products(db, store)
    server.stop()
    with pytest.raises(Unavailable, match="nothing was ordered"):
        checkout.place_order(db, store, CheckoutRequest(customer.user_id, [(ids[0], 1)], str(uuid.uuid4())))
    assert store.stock.levels() == {ids[0]: 5, ids[1]: 3}
    server.start()


def test_mongodb_stopped_between_two_reservations(db, own_mongo, make_user):
    server, store = own_mongo
    customer = make_user()
    _, ids = _customer_and_products_in(db, store)
    failpoints.install("checkout.after_reserve", server.stop)
    with pytest.raises(Unavailable, match="catalog stopped answering"):
        checkout.place_order(db, store, CheckoutRequest(customer.user_id, [(i, 1) for i in ids], str(uuid.uuid4())))
    failpoints.clear()
    (order,) = db.orders.of_user(customer.user_id, include_failed=True)
    assert order.status == "failed"  # decided at once in PostgreSQL; the hold waits for MongoDB
    server.start()
    assert_invariant_after_recovery(db, store, {ids[0]: 5, ids[1]: 3})


def _customer_and_products_in(db, store):
    add_products(db, store, [{"name": "Uno", "category": "X", "price": "5.00", "stock": 5, "attributes": {}},
                             {"name": "Dos", "category": "X", "price": "7.00", "stock": 3, "attributes": {}}])
    return None, sorted(str(d["_id"]) for d in store.products.find({}, {"_id": 1}))


@pytest.mark.parametrize("error", [{"errorCode": 2}, {"closeConnection": True}])
def test_mongodb_errors_injected_with_failcommand(db, own_mongo, make_user, error):
    server, store = own_mongo
    customer = make_user()
    _, ids = _customer_and_products_in(db, store)
    # skip the first reservation's update, fail the next two (the second one's and its retry)
    store.client.admin.command("configureFailPoint", "failCommand", mode={"skip": 1, "times": 2},
                               data={"failCommands": ["update"], **error})
    with pytest.raises(Unavailable):
        checkout.place_order(db, store, CheckoutRequest(customer.user_id, [(i, 1) for i in ids], str(uuid.uuid4())))
    store.client.admin.command("configureFailPoint", "failCommand", mode="off")
    assert_invariant_after_recovery(db, store, {ids[0]: 5, ids[1]: 3})
    (order,) = db.orders.of_user(customer.user_id, include_failed=True)
    assert order.status == "failed"


def test_a_cancellation_while_mongodb_is_down_is_finished_when_it_returns(db, own_mongo, make_user):
    server, store = own_mongo
    customer = make_user()
    _, ids = _customer_and_products_in(db, store)
    order_id = checkout.place_order(db, store,
                                    CheckoutRequest(customer.user_id, [(ids[0], 2)], str(uuid.uuid4()))).order_id
    server.stop()
    orders.cancel_order(db, store, customer, order_id)  # PostgreSQL records it; the stock waits
    assert db.orders.get(order_id).stock_returned is False
    server.start()
    assert_invariant_after_recovery(db, store, {ids[0]: 5, ids[1]: 3})
    assert store.stock.levels()[ids[0]] == 5
