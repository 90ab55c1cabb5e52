"""The distributed checkout on the real databases: all or nothing, exactly once, never oversold."""

import uuid
from decimal import Decimal

import pytest

from shop import failpoints
from shop.domain.accounts import Role
from shop.domain.errors import Conflict, InvalidInput, NotFound
from shop.domain.orders import OrderStatus, OutOfStock
from shop.services import checkout, orders
from shop.services.checkout import CheckoutPolicy, CheckoutRequest
from shop.services.recovery import recover
from tests.integration.invariant import assert_invariant_after_recovery
from tests.payments import pay


def key() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def customer(make_user):
    return make_user(role=Role.CUSTOMER)


@pytest.fixture
def stock_of(store):
    return lambda product: store.products.find_one({"_id": product["_id"]})["stock"]


@pytest.fixture(autouse=True)
def no_failpoints():
    yield
    failpoints.clear()


def pid(product) -> str:
    return str(product["_id"])


def place(db, store, user, lines, idem=None, policy=None):
    wanted = CheckoutRequest(user.user_id, [(pid(p), q) for p, q in lines], idem or key())
    return checkout.place_order(db, store, wanted, policy or CheckoutPolicy())


def test_placing_an_order_takes_the_stock_and_records_names_and_prices_as_sold(db, store, customer, make_product,
                                                                                stock_of):
    laptop = make_product(name="Portátil", price="999.99", stock=3)
    book = make_product(name="Libro", price="10.05", stock=10)
    result = place(db, store, customer, [(laptop, 1), (book, 3)])
    assert result.status is OrderStatus.PENDING and result.created
    assert result.total == Decimal("1030.14")
    assert (stock_of(laptop), stock_of(book)) == (2, 7)
    order = db.orders.get(result.order_id)
    assert order.status == "pending" and order.total_amount == Decimal("1030.14")
    assert {(i.product_name, i.unit_price, i.quantity) for i in order.items} == {
        ("Portátil", Decimal("999.99"), 1), ("Libro", Decimal("10.05"), 3)}
    assert [h.to_status for h in order.history] == ["placing", "pending"]
    assert order.expires_at is not None
    assert_invariant_after_recovery(db, store, {pid(laptop): 3, pid(book): 10})


def test_a_cart_is_all_or_nothing_when_one_product_runs_short(db, store, customer, make_product, stock_of):
    plenty = make_product(name="Mucho", stock=10)
    scarce = make_product(name="Escaso", stock=1)
    with pytest.raises(OutOfStock, match="Only 1 units of Escaso are left"):
        place(db, store, customer, [(plenty, 2), (scarce, 2)])
    assert (stock_of(plenty), stock_of(scarce)) == (10, 1)  # the first line's units were given back
    (attempt,) = db.orders.of_user(customer.user_id, include_failed=True)
    assert attempt.status == "failed" and attempt.items == () and attempt.total_amount == 0
    assert db.orders.of_user(customer.user_id) == []  # a failed attempt is not listed to the shopper
    assert_invariant_after_recovery(db, store, {pid(plenty): 10, pid(scarce): 1})


def test_losing_the_last_unit_to_another_buyer_aborts_and_releases_what_was_taken(db, store, customer,
                                                                                  make_product, stock_of):
    first = make_product(name="A", stock=5)
    contested = make_product(name="B", stock=1)

    def someone_else_buys_the_last_unit():
        store.products.update_one({"_id": contested["_id"]}, {"$inc": {"stock": -1}})

    failpoints.install("checkout.after_reserve", someone_else_buys_the_last_unit)
    with pytest.raises(OutOfStock, match="B is out of stock"):
        place(db, store, customer, [(first, 2), (contested, 1)])
    failpoints.clear()
    assert stock_of(first) == 5
    with db.transaction() as cur:
        cur.execute("SELECT status, failure_reason FROM orders")
        row = cur.fetchone()
    assert row["status"] == "failed" and row["failure_reason"].startswith("out of stock")
    assert_invariant_after_recovery(db, store, {pid(first): 5, pid(contested): 0})


def test_the_same_idempotency_key_yields_one_order(db, store, customer, make_product, stock_of):
    product = make_product(stock=5)
    idem = key()
    first = place(db, store, customer, [(product, 2)], idem)
    again = place(db, store, customer, [(product, 2)], idem)
    assert again.order_id == first.order_id and not again.created and again.status is OrderStatus.PENDING
    assert stock_of(product) == 3
    assert_invariant_after_recovery(db, store, {pid(product): 5})


def test_a_replay_after_the_first_submission_bought_the_last_units_returns_that_order(db, store, customer,
                                                                                      make_product):
    product = make_product(stock=2)
    idem = key()
    first = place(db, store, customer, [(product, 2)], idem)
    assert place(db, store, customer, [(product, 2)], idem).order_id == first.order_id


