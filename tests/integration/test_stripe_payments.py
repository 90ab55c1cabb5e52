"""Paying through Stripe Checkout, against a fake Stripe written from its published API reference
(tests/fake_stripe.py): the session, the signed webhook events with their time tolerance, refunds
once per idempotency key — and events that arrive twice, late, forged or replayed."""

from __future__ import annotations

import dataclasses
import time
import uuid
from decimal import Decimal

import pytest

from shop.domain.accounts import Role
from shop.services import checkout
from shop.services.checkout import CheckoutRequest
from shop.web.extensions import close_stores, get_audit_log
from shop.web.factory import create_app
from tests.conftest import csrf_token_from
from tests.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe
from tests.integration.conftest import AuthActions


@pytest.fixture
def stripe():
    fake = FakeStripe()
    yield fake
    fake.close()


@pytest.fixture
def shop(settings, db, store, stripe):
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False}, settings=dataclasses.replace(
        settings, payment_provider="stripe", stripe_secret_key=SECRET_KEY, stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe.api_base, public_url="https://tienda.example"))
    yield app
    close_stores(app)


@pytest.fixture
def customer(shop, make_user):
    user = make_user(email="ana@example.com")
    client = shop.test_client()
    AuthActions(client).login("ana@example.com")
    return user, client


def _order(db, store, user, make_product, price="25.00") -> int:
    product = make_product(stock=5, price=price)
    return checkout.place_order(db, store, CheckoutRequest(user.user_id, [(str(product["_id"]), 1)],
                                                           str(uuid.uuid4()))).order_id


def _go_to_stripe(client, stripe, order_id) -> str:
    """Pagar: the shop sends the browser to Stripe's page; returns the session it opened."""
    token = csrf_token_from(client.get(f"/orders/{order_id}").get_data(as_text=True))
    answer = client.post(f"/orders/{order_id}/pay", data={"csrf_token": token})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    session_id = answer.headers["Location"].rsplit("/", 1)[-1]
    assert answer.headers["Location"] == stripe.sessions[session_id]["url"]
    return session_id


def _post_event(shop, event):
    body, headers = event
    return shop.test_client().post("/pagos/stripe/notificacion", data=body, headers=headers)  # Stripe's server


def _audited(shop, store, action) -> int:
    with shop.app_context():
        get_audit_log().flush_spool()
    return store.audit_logs.count_documents({"action": action})


def test_a_payment_goes_through_stripe_checkout_and_its_signed_event(shop, customer, db, store, make_product, stripe):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    session_id = _go_to_stripe(client, stripe, order_id)
    asked = stripe.sessions[session_id]
    assert asked["amount_total"] == 2500 and asked["currency"] == "eur"
    assert asked["success_url"] == f"https://tienda.example/orders/{order_id}/payment"  # PUBLIC_URL
    stripe.pay(session_id)
    assert _post_event(shop, stripe.event(session_id)).status_code == 200
    paid = db.orders.get(order_id)
    assert paid.status == "paid"
    [payment] = paid.payments
    assert (payment.status, payment.method, payment.provider_reference) == ("succeeded", "stripe",
                                                                            asked["payment_intent"])


def test_the_same_event_twice_pays_once_and_other_event_kinds_are_acknowledged(shop, customer, db, store,
                                                                                make_product, stripe):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    session_id = _go_to_stripe(client, stripe, order_id)
    stripe.pay(session_id)
    event = stripe.event(session_id)
    assert [_post_event(shop, event).status_code for _ in range(3)] == [200, 200, 200]
    assert _post_event(shop, stripe.event(session_id, "payment_intent.created")).status_code == 200
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM invoices WHERE order_id = %s", (order_id,))
        assert cur.fetchone()["n"] == 1
    assert [p.status for p in db.orders.get(order_id).payments] == ["succeeded"]


