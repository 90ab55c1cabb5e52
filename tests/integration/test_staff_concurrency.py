"""Staff changes racing with shoppers: stock adjustments during purchases, archiving during checkout."""

from __future__ import annotations

import contextlib
import threading
import uuid

import pytest

from shop.domain.accounts import Role
from shop.domain.errors import Conflict
from shop.services import catalog, checkout
from shop.services.checkout import CheckoutRequest
from tests.integration.invariant import units_in_live_orders


@pytest.mark.parametrize("cas_attempts", [5, 0], ids=["compare-and-set", "conditional-inc-fallback"])
def test_stock_adjustments_during_purchases_lose_no_update_and_never_go_below_zero(db, store, make_product,
                                                                                    make_user, monkeypatch,
                                                                                    cas_attempts):
    """8 buyers take 1 unit each, twice, while an admin adds 1 and removes 2 units, 20 times each.
    Whatever interleaving happens, every unit is accounted for: nothing is lost and nothing oversold;
    every adjustment is applied or refused (never "try again"), on either path of adjust_stock."""
    import shop.adapters.mongo.stock as stock_adapter

    monkeypatch.setattr(stock_adapter, "CAS_ATTEMPTS", cas_attempts)
    product = make_product(stock=30)
    product_id = str(product["_id"])
    buyers = [make_user(role=Role.CUSTOMER) for _ in range(8)]
    applied, refused = [], []
    start = threading.Barrier(len(buyers) + 2)

    def buy(user):
        start.wait()
        for _ in range(2):
            with contextlib.suppress(Conflict):  # out of stock at that moment: a correct outcome
                checkout.place_order(db, store, CheckoutRequest(user.user_id, [(product_id, 1)], str(uuid.uuid4())))

    def adjust(delta):
        start.wait()
        for _ in range(20):
            try:
                applied.append(catalog.adjust_stock(store, product_id, delta, "inventario").delta)
            except Conflict:
                refused.append(delta)

    threads = [threading.Thread(target=buy, args=(user,)) for user in buyers]
    threads += [threading.Thread(target=adjust, args=(1,)), threading.Thread(target=adjust, args=(-2,))]
    [t.start() for t in threads]
    [t.join() for t in threads]

    stock = store.products.find_one({"_id": product["_id"]})["stock"]
    sold = units_in_live_orders(db).get(product_id, 0)
    assert stock >= 0
    assert 30 + sum(applied) == stock + sold, (stock, sold, applied)
    assert len(applied) + len(refused) == 40


def test_archiving_while_a_checkout_holds_units_keeps_the_product(db, store, make_product, make_user):
    """The checkout reserved (its hold marker is on the product) but has not committed yet: a delete
    must only archive, because the order may still commit with this product in it."""
    product = make_product(stock=5)
    product_id = str(product["_id"])
    store.stock.reserve(product_id, 424242, 1)  # an order in flight
    outcome, _ = catalog.delete_product(db, store, product_id)
    assert outcome == "archived"
    assert store.products.find_one({"_id": product["_id"]}) is not None


def test_no_reservation_succeeds_once_a_product_is_archived(db, store, make_product, make_user):
    product = make_product(stock=5)
    product_id = str(product["_id"])
    store.catalog.archive(product_id)
    assert store.stock.reserve(product_id, 7, 1) is None
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 5
