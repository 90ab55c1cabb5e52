"""Processes killed while money moves: a payment before its commit (it holds an invoice number), a
refund after the provider refunded, after its commit, and halfway through putting goods back.

Each child is a real process that a failpoint ends with os._exit (no `finally`, no cleanup, as
SIGKILL would): what it had not committed is gone, what it had is finished by recovery once."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from shop import failpoints
from shop.adapters.payments import SimulatedCheckout
from shop.domain.accounts import Role
from shop.domain.refunds import RefundRequest
from shop.services import checkout, orders
from shop.services.checkout import CheckoutRequest
from shop.services.recovery import recover
from shop.services.refunds import refund_order
from tests.integration.test_checkout_faults import run_child
from tests.payments import pay, simulated_provider

provider = simulated_provider()


def place(db, store, user, *lines) -> int:
    return checkout.place_order(db, store,
                                CheckoutRequest(user.user_id, [(str(p["_id"]), q) for p, q in lines],
                                                str(uuid.uuid4()))).order_id


def rows(db, sql: str, *params) -> list[dict]:
    with db.transaction() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def stock(store, product) -> int:
    return store.products.find_one({"_id": product["_id"]})["stock"]


def test_a_payment_killed_while_settling_leaves_no_paid_order_and_no_gap_and_the_retry_pays_once(
        servers, migrated, mongo_db_name, db, store, make_user, make_product):
    product, customer = make_product(stock=10), make_user()
    first, second = place(db, store, customer, (product, 1)), place(db, store, customer, (product, 1))
    child = run_child(servers, migrated, mongo_db_name, action="pay", failpoint="pay.before_commit=exit",
                      user_id=customer.user_id, order_id=first)
    assert child.returncode == failpoints.EXIT_CODE, child.stdout + child.stderr
    assert db.orders.get(first).status == "pending"
    (attempt,) = rows(db, "SELECT * FROM payments WHERE order_id = %s", first)
    assert attempt["status"] == "pending"  # started before the customer left; its notice died with the child
    assert rows(db, "SELECT * FROM invoices") == []  # the number it held went back with its transaction

    pay(db, customer, second)
    provider = simulated_provider()  # the provider sends its notification again, as providers do
    again = SimulatedCheckout(attempt["provider_order"], first, attempt["amount"], "", "", "")
    outcome = orders.settle_notice(db, provider, provider.read_notice(b"", provider.notification(again, "paid"), {}))
    assert outcome.settlement == "paid"
    issued = rows(db, "SELECT order_id, number FROM invoices ORDER BY number")
    assert [(r["order_id"], r["number"]) for r in issued] == [(second, 1), (first, 2)]
    assert len(rows(db, "SELECT * FROM payments WHERE order_id = %s AND status = 'succeeded'", first)) == 1


@pytest.fixture
def paid_order(db, store, make_product, make_user):
    """A paid order of 3 mugs (10,00) and 2 books (19,95), and an admin to refund it."""
    mug = make_product(name="Taza", price="10.00", stock=10)
    book = make_product(name="Libro", price="19.95", stock=10, tax_class="super_reduced")
    customer = make_user()
    order_id = place(db, store, customer, (mug, 3), (book, 2))
    pay(db, customer, order_id)
    items = {i.product_name: i.order_item_id for i in db.orders.get(order_id).items}
    return {"order_id": order_id, "admin": make_user(role=Role.ADMIN), "mug": mug, "book": book, "items": items}


def refund_in_child(servers, migrated, mongo_db_name, o, point, units, key, *, goods=True, full=False):
    child = run_child(servers, migrated, mongo_db_name, action="refund", failpoint=f"{point}=exit",
                      user_id=o["admin"].user_id, order_id=o["order_id"], key=key, reason="roto", goods=goods,
                      full=full, units={str(o["items"][name]): n for name, n in units.items()})
    assert child.returncode == failpoints.EXIT_CODE, child.stdout + child.stderr


def test_a_refund_killed_after_the_provider_refunded_records_nothing_and_the_same_form_refunds_once(
        servers, migrated, mongo_db_name, db, store, paid_order):
    o, key = paid_order, str(uuid.uuid4())
    mugs = stock(store, o["mug"])
    refund_in_child(servers, migrated, mongo_db_name, o, "refund.after_provider", {"Taza": 2}, key)
    order = db.orders.get(o["order_id"])
    assert (order.status, order.refunded_amount) == ("paid", Decimal("0.00"))
    assert db.refunds.of_order(o["order_id"]) == [] and stock(store, o["mug"]) == mugs

    # The admin sends the same form again: the provider, asked with the same key, names the refund
    # it already made for the killed process; the shop records it once and the mugs come back once.
    request = RefundRequest({o["items"]["Taza"]: 2}, "roto", True)
    outcome = refund_order(db, store, provider, o["admin"], o["order_id"], request, key, full=False)
    assert (outcome.replayed, outcome.amount) == (False, Decimal("20.00"))
    [payment] = rows(db, "SELECT provider_reference FROM payments WHERE order_id = %s", o["order_id"])
    [recorded] = rows(db, "SELECT provider_reference, amount FROM refunds WHERE order_id = %s", o["order_id"])
    assert recorded["provider_reference"] == provider.refund(payment["provider_reference"], Decimal("20.00"),
                                                             key).reference
    assert refund_order(db, store, provider, o["admin"], o["order_id"], request, key, full=False).replayed
    assert stock(store, o["mug"]) == mugs + 2
    assert db.orders.get(o["order_id"]).refunded_amount == Decimal("20.00")


@pytest.mark.parametrize("point", ["refund.after_commit", "refund.after_line_restocked"])
def test_a_refund_killed_before_its_goods_are_back_is_finished_by_recovery_once(
        servers, migrated, mongo_db_name, db, store, paid_order, point):
    o, key = paid_order, str(uuid.uuid4())
    mugs, books = stock(store, o["mug"]), stock(store, o["book"])
    refund_in_child(servers, migrated, mongo_db_name, o, point, {}, key, full=True)
    [refund] = db.refunds.of_order(o["order_id"])
    assert db.orders.get(o["order_id"]).status == "refunded"  # the money side committed whole
    assert db.refunds.awaiting_stock() == [refund.refund_id]
    back = (stock(store, o["mug"]) - mugs, stock(store, o["book"]) - books)
    assert back == ((0, 0) if point == "refund.after_commit" else (3, 0))  # killed after the first line

    recover(db, store)
    recover(db, store)
    assert (stock(store, o["mug"]), stock(store, o["book"])) == (mugs + 3, books + 2)  # each unit once
    assert db.refunds.awaiting_stock() == []
