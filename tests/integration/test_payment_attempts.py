"""Card testing: declined attempts (the provider's notifications) are limited per order and per
account, paying then pauses for a while — the customer is not even sent to the provider —, and the
pause is audited."""

from __future__ import annotations

import threading
import uuid

import pytest

from shop.domain.errors import LimitReached
from shop.domain.payments import PaymentAttemptLimits
from shop.services import checkout
from shop.services.checkout import CheckoutRequest
from tests.payments import pay, pay_on_pages


@pytest.fixture
def customer(auth, make_user):
    user = make_user(email="c@example.com")
    auth.login("c@example.com")
    return user


def _order(db, store, user, product) -> int:
    return checkout.place_order(db, store,
                                CheckoutRequest(user.user_id, [(str(product["_id"]), 1)], str(uuid.uuid4()))).order_id


def test_after_five_declines_the_order_cannot_be_paid_for_a_while_and_the_pause_is_audited(
        app, client, customer, db, store, make_product):
    from shop.web.extensions import get_audit_log

    order_id = _order(db, store, customer, make_product(stock=5))
    for _ in range(5):
        declined = pay_on_pages(client, order_id, "declined")
        assert declined.status_code == 200 and "rechazado" in declined.get_data(as_text=True)
    response = pay_on_pages(client, order_id, "paid")  # not even sent to the provider: paying is paused
    assert response.status_code == 429
    assert "Demasiados pagos rechazados" in response.get_data(as_text=True)
    assert db.orders.get(order_id).status == "pending"
    with app.app_context():
        get_audit_log().flush_spool()
    locks = list(store.audit_logs.find({"action": "payment.locked"}))
    assert [(entry["target"], entry["actor_id"]) for entry in locks] == [(f"order:{order_id}", customer.user_id)]


def test_the_pause_ends_when_the_declines_leave_the_window(app, client, customer, db, store, make_product):
    order_id = _order(db, store, customer, make_product(stock=5))
    for _ in range(5):
        pay_on_pages(client, order_id, "declined")
    with db.transaction() as cur:  # the attempts were made 16 minutes ago
        cur.execute("UPDATE payments SET created_at = created_at - interval '16 minutes' WHERE order_id = %s",
                    (order_id,))
    assert pay_on_pages(client, order_id, "paid").status_code == 200
    assert db.orders.get(order_id).status == "paid"


def test_declines_on_several_orders_count_against_the_account(db, store, make_user, make_product):
    user = make_user()
    product = make_product(stock=10)
    limits = PaymentAttemptLimits(per_order=3, per_account=4, window_minutes=15)
    first, second, third = (_order(db, store, user, product) for _ in range(3))
    for _ in range(3):
        pay(db, user, first, "declined", limits)
    outcome = pay(db, user, second, "declined", limits)
    assert outcome.pauses_paying  # the account's fourth decline pauses paying
    with pytest.raises(LimitReached):
        pay(db, user, third, limits=limits)


def test_concurrent_attempts_on_many_orders_never_pass_the_account_limit(db, store, make_user, make_product):
    user = make_user()
    product = make_product(stock=20)
    limits = PaymentAttemptLimits(per_order=0, per_account=3, window_minutes=15)
    orders = [_order(db, store, user, product) for _ in range(10)]
    refused = []

    def attempt(order_id):
        try:
            pay(db, user, order_id, "declined", limits)
        except LimitReached:
            refused.append(order_id)

    threads = [threading.Thread(target=attempt, args=(order_id,)) for order_id in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM payments WHERE status = 'declined'")
        assert cur.fetchone()["n"] == 3
    assert len(refused) == 7
