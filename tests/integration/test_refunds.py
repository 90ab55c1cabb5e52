"""Refunds on the real databases: money never above what was paid (also under concurrent clicks),
units back in stock only when the goods came back and only once, statuses, mails and the dashboard."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import psycopg2.errors
import pytest

from shop.domain.accounts import Role
from shop.domain.errors import Conflict, InvalidInput, NotFound
from shop.domain.orders import OrderStatus
from shop.services import checkout, orders, reports
from shop.services.checkout import CheckoutRequest
from shop.services.recovery import recover
from shop.services.refunds import restock_refund
from tests.conftest import csrf_token_from
from tests.integration.conftest import refund
from tests.payments import pay

CARD = "4242424242424242"


def stock(store, product) -> int:
    return store.products.find_one({"_id": product["_id"]})["stock"]


def test_refunding_by_line_then_the_rest_adds_up_to_exactly_what_was_paid(db, store, paid_order):
    o = paid_order
    first = refund(db, store, o, {"Taza": 1})
    assert (first.amount, first.status.value) == (Decimal("10.00"), "partially_refunded")
    second = refund(db, store, o, {"Taza": 1, "Libro": 1})
    assert second.amount == Decimal("29.95")
    last = refund(db, store, o, full=True)
    order = db.orders.get(o["order_id"])
    assert last.status.value == "refunded" and order.status == "refunded"
    assert first.amount + second.amount + last.amount == order.total_amount == order.refunded_amount
    with pytest.raises(Conflict, match="already been refunded"):
        refund(db, store, o, full=True)
    assert [h.to_status for h in order.history][-3:] == ["partially_refunded", "partially_refunded", "refunded"]


def test_refund_money_follows_the_discount_and_never_loses_a_cent(db, store, make_product, make_user):
    from shop.domain.discounts import DiscountCode

    db.discounts.create(DiscountCode("MENOS10", "fixed", Decimal("10.00")))
    product = make_product(price="10.00", stock=10)
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    wanted = CheckoutRequest(customer.user_id, [(str(product["_id"]), 3)], str(uuid.uuid4()), discount_code="MENOS10")
    order_id = checkout.place_order(db, store, wanted).order_id  # 30,00 − 10,00 = 20,00 for 3 units
    pay(db, customer, order_id)
    item = db.orders.get(order_id).items[0]
    o = {"order_id": order_id, "admin": admin, "items": {"x": item}}
    amounts = [refund(db, store, o, {"x": 1}).amount for _ in range(3)]
    assert amounts == [Decimal("6.67"), Decimal("6.66"), Decimal("6.67")] and sum(amounts) == Decimal("20.00")


def test_concurrent_refund_clicks_never_return_more_than_was_paid(db, store, paid_order):
    o, outcomes, errors = paid_order, [], []
    barrier = threading.Barrier(6)

    def click():
        try:
            barrier.wait(10)
            outcomes.append(refund(db, store, o, full=True))
        except Conflict:
            outcomes.append(None)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    done = [x for x in outcomes if x is not None]
    assert len(done) == 1 and done[0].amount == db.orders.get(o["order_id"]).total_amount
    assert len(db.refunds.of_order(o["order_id"])) == 1


def test_the_same_refund_form_sent_twice_refunds_once(db, store, paid_order):
    key = str(uuid.uuid4())
    first = refund(db, store, paid_order, {"Libro": 1}, key=key)
    again = refund(db, store, paid_order, {"Libro": 1}, key=key)
    assert again.replayed and again.refund_id == first.refund_id
    assert db.orders.get(paid_order["order_id"]).refunded_amount == Decimal("19.95")


def test_the_database_refuses_an_over_refund_whatever_the_code_does(db, paid_order):
    with pytest.raises(psycopg2.errors.CheckViolation), db.transaction() as cur:
        cur.execute("UPDATE orders SET refunded_amount = total_amount + 0.01 WHERE order_id = %s",
                    (paid_order["order_id"],))
    with pytest.raises(psycopg2.errors.CheckViolation), db.transaction() as cur:
        cur.execute("UPDATE order_items SET refunded_quantity = quantity + 1 WHERE order_id = %s",
                    (paid_order["order_id"],))


def test_units_go_back_to_stock_only_when_the_goods_came_back_and_only_once(db, store, paid_order):
    o = paid_order
    mug_before = stock(store, o["mug"])
    refund(db, store, o, {"Taza": 1})  # money only: the mug was broken
    assert stock(store, o["mug"]) == mug_before
    returned = refund(db, store, o, {"Taza": 2}, goods=True)
    assert stock(store, o["mug"]) == mug_before + 2
    assert not restock_refund(db, store, returned.refund_id) or stock(store, o["mug"]) == mug_before + 2
    recover(db, store)
    assert stock(store, o["mug"]) == mug_before + 2


def test_a_restock_interrupted_after_the_refund_is_finished_by_recovery_once(db, store, paid_order, monkeypatch):
    from shop.adapters.mongo import StoreError
    from shop.adapters.mongo.stock import Stock

    o = paid_order
    before = stock(store, o["book"])

    def down(*args, **kwargs):
        raise StoreError("MongoDB is down")

    with monkeypatch.context() as patched:
        patched.setattr(Stock, "return_units", down)
        outcome = refund(db, store, o, {"Libro": 2}, goods=True)
    assert stock(store, o["book"]) == before and db.refunds.awaiting_stock() == [outcome.refund_id]
    recover(db, store)
    recover(db, store)
    assert stock(store, o["book"]) == before + 2 and db.refunds.awaiting_stock() == []


@pytest.mark.parametrize("units, message", [
    ({"Taza": 4}, "can still be refunded"),
    ({}, "already been refunded"),
])
def test_a_refund_above_what_was_bought_is_refused_and_changes_nothing(db, store, paid_order, units, message):
    if not units:
        refund(db, store, paid_order, full=True)
    with pytest.raises(Conflict, match=message):
        refund(db, store, paid_order, units or None, full=not units)


def test_only_admins_refund_and_only_paid_orders(db, store, make_product, make_user, paid_order):
    with pytest.raises(NotFound):
        refund(db, store, paid_order, {"Taza": 1}, actor=paid_order["customer"])
    product = make_product(stock=5)
    pending = checkout.place_order(db, store,
                                   CheckoutRequest(paid_order["customer"].user_id, [(str(product["_id"]), 1)],
                                                   str(uuid.uuid4()))).order_id
    item = db.orders.get(pending).items[0]
    with pytest.raises(Conflict, match="Only paid or shipped"):
        refund(db, store, {"order_id": pending, "admin": paid_order["admin"], "items": {"x": item}}, {"x": 1})


def test_a_refund_shows_in_the_status_the_mails_and_the_dashboard(db, store, paid_order):
    o = paid_order
    revenue_before = reports.dashboard(db, store, 5).revenue
    refund(db, store, o, {"Libro": 1})
    assert reports.dashboard(db, store, 5).revenue == revenue_before - Decimal("19.95")
    with db.transaction() as cur:
        cur.execute("SELECT kind FROM mail_outbox WHERE order_id = %s ORDER BY mail_id", (o["order_id"],))
        assert [r["kind"] for r in cur.fetchall()] == ["order.placed", "order.paid", "order.refunded"]


def test_an_admin_refunds_one_line_from_the_order_page(client, auth, db, store, paid_order, make_user):
    make_user(role=Role.ADMIN, email="admin@example.com")
    auth.login("admin@example.com")
    page_url = f"/orders/{paid_order['order_id']}"
    html = client.get(page_url).get_data(as_text=True)
    assert 'data-testid="refund-form"' in html
    book_id = paid_order["items"]["Libro"].order_item_id
    key = html.split('name="idempotency_key" value="')[1].split('"')[0]
    form = {"csrf_token": csrf_token_from(html), "idempotency_key": key, "reason": "llegó dañado",
            f"units_{book_id}": "1", "goods_returned": "1"}
    assert client.post(f"/admin/orders/{paid_order['order_id']}/refund", data=form).status_code == 303
    after = client.get(page_url).get_data(as_text=True)
    assert "Reembolsado en parte" in after and "llegó dañado" in after and "19,95" in after
    assert client.post(f"/admin/orders/{paid_order['order_id']}/refund",
                       data={**form, "idempotency_key": str(uuid.uuid4()), f"units_{book_id}": "9"}).status_code == 409
    assert client.post(f"/admin/orders/{paid_order['order_id']}/refund",
                       data={**form, "idempotency_key": str(uuid.uuid4()), "reason": ""}).status_code == 400
    assert client.post(f"/admin/orders/{paid_order['order_id']}/refund",
                       data={**form, "idempotency_key": str(uuid.uuid4()), f"units_{book_id}": "-1"}).status_code == 400


def test_invalid_refund_forms_are_refused_before_anything(paid_order):
    from shop.domain.refunds import parse_refund_form

    ids = [1, 2]
    for form in ({"reason": ""}, {"reason": "x" * 201}, {"reason": "ok", "units_1": "uno"},
                 {"reason": "ok", "units_1": "0"}, {"reason": "ok", "units_1": "²"}):
        with pytest.raises(InvalidInput):
            parse_refund_form(form, ids, full=False)


def test_a_shipped_order_partly_refunded_cannot_be_shipped_again(db, store, paid_order):
    orders.mark_shipped(db, paid_order["admin"], paid_order["order_id"], ("SEUR", "SE1"))
    refund(db, store, paid_order, {"Taza": 1})
    assert db.orders.get(paid_order["order_id"]).status is OrderStatus.PARTIALLY_REFUNDED
    with pytest.raises(Conflict, match="already been shipped"):
        orders.mark_shipped(db, paid_order["admin"], paid_order["order_id"], ("MRW", "MRW2"))
    order = db.orders.get(paid_order["order_id"])
    assert (order.status, order.carrier, order.tracking_number) == (OrderStatus.PARTIALLY_REFUNDED, "SEUR", "SE1")
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM mail_outbox WHERE order_id = %s AND kind = 'order.shipped'",
                    (paid_order["order_id"],))
        assert cur.fetchone()["n"] == 1


@pytest.mark.parametrize("full", [True, False], ids=["refunded", "partly-refunded"])
def test_no_reservation_marker_is_left_on_an_order_refunded_before_recovery_settled_it(db, store, paid_order, full):
    from shop.domain import markers

    # The hold a checkout leaves until the next reservation or recovery pass drops it (a worker that
    # stopped right after placing the order leaves exactly this).
    mug = paid_order["mug"]["_id"]
    store.products.update_one({"_id": mug}, {"$set": {
        markers.path(markers.HOLDS, markers.order_key(paid_order["order_id"])): 3, "marked": True}})
    if full:
        refund(db, store, paid_order, full=True)
    else:
        refund(db, store, paid_order, {"Taza": 1})
    recover(db, store)
    assert store.stock.with_markers("holds") == []


def test_refunding_everything_left_asks_first_and_changes_nothing_until_confirmed(client, auth, db, paid_order,
                                                                                  make_user):
    make_user(role=Role.ADMIN, email="admin@example.com")
    auth.login("admin@example.com")
    page_url = f"/orders/{paid_order['order_id']}"
    html = client.get(page_url).get_data(as_text=True)
    key = html.split('name="idempotency_key" value="')[1].split('"')[0]
    form = {"csrf_token": csrf_token_from(html), "idempotency_key": key, "reason": "devolución", "full": "1"}
    asked = client.post(f"/admin/orders/{paid_order['order_id']}/refund", data=form)
    assert asked.status_code == 200 and "¿Reembolsar todo lo que queda del pedido" in asked.get_data(as_text=True)
    assert db.orders.get(paid_order["order_id"]).status == "paid" and db.refunds.of_order(paid_order["order_id"]) == []
    done = client.post(f"/admin/orders/{paid_order['order_id']}/refund", data={**form, "confirm": "yes"})
    assert done.status_code == 303 and db.orders.get(paid_order["order_id"]).status == "refunded"