def test_a_stale_idempotency_key_for_a_different_cart_is_refused(db, store, customer, make_product, stock_of):
    product = make_product(stock=5)
    idem = key()
    place(db, store, customer, [(product, 1)], idem)
    with pytest.raises(Conflict, match="already used for a different cart"):
        place(db, store, customer, [(product, 3)], idem)
    assert stock_of(product) == 4


def test_idempotency_keys_belong_to_one_customer(db, store, make_user, make_product, stock_of):
    product = make_product(stock=5)
    idem = key()
    place(db, store, make_user(), [(product, 1)], idem)
    other = place(db, store, make_user(), [(product, 1)], idem)
    assert other.created and stock_of(product) == 3


@pytest.mark.parametrize("quantity", [0, -1, "1.5", "abc", "", 101, 10**12, True, None, [1], {"$gt": 0}])
def test_impossible_quantities_are_refused_and_change_nothing(db, store, customer, make_product, stock_of, quantity):
    product = make_product(stock=5)
    with pytest.raises(InvalidInput):
        checkout.place_order(db, store, CheckoutRequest(customer.user_id, [(pid(product), quantity)], key()))
    assert stock_of(product) == 5
    assert db.orders.of_user(customer.user_id) == []


@pytest.mark.parametrize("product_id, error", [
    ("0123456789abcdef01234567", NotFound), ("nope", InvalidInput), ({"$ne": None}, InvalidInput),
    (None, InvalidInput)])
def test_unknown_or_malformed_products_are_refused(db, store, customer, product_id, error):
    with pytest.raises(error):
        checkout.place_order(db, store, CheckoutRequest(customer.user_id, [(product_id, 1)], key()))
    assert db.orders.of_user(customer.user_id) == []


@pytest.mark.parametrize("bad_key", ["", "not-a-uuid", None, "'; DROP TABLE orders; --"])
def test_a_missing_or_malformed_idempotency_key_is_refused(db, store, customer, make_product, bad_key):
    product = make_product(stock=5)
    with pytest.raises(InvalidInput):
        checkout.place_order(db, store, CheckoutRequest(customer.user_id, [(pid(product), 1)], bad_key))


def test_a_product_repriced_after_it_was_put_in_the_cart_sells_at_the_current_price(db, store, customer,
                                                                                   make_product):
    product = make_product(price="10.00", stock=5)
    db.carts.add(customer.user_id, pid(product), 2, 100)
    store.products.update_one({"_id": product["_id"]}, {"$set": {"price": Decimal("12.50")}})
    result = checkout.place_order(db, store, CheckoutRequest(customer.user_id, db.carts.lines(customer.user_id), key()))
    assert result.total == Decimal("25.00")
    assert db.carts.lines(customer.user_id) == []  # a committed order empties those cart lines


def test_a_product_deleted_after_it_was_put_in_the_cart_is_a_clear_error(db, store, customer, make_product):
    product = make_product(stock=5)
    db.carts.add(customer.user_id, pid(product), 1, 100)
    store.products.delete_one({"_id": product["_id"]})
    with pytest.raises(NotFound, match="no longer exists"):
        checkout.place_order(db, store, CheckoutRequest(customer.user_id, db.carts.lines(customer.user_id), key()))


def test_repeated_lines_for_one_product_are_merged(db, store, customer, make_product, stock_of):
    product = make_product(stock=5)
    result = checkout.place_order(db, store,
                                  CheckoutRequest(customer.user_id, [(pid(product), 1), (pid(product), "2")], key()))
    assert [i.quantity for i in db.orders.get(result.order_id).items] == [3]
    assert stock_of(product) == 2


# --- lifecycle -----------------------------------------------------------------------------------

def test_cancelling_a_pending_order_returns_its_stock_exactly_once(db, store, customer, make_product, stock_of):
    product = make_product(stock=5)
    result = place(db, store, customer, [(product, 2)])
    orders.cancel_order(db, store, customer, result.order_id)
    assert stock_of(product) == 5
    with pytest.raises(Conflict, match="cannot be marked"):
        orders.cancel_order(db, store, customer, result.order_id)
    orders.return_stock_of_cancelled(db, store, result.order_id)  # a repeated return changes nothing
    recover(db, store)
    assert stock_of(product) == 5
    order = db.orders.get(result.order_id)
    assert order.status == "cancelled" and order.stock_returned
    assert [h.to_status for h in order.history] == ["placing", "pending", "cancelled"]
    assert order.history[-1].changed_by == customer.user_id
    assert_invariant_after_recovery(db, store, {pid(product): 5})


