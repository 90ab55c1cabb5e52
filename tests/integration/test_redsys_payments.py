"""Paying through Redsys, against a fake Redsys written from its published protocol
(tests/fake_redsys.py): the signed form, the signed notification, refunds over its REST endpoint —
and notifications that arrive twice, late, out of order, or forged."""

from __future__ import annotations

import dataclasses
import re
import uuid
from decimal import Decimal
from html import unescape

import pytest

from shop.domain.accounts import Role
from shop.services import checkout
from shop.services.checkout import CheckoutRequest
from shop.web.extensions import close_stores
from shop.web.factory import create_app
from tests.conftest import csrf_token_from
from tests.fake_redsys import TEST_KEY, TEST_MERCHANT, FakeRedsys, RedsysRefused
from tests.integration.conftest import AuthActions


@pytest.fixture
def redsys():
    fake = FakeRedsys()
    yield fake
    fake.close()


@pytest.fixture
def shop(settings, db, store, redsys):
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False}, settings=dataclasses.replace(
        settings, payment_provider="redsys", redsys_merchant_code=TEST_MERCHANT, redsys_secret_key=TEST_KEY,
        redsys_url=redsys.payment_url, redsys_rest_url=redsys.rest_url, public_url="https://tienda.example"))
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


def _go_to_redsys(client, order_id) -> dict:
    """Pagar: the page with the form the browser posts to Redsys, and its fields."""
    token = csrf_token_from(client.get(f"/orders/{order_id}").get_data(as_text=True))
    page = client.post(f"/orders/{order_id}/pay", data={"csrf_token": token})
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    assert 'name="card_number"' not in html
    return {name: unescape(value) for name, value in re.findall(r'<input type="hidden" name="(Ds_\w+)" value="([^"]*)"',
                                                                   html)}


def _notify(shop, form):
    return shop.test_client().post("/pagos/redsys/notificacion", data=form)  # Redsys' server: no cookie


def test_a_payment_goes_through_redsys_signed_both_ways(shop, customer, db, store, make_product, redsys):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    order = redsys.receive(_go_to_redsys(client, order_id))  # Redsys accepts the shop's signature
    asked = redsys.payments[order]
    assert asked["DS_MERCHANT_AMOUNT"] == "2500" and asked["DS_MERCHANT_CURRENCY"] == "978"
    assert asked["DS_MERCHANT_MERCHANTURL"] == "https://tienda.example/pagos/redsys/notificacion"  # PUBLIC_URL
    assert _notify(shop, redsys.notification(order)).status_code == 200
    paid = db.orders.get(order_id)
    assert paid.status == "paid" and [(p.status, p.method, p.provider_reference) for p in paid.payments] == [
        ("succeeded", "redsys", order)]
    back = client.get(f"/orders/{order_id}/payment", follow_redirects=True).get_data(as_text=True)
    assert "Pago recibido" in back


def test_the_same_notification_twice_pays_once(shop, customer, db, store, make_product, redsys):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    order = redsys.receive(_go_to_redsys(client, order_id))
    form = redsys.notification(order)
    assert [_notify(shop, form).status_code for _ in range(3)] == [200, 200, 200]
    with db.transaction() as cur:
        cur.execute("SELECT status FROM payments WHERE order_id = %s", (order_id,))
        assert [row["status"] for row in cur.fetchall()] == ["succeeded"]
        cur.execute("SELECT count(*) AS n FROM invoices WHERE order_id = %s", (order_id,))
        assert cur.fetchone()["n"] == 1


def test_a_declined_notification_leaves_the_order_pending_and_a_late_duplicate_changes_nothing(
        shop, customer, db, store, make_product, redsys):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    first = redsys.receive(_go_to_redsys(client, order_id))
    _notify(shop, redsys.notification(first, "0190"))  # denied by the bank
    assert db.orders.get(order_id).status == "pending"
    second = redsys.receive(_go_to_redsys(client, order_id))  # a new attempt, a new order number
    assert second != first
    _notify(shop, redsys.notification(second))
    _notify(shop, redsys.notification(first, "0000"))  # out of order: the first attempt, now "approved"
    statuses = [(p.provider_order, p.status) for p in db.orders.get(order_id).payments]
    assert statuses == [(first, "declined"), (second, "succeeded")]


def test_a_forged_notification_is_refused_with_400_and_audited(shop, customer, db, store, make_product, redsys):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    order = redsys.receive(_go_to_redsys(client, order_id))
    forged = redsys.notification(order, secret="Mk9m98IfEblmPfrpsawt7BmxObt98Jev")  # another merchant's key
    answer = _notify(shop, forged)
    assert answer.status_code == 400 and db.orders.get(order_id).status == "pending"
    tampered = redsys.notification(order, amount_cents=1)
    tampered["Ds_MerchantParameters"] = redsys.notification(order)["Ds_MerchantParameters"].replace("A", "B", 1)
    assert _notify(shop, tampered).status_code == 400
    assert _notify(shop, {"Ds_Order": order}).status_code == 400
    with shop.app_context():
        from shop.web.extensions import get_audit_log
        get_audit_log().flush_spool()
    assert store.audit_logs.count_documents({"action": "payment.forged_notice"}) == 3
    assert db.orders.get(order_id).status == "pending"


