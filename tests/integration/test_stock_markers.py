"""The MongoDB side of the protocol on its own: every stock step is safe to repeat."""

import pytest

from shop.domain import markers
from shop.services.checkout import CheckoutRequest
from tests.payments import pay, simulated_provider


@pytest.fixture
def product_id(make_product):
    return str(make_product(stock=5)["_id"])


def stock(store, product_id):
    return store.stock.levels()[product_id]


def test_a_repeated_reservation_takes_the_units_once(store, product_id):
    assert store.stock.reserve(product_id, 7, 2)
    assert store.stock.reserve(product_id, 7, 2)  # a driver retry or a second request: already held
    assert stock(store, product_id) == 3
    assert store.stock.with_markers("holds") == [(product_id, {"o7": 2})]


def test_a_reservation_never_takes_stock_below_zero(store, product_id):
    assert not store.stock.reserve(product_id, 1, 6)
    assert store.stock.reserve(product_id, 2, 5)
    assert not store.stock.reserve(product_id, 3, 1)
    assert stock(store, product_id) == 0


def test_release_and_settle_happen_once(store, product_id):
    store.stock.reserve(product_id, 1, 2)
    store.stock.reserve(product_id, 2, 1)
    assert store.stock.release(product_id, 1, 2) and not store.stock.release(product_id, 1, 2)
    assert store.stock.settle(product_id, 2) and not store.stock.settle(product_id, 2)
    assert not store.stock.release(product_id, 2, 1)  # a settled hold is sold: nothing to release
    assert stock(store, product_id) == 4
    assert store.stock.with_markers("holds") == []


def test_a_return_happens_once_whether_or_not_the_hold_was_settled(store, product_id):
    store.stock.reserve(product_id, 1, 2)  # still held
    store.stock.reserve(product_id, 2, 1)
    store.stock.settle(product_id, 2)  # sold
    for _ in range(3):
        store.stock.return_cancelled(product_id, 1, 2)
        store.stock.return_cancelled(product_id, 2, 1)
    assert stock(store, product_id) == 5
    assert store.stock.with_markers("holds") == []
    assert sorted(dict(store.stock.with_markers("returns")[0][1])) == ["o1", "o2"]


def test_a_reservation_can_carry_the_settlement_of_earlier_committed_orders(store, product_id):
    store.stock.reserve(product_id, 1, 1)
    store.stock.reserve(product_id, 2, 1)
    sold = store.stock.reserve(product_id, 3, 1, settle={markers.order_key(1), markers.order_key(2)})
    assert sold.name and sold.stock == 3  # the product as it was just before this reservation
    assert store.stock.with_markers("holds") == [(product_id, {"o3": 1})]
    assert stock(store, product_id) == 2


def test_a_failed_reservation_settles_nothing(store, product_id):
    store.stock.reserve(product_id, 1, 1)
    assert store.stock.reserve(product_id, 2, 99, settle={markers.order_key(1)}) is None
    assert store.stock.with_markers("holds") == [(product_id, {"o1": 1})]


def test_return_markers_are_forgotten_an_hour_after_the_stock_is_back_and_not_before(db, store, make_product,
                                                                                     make_user):
    import datetime as dt
    import uuid

    from shop.domain.accounts import Role
    from shop.domain.refunds import RefundRequest
    from shop.services import checkout, orders
    from shop.services.recovery import recover
    from shop.services.refunds import refund_order

    product = make_product(stock=10)
    pid = str(product["_id"])
    customer, admin = make_user(), make_user(role=Role.ADMIN)

    def place():
        return checkout.place_order(db, store,
                                    CheckoutRequest(customer.user_id, [(pid, 1)], str(uuid.uuid4()))).order_id

    cancelled = place()
    orders.cancel_order(db, store, customer, cancelled)
    paid = place()
    pay(db, customer, paid)
    item = db.orders.get(paid).items[0].order_item_id
    refund = refund_order(db, store, simulated_provider(), admin, paid, RefundRequest({item: 1}, "roto", True),
                          str(uuid.uuid4()), full=False)
    markers = dict(store.stock.with_markers("returns"))[pid]
    assert set(markers) == {f"o{cancelled}", f"r{refund.refund_id}"}
    now = dt.datetime.now(dt.UTC)
    assert recover(db, store, now=now).returns_forgotten == 0  # within the hour: kept
    assert recover(db, store, now=now + dt.timedelta(hours=2)).returns_forgotten == 2
    assert store.stock.with_markers("returns") == []
    assert stock(store, pid) == 10  # both units came back, each once, and forgetting the markers changed nothing
