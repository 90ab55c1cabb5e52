"""The checkout saga's branches on in-memory stores (tests/unit/fakes.py): milliseconds each.

The same protocol runs on the real servers in tests/integration/test_checkout*.py (with real
process deaths and stopped databases); these pin each decision of shop.services.checkout.
"""

from __future__ import annotations

import uuid

import pytest

from shop.domain import markers
from shop.domain.errors import Conflict, Unavailable
from shop.domain.orders import OutOfStock
from shop.services import checkout
from shop.services.checkout import CheckoutRequest
from tests.unit.fakes import FakeDatabase, FakeLedger, FakeStock, FakeStore


@pytest.fixture
def ledger():
    return FakeLedger()


@pytest.fixture
def stock():
    return FakeStock(Taza=5, Libro=1)


def buy(ledger, stock, *lines, key=None, settlements=None):
    cart = [(stock.id_of(name), n) for name, n in lines]
    return checkout.place_order(FakeDatabase(ledger), FakeStore(stock),
                                CheckoutRequest(7, cart, key or str(uuid.uuid4())),
                                settlements=settlements)


def test_an_order_takes_its_units_decides_once_and_drops_its_holds(ledger, stock):
    result = buy(ledger, stock, ("Taza", 2), ("Libro", 1))
    assert result.status.value == "pending" and result.created and result.total == 30
    assert (stock.stock("Taza"), stock.stock("Libro")) == (3, 0)
    assert stock.holds("Taza") == {} and stock.holds("Libro") == {}  # settled right after the decision
    assert ledger.decisions == [(result.order_id, "pending")]


def test_the_same_checkout_again_returns_its_first_outcome_and_takes_nothing_more(ledger, stock):
    key = str(uuid.uuid4())
    first = buy(ledger, stock, ("Taza", 2), key=key)
    again = buy(ledger, stock, ("Taza", 2), key=key)
    assert (again.order_id, again.created, again.status) == (first.order_id, False, first.status)
    assert stock.stock("Taza") == 3 and len(ledger.rows) == 1


def test_the_same_key_with_another_cart_is_refused(ledger, stock):
    key = str(uuid.uuid4())
    buy(ledger, stock, ("Taza", 1), key=key)
    with pytest.raises(Conflict, match="different cart"):
        buy(ledger, stock, ("Taza", 2), key=key)
    assert stock.stock("Taza") == 4


def test_a_line_out_of_stock_fails_the_order_and_gives_back_what_was_taken(ledger, stock):
    with pytest.raises(OutOfStock):
        buy(ledger, stock, ("Taza", 2), ("Libro", 2))
    assert (stock.stock("Taza"), stock.holds("Taza")) == (5, {})
    assert [status for _, status in ledger.decisions] == ["failed"]


def test_a_reservation_error_fails_the_order_and_releases_the_lines_already_held(ledger, stock):
    stock.fail_reserve.add(stock.id_of("Libro"))
    with pytest.raises(Unavailable):
        buy(ledger, stock, ("Taza", 3), ("Libro", 1))
    assert (stock.stock("Taza"), stock.holds("Taza")) == (5, {})
    assert [status for _, status in ledger.decisions] == ["failed"]


def test_a_checkout_that_lost_its_lease_gives_its_units_back_and_says_so(ledger, stock):
    def recovery_aborts_meanwhile(product_id, order_id):
        if product_id == stock.id_of("Libro"):
            ledger.abort_as_recovery(order_id)  # this checkout was too slow: recovery decided first

    stock.before_reserve = recovery_aborts_meanwhile
    with pytest.raises(Conflict, match="took too long"):
        buy(ledger, stock, ("Taza", 2), ("Libro", 1))
    assert (stock.stock("Taza"), stock.stock("Libro")) == (5, 1)
    assert stock.holds("Taza") == {} and stock.holds("Libro") == {}


def test_an_unconfirmed_decision_leaves_the_holds_for_recovery_to_settle_or_release(ledger, stock):
    ledger.fail_next_decision = True
    with pytest.raises(Unavailable, match="could not confirm"):
        buy(ledger, stock, ("Taza", 2))
    # Nothing is given back: the commit may have happened. Recovery reads the order and decides.
    assert stock.stock("Taza") == 3 and len(stock.holds("Taza")) == 1


def test_settlements_ride_on_the_next_reservation_and_come_back_if_it_fails(ledger, stock):
    queue = checkout.SettlementQueue()
    first = buy(ledger, stock, ("Taza", 1), settlements=queue)
    assert stock.holds("Taza") == {first.order_id: 1}  # queued, not yet dropped
    stock.fail_reserve.add(stock.id_of("Taza"))
    with pytest.raises(Unavailable):
        buy(ledger, stock, ("Taza", 1), settlements=queue)
    assert queue.take(stock.id_of("Taza")) == {markers.order_key(first.order_id)}  # given back, not lost
    queue.give_back(stock.id_of("Taza"), {markers.order_key(first.order_id)})
    stock.fail_reserve.clear()
    second = buy(ledger, stock, ("Taza", 1), settlements=queue)
    assert stock.holds("Taza") == {second.order_id: 1}  # the first order's hold rode along and is gone


def test_two_sizes_of_one_product_are_two_lines_each_taking_and_holding_its_own_units(ledger, stock):
    size = stock.with_variants("Taza", S=2, M=1)
    result = checkout.place_order(FakeDatabase(ledger), FakeStore(stock),
                                  CheckoutRequest(7, [(size["M"], 1), (size["S"], 2)], str(uuid.uuid4())))
    assert result.status.value == "pending"
    assert (stock.stock("Taza", "S"), stock.stock("Taza", "M"), stock.stock("Taza")) == (0, 0, 0)
    lines = ledger.rows[result.order_id].items
    assert [(line.variant, line.variant_label, line.quantity) for line in lines] == [
        ("v1", "Talla: S", 2), ("v2", "Talla: M", 1)]  # the fixed order: by product, then variant
    assert stock.hold_keys("Taza") == {}


def test_a_sold_out_size_aborts_the_order_and_gives_back_the_other_size(ledger, stock):
    size = stock.with_variants("Taza", S=2, M=0)
    with pytest.raises(OutOfStock):
        checkout.place_order(FakeDatabase(ledger), FakeStore(stock),
                             CheckoutRequest(7, [(size["S"], 2), (size["M"], 1)], str(uuid.uuid4())))
    assert (stock.stock("Taza", "S"), stock.stock("Taza", "M")) == (2, 0) and stock.hold_keys("Taza") == {}