def test_money_for_an_order_that_expired_meanwhile_is_refunded_through_redsys(
        shop, customer, db, store, make_product, redsys):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    order = redsys.receive(_go_to_redsys(client, order_id))
    with db.transaction() as cur:  # the customer took too long on the bank's page
        cur.execute("UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_id = %s", (order_id,))
    assert _notify(shop, redsys.notification(order)).status_code == 200
    assert redsys.refunds == [(order, Decimal("25.00"))]
    (payment,) = db.orders.get(order_id).payments
    assert payment.status == "refunded" and db.orders.get(order_id).status == "pending"
    with shop.app_context():
        from shop.web.extensions import get_audit_log
        get_audit_log().flush_spool()
    assert store.audit_logs.count_documents({"action": "payment.refunded_automatically"}) == 1


def test_a_staff_refund_of_a_redsys_payment_goes_to_redsys(shop, customer, db, store, make_product, make_user,
                                                           redsys):
    user, client = customer
    order_id = _order(db, store, user, make_product)
    order = redsys.receive(_go_to_redsys(client, order_id))
    _notify(shop, redsys.notification(order))
    make_user(role=Role.ADMIN, email="admin@example.com")
    staff = shop.test_client()
    AuthActions(staff).login("admin@example.com")
    token = csrf_token_from(staff.get(f"/orders/{order_id}").get_data(as_text=True))
    answer = staff.post(f"/admin/orders/{order_id}/refund", data={
        "csrf_token": token, "full": "1", "reason": "devuelto", "confirm": "yes",
        "idempotency_key": str(uuid.uuid4())})
    assert answer.status_code in (200, 303), answer.get_data(as_text=True)[:2000]
    assert redsys.refunds == [(order, Decimal("25.00"))]


def test_the_fake_refuses_a_form_the_shop_did_not_sign(redsys):
    with pytest.raises(RedsysRefused):
        redsys.receive({"Ds_SignatureVersion": "HMAC_SHA256_V1", "Ds_MerchantParameters": "e30=",
                        "Ds_Signature": "AAAA"})


def test_reconciliation_refunds_money_whose_refund_failed_and_lists_paid_orders_without_payment(
        shop, customer, db, store, make_product, redsys):
    from shop.services.orders import reconcile_payments
    from shop.web.extensions import get_payment_provider

    user, client = customer
    order_id = _order(db, store, user, make_product)
    order = redsys.receive(_go_to_redsys(client, order_id))
    with db.transaction() as cur:
        cur.execute("UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_id = %s", (order_id,))
    redsys.refunds.append((order, Decimal("25.00")))  # Redsys refuses the refund now (more than was paid) …
    assert _notify(shop, redsys.notification(order)).status_code == 200
    (payment,) = db.orders.get(order_id).payments
    assert payment.status == "orphaned"  # … so the money waits, recorded, to be given back
    redsys.refunds.clear()  # … and accepts it later
    with shop.test_request_context():
        provider = get_payment_provider()
        listed = reconcile_payments(db, provider)
        assert [p.payment_id for p in listed.orphaned] == [payment.payment_id] and listed.refunded_now == []
        done = reconcile_payments(db, provider, refund=True)
    assert done.refunded_now == [payment.payment_id] and done.orphaned == []
    assert redsys.refunds == [(order, Decimal("25.00"))]
    assert db.orders.get(order_id).payments[0].status == "refunded"
    with db.transaction() as cur:  # an order marked paid with no money behind it is listed too
        cur.execute("UPDATE orders SET status = 'paid', expires_at = NULL WHERE order_id = %s", (order_id,))
    with shop.test_request_context():
        assert reconcile_payments(db, get_payment_provider()).orders_without_payment == [order_id]


def test_recovery_asks_again_for_a_refund_that_failed_when_the_money_arrived(
        shop, customer, db, store, make_product, redsys, settings):
    from shop.services.audit import AuditLog
    from shop.services.recovery import refund_orphans
    from shop.web.extensions import get_payment_provider

    user, client = customer
    order_id = _order(db, store, user, make_product)
    order = redsys.receive(_go_to_redsys(client, order_id))
    with db.transaction() as cur:
        cur.execute("UPDATE orders SET expires_at = now() - interval '1 second' WHERE order_id = %s", (order_id,))
    redsys.refunds.append((order, Decimal("25.00")))  # Redsys refuses the refund when the money arrives
    _notify(shop, redsys.notification(order))
    (payment,) = db.orders.get(order_id).payments
    assert payment.status == "orphaned"
    redsys.refunds.clear()  # … and accepts it by the time recovery asks again
    audit = AuditLog(store, settings.audit_spool_path, index=db.lists)
    with shop.test_request_context():
        provider = get_payment_provider()
        assert refund_orphans(db, provider, audit) == [payment.payment_id]
        assert refund_orphans(db, provider, audit) == []  # once
    assert redsys.refunds == [(order, Decimal("25.00"))]
    assert db.orders.get(order_id).payments[0].status == "refunded"
    [entry] = list(store.audit_logs.find({"action": "payment.refunded_automatically", "details.by": "recovery"}))
    assert entry["target"] == f"payment:{payment.payment_id}"