def test_an_expired_session_declines_its_attempt_and_the_customer_can_pay_again(shop, customer, db, store,
                                                                                 make_product, stripe):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    first = _go_to_stripe(client, stripe, order_id)
    assert _post_event(shop, stripe.event(first, "checkout.session.expired")).status_code == 200
    assert db.orders.get(order_id).status == "pending"
    second = _go_to_stripe(client, stripe, order_id)
    assert second != first
    stripe.pay(second)
    _post_event(shop, stripe.event(second))
    assert [p.status for p in db.orders.get(order_id).payments] == ["declined", "succeeded"]


def test_a_forged_or_replayed_event_is_refused_with_400_and_audited(shop, customer, db, store, make_product, stripe):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    session_id = _go_to_stripe(client, stripe, order_id)
    stripe.pay(session_id)
    assert _post_event(shop, stripe.event(session_id, secret="whsec_someone_else")).status_code == 400
    replayed = stripe.event(session_id, at=int(time.time()) - 3600)  # captured an hour ago
    assert _post_event(shop, replayed).status_code == 400
    body, headers = stripe.event(session_id)
    tampered = body.replace(b'"amount_total": 2500', b'"amount_total": 1')
    assert tampered != body and _post_event(shop, (tampered, headers)).status_code == 400
    assert _post_event(shop, (body, {})).status_code == 400  # no signature at all
    assert db.orders.get(order_id).status == "pending"
    assert _audited(shop, store, "payment.forged_notice") == 4


def test_money_for_an_order_that_expired_meanwhile_is_refunded_through_stripe(shop, customer, db, store, make_product,
                                                                              stripe):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    session_id = _go_to_stripe(client, stripe, order_id)
    with db.transaction() as cur:  # the customer took too long on Stripe's page
        cur.execute("UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_id = %s", (order_id,))
    stripe.pay(session_id)
    assert _post_event(shop, stripe.event(session_id)).status_code == 200
    assert stripe.refunds == [(stripe.sessions[session_id]["payment_intent"], Decimal("25.00"))]
    assert db.orders.get(order_id).payments[0].status == "refunded"
    assert _audited(shop, store, "payment.refunded_automatically") == 1


def test_a_staff_refund_goes_to_stripe_once_per_idempotency_key(shop, customer, db, store, make_product, make_user,
                                                                stripe):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    session_id = _go_to_stripe(client, stripe, order_id)
    stripe.pay(session_id)
    _post_event(shop, stripe.event(session_id))
    make_user(role=Role.ADMIN, email="admin@example.com")
    staff = shop.test_client()
    AuthActions(staff).login("admin@example.com")
    key = str(uuid.uuid4())
    for _ in range(2):  # a double click, or a retry after a timeout
        token = csrf_token_from(staff.get(f"/orders/{order_id}").get_data(as_text=True))
        answer = staff.post(f"/admin/orders/{order_id}/refund", data={
            "csrf_token": token, "full": "1", "reason": "devuelto", "confirm": "yes", "idempotency_key": key})
        assert answer.status_code in (200, 303), answer.get_data(as_text=True)[:2000]
    assert stripe.refunds == [(stripe.sessions[session_id]["payment_intent"], Decimal("25.00"))]
    assert db.orders.get(order_id).status == "refunded"


def test_the_provider_adapter_asks_stripe_for_one_refund_per_key_even_when_asked_twice(stripe):
    from shop.adapters.stripe import StripeProvider, StripeSettings
    from shop.domain.payments import PaymentRequest

    provider = StripeProvider(StripeSettings(SECRET_KEY, WEBHOOK_SECRET, stripe.api_base))
    target = provider.start(PaymentRequest("000000000042", 42, Decimal("10.00"), "Pedido 42",
                                           "https://tienda.example/back", "https://tienda.example/notify"))
    session_id = target.url.rsplit("/", 1)[-1]
    stripe.pay(session_id)
    intent = stripe.sessions[session_id]["payment_intent"]
    first = provider.refund(intent, Decimal("4.00"), "refund-7")
    again = provider.refund(intent, Decimal("4.00"), "refund-7")
    assert first == again and stripe.refunds == [(intent, Decimal("4.00"))]
