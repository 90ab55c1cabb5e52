"""The MongoDB settings docs/deploy.md recommends for a replica set, on the one-node
replica set SecantusDB presents: the URL with replicaSet, w=majority, retryWrites and a majority read
concern reaches the set through discovery, and every stock operation of a checkout works under it."""

from __future__ import annotations

import uuid
from decimal import Decimal

from pymongo import MongoClient

from shop.adapters.mongo import MongoStore
from shop.services import checkout, orders
from shop.services.catalog import add_products
from shop.services.checkout import CheckoutRequest
from tests.integration.invariant import assert_invariant_after_recovery


def test_a_checkout_and_a_cancellation_under_majority_writes_and_reads(servers, db, mongo_db_name, make_user):
    set_name = MongoClient(servers.mongodb_url).admin.command("hello")["setName"]
    url = (servers.mongodb_url.split("?")[0].rstrip("/") +
           f"/?replicaSet={set_name}&w=majority&retryWrites=true&readConcernLevel=majority")
    store = MongoStore(url, mongo_db_name)
    try:
        store.ping()  # discovery: the client found the set and its primary
        assert store.client.topology_description.topology_type_name == "ReplicaSetWithPrimary"
        assert store.db.write_concern.document == {"w": "majority"}
        store.apply_schema()
        add_products(db, store, [{"name": "Réplica", "category": "Pruebas", "price": Decimal("9.99"), "stock": 4,
                                  "attributes": {}}])
        product_id = str(store.products.find_one({"name": "Réplica"})["_id"])
        buyer = make_user()
        placed = checkout.place_order(db, store, CheckoutRequest(buyer.user_id, [(product_id, 3)], str(uuid.uuid4())))
        orders.cancel_order(db, store, buyer, placed.order_id)
        assert store.stock.levels()[product_id] == 4
        assert_invariant_after_recovery(db, store, {product_id: 4})
    finally:
        store.client.drop_database(mongo_db_name)
        store.close()