def test_cancelling_before_the_hold_was_settled_still_returns_the_units_once(db, store, customer, make_product,
                                                                            stock_of):
    product = make_product(stock=5)
    failpoints.install("checkout.after_commit", lambda: (_ for _ in ()).throw(SystemExit))
    with pytest.raises(SystemExit):  # the checkout "dies" after its commit, before settling the hold
        place(db, store, customer, [(product, 2)])
    failpoints.clear()
    (order,) = db.orders.of_user(customer.user_id, include_failed=True)
    assert store.stock.with_markers("holds")  # the hold is still there
    orders.cancel_order(db, store, customer, order.order_id)
    assert stock_of(product) == 5
    assert_invariant_after_recovery(db, store, {pid(product): 5})


def test_paying_a_pending_order_once(db, store, customer, make_product):
    product = make_product(stock=5, price="20.00")
    order_id = place(db, store, customer, [(product, 1)]).order_id
    declined = pay(db, customer, order_id, "declined")
    assert declined.settlement == "declined" and db.orders.get(order_id).status == "pending"
    paid = pay(db, customer, order_id)
    assert paid.settlement == "paid"
    with pytest.raises(Conflict, match="already paid"):
        pay(db, customer, order_id)
    order = db.orders.get(order_id)
    assert order.status == "paid"
    assert [(p.status, p.card_last4, p.amount, p.method) for p in order.payments] == [
        ("declined", None, Decimal("20.00"), "simulated"), ("succeeded", None, Decimal("20.00"), "simulated")]
    with pytest.raises(Conflict):
        orders.cancel_order(db, store, customer, order_id)


def test_another_customers_order_is_not_found(db, store, make_user, make_product):
    owner, stranger = make_user(), make_user()
    order_id = place(db, store, owner, [(make_product(stock=5), 1)]).order_id
    for action in (lambda: orders.order_for(db, stranger, order_id),
                   lambda: orders.cancel_order(db, store, stranger, order_id),
                   lambda: pay(db, stranger, order_id)):
        with pytest.raises(NotFound):
            action()
    assert db.orders.get(order_id).status == "pending"


def test_shipping_follows_payment_and_only_staff_ship(db, store, customer, make_user, make_product):
    admin = make_user(role=Role.ADMIN)
    order_id = place(db, store, customer, [(make_product(stock=5), 1)]).order_id
    with pytest.raises(Conflict):
        orders.mark_shipped(db, admin, order_id)  # not paid yet
    pay(db, customer, order_id)
    with pytest.raises(NotFound):
        orders.mark_shipped(db, customer, order_id)
    orders.mark_shipped(db, admin, order_id)
    assert db.orders.get(order_id).status == "shipped"


def test_unpaid_orders_expire_and_their_stock_comes_back(db, store, customer, make_product, stock_of):
    product = make_product(stock=5)
    order_id = place(db, store, customer, [(product, 3)]).order_id
    with db.transaction() as cur:
        cur.execute("UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_id = %s", (order_id,))
    with pytest.raises(Conflict, match="expired"):
        pay(db, customer, order_id)
    report = recover(db, store)
    assert report.expired == [order_id]
    order = db.orders.get(order_id)
    assert order.status == "cancelled" and order.history[-1].reason.startswith("expired")
    assert stock_of(product) == 5
    assert_invariant_after_recovery(db, store, {pid(product): 5})


# --- recovery and the decision point -------------------------------------------------------------

def test_recovery_leaves_a_slow_checkout_alone_while_its_lease_lasts(db, store, customer, make_product, stock_of):
    product = make_product(stock=5)
    seen = {}

    def recovery_runs_meanwhile():
        seen["report"] = recover(db, store)

    failpoints.install("checkout.after_reserve", recovery_runs_meanwhile)
    result = place(db, store, customer, [(product, 2)], policy=CheckoutPolicy(lease_seconds=30))
    assert seen["report"].aborted == [] and seen["report"].holds_released == 0
    assert result.status is OrderStatus.PENDING and stock_of(product) == 3


def test_a_checkout_that_outlives_its_lease_loses_to_recovery_and_gives_the_units_back(db, store, customer,
                                                                                        make_product, stock_of):
    product = make_product(stock=5)

    def lease_runs_out_and_recovery_aborts():
        with db.transaction() as cur:
            cur.execute("UPDATE orders SET lease_until = now() - interval '1 second' WHERE status = 'placing'")
        assert recover(db, store).aborted

    failpoints.install("checkout.after_reserve", lease_runs_out_and_recovery_aborts)
    with pytest.raises(Conflict, match="took too long"):
        place(db, store, customer, [(product, 2)])
    failpoints.clear()
    assert stock_of(product) == 5
    (order,) = db.orders.of_user(customer.user_id, include_failed=True)
    assert order.status == "failed"
    assert_invariant_after_recovery(db, store, {pid(product): 5})


def test_only_one_recovery_pass_runs_at_a_time(db, store):
    from shop.services.recovery import RECOVERY_LOCK_KEY

    with db.advisory_lock(RECOVERY_LOCK_KEY) as held:
        assert held
        assert recover(db, store).ran is False
    assert recover(db, store).ran is True
