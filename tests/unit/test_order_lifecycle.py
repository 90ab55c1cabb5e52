"""Paying, cancelling, shipping, expiring and refunding an order, on in-memory stores
(tests/unit/fakes.py): each branch of shop.services.orders and shop.services.refunds in milliseconds.

The same use cases run on the real servers, under real races and killed processes, in
tests/integration/test_orders.py, test_refunds.py, test_payment_attempts.py and test_money_faults.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from shop.adapters.payments import SimulatedPaymentProvider
from shop.domain.accounts import Role, User
from shop.domain.errors import Conflict, LimitReached, NotFound
from shop.domain.order_effects import MailKind, Reason
from shop.domain.orders import OrderStatus, PaymentStatus
from shop.domain.payments import ForgedNotice, PaymentAttemptLimits, Settlement
from shop.domain.refunds import RefundRequest
from shop.services import orders, refunds
from tests.payments import URLS, pay, simulated_provider
from tests.unit.fakes import FakeDatabase, FakeLedger, FakeStock, FakeStore

CUSTOMER = User(7, "ana@example.com", "Ana", Role.CUSTOMER, True)
OTHER_CUSTOMER = User(8, "luis@example.com", "Luis", Role.CUSTOMER, True)
ADMIN = User(1, "admin@example.com", "Admin", Role.ADMIN, True)
AUDITOR = User(2, "auditor@example.com", "Auditor", Role.AUDITOR, True)


@pytest.fixture
def ledger():
    return FakeLedger()


@pytest.fixture
def stock():
    return FakeStock(Taza=5, Libro=3)


@pytest.fixture
def db(ledger):
    return FakeDatabase(ledger)


@pytest.fixture
def store(stock):
    return FakeStore(stock)


def place(ledger, stock, status=OrderStatus.PENDING, *, shipping="0.00", expires_at=None, **units):
    """An order of CUSTOMER's for `units` (name → units), as checkout left it: units taken from stock."""
    for name, n in units.items():
        stock.products[stock.id_of(name)]["stock"] -= n
    return ledger.add_order(CUSTOMER.user_id, status, {stock.id_of(name): n for name, n in units.items()},
                            shipping=Decimal(shipping), expires_at=expires_at).order_id


def reason_codes(ledger, order_id):
    return [code for oid, _, _, code, _ in ledger.history if oid == order_id]


# --- paying -----------------------------------------------------------------------------------------

def test_a_paid_notice_pays_the_order_once_and_records_the_payment(db, ledger, stock):
    order_id = place(ledger, stock, Taza=2)
    outcome = pay(db, CUSTOMER, order_id)
    assert outcome.settlement is Settlement.PAID and ledger.rows[order_id].status is OrderStatus.PAID
    [(_, payment)] = ledger.payments
    assert (payment.amount, payment.status, payment.card_last4, payment.method) == (
        Decimal("20.00"), PaymentStatus.SUCCEEDED, None, "simulated")
    assert payment.provider_reference.startswith("sim_")
    assert reason_codes(ledger, order_id) == [Reason.PAYMENT]
    assert ledger.mails == [(order_id, MailKind.ORDER_PAID)]
    with pytest.raises(Conflict, match="already paid"):
        pay(db, CUSTOMER, order_id)
    assert len(ledger.payments) == 1


def test_a_declined_card_is_recorded_and_leaves_the_order_pending(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    outcome = pay(db, CUSTOMER, order_id, "declined")
    assert outcome.settlement is Settlement.DECLINED
    assert ledger.payments[0][1].decline_reason == "card declined"
    assert ledger.rows[order_id].status is OrderStatus.PENDING
    assert [p.status for _, p in ledger.payments] == [PaymentStatus.DECLINED] and ledger.mails == []


def _started(db, order_id):
    """A payment started on the simulated provider's page: (provider, its checkout)."""
    provider = simulated_provider()
    start = orders.begin_payment(db, provider, CUSTOMER, order_id, URLS)
    return provider, provider.checkout(start.redirect.url.rsplit("/", 1)[1])


def test_the_same_notice_twice_pays_once(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    provider, checkout = _started(db, order_id)
    notice = provider.read_notice(b"", provider.notification(checkout, "paid"), {})
    assert orders.settle_notice(db, provider, notice).settlement is Settlement.PAID
    assert orders.settle_notice(db, provider, notice).settlement is Settlement.DUPLICATE
    assert reason_codes(ledger, order_id) == [Reason.PAYMENT] and len(ledger.payments) == 1


def test_a_declined_notice_after_the_paid_one_changes_nothing(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    provider, checkout = _started(db, order_id)
    paid = provider.read_notice(b"", provider.notification(checkout, "paid"), {})
    late_decline = provider.read_notice(b"", provider.notification(checkout, "declined"), {})
    orders.settle_notice(db, provider, paid)
    assert orders.settle_notice(db, provider, late_decline).settlement is Settlement.DUPLICATE
    assert ledger.rows[order_id].status is OrderStatus.PAID and ledger.payments[0][1].status is PaymentStatus.SUCCEEDED


def test_money_for_an_order_that_expired_meanwhile_is_refunded_not_kept(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    provider, checkout = _started(db, order_id)
    ledger.rows[order_id] = dataclasses.replace(ledger.rows[order_id],
                                                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    outcome = orders.settle_notice(db, provider, provider.read_notice(b"", provider.notification(checkout, "paid"), {}))
    assert outcome.settlement is Settlement.ORPHANED and outcome.refund_reference.startswith("sim_re_")
    assert ledger.rows[order_id].status is OrderStatus.PENDING  # never paid: the expiry sweep cancels it
    assert ledger.payments[0][1].status is PaymentStatus.REFUNDED


def test_a_second_attempt_paid_after_the_first_is_refunded(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    provider, first = _started(db, order_id)
    _, second = _started(db, order_id)  # two tabs: both sent to the provider
    for checkout in (first, second):
        orders.settle_notice(db, provider, provider.read_notice(b"", provider.notification(checkout, "paid"), {}))
    assert [p.status for _, p in ledger.payments] == [PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED]
    assert reason_codes(ledger, order_id) == [Reason.PAYMENT]


def test_a_notice_not_signed_by_the_provider_is_refused(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    provider, checkout = _started(db, order_id)
    forged = SimulatedPaymentProvider("not the shop's secret").notification(checkout, "paid")
    with pytest.raises(ForgedNotice):
        provider.read_notice(b"", forged, {})
    assert ledger.rows[order_id].status is OrderStatus.PENDING


def test_paying_stops_at_the_declines_limit_and_the_decline_that_reaches_it_says_so(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    limits = PaymentAttemptLimits(per_order=2, per_account=10, window_minutes=15)
    first = pay(db, CUSTOMER, order_id, "declined", limits)
    second = pay(db, CUSTOMER, order_id, "declined", limits)
    assert (first.pauses_paying, second.pauses_paying) == (False, True)
    with pytest.raises(LimitReached):
        pay(db, CUSTOMER, order_id, limits=limits)
    assert len(ledger.payments) == 2 and ledger.rows[order_id].status is OrderStatus.PENDING
    assert ledger.locks_taken[-1] == (order_id, CUSTOMER.user_id)  # counted under the account's lock


def test_an_order_with_nothing_to_pay_is_paid_without_a_card_or_a_payment(db, ledger, stock):
    order_id = ledger.add_order(CUSTOMER.user_id, OrderStatus.PENDING, {stock.id_of("Taza"): 1},
                                price=Decimal("0.00")).order_id
    assert pay(db, CUSTOMER, order_id) is None  # nothing to charge: never sent to the provider
    assert ledger.payments == [] and reason_codes(ledger, order_id) == [Reason.NOTHING_TO_PAY]


def test_an_expired_order_cannot_be_paid(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    with pytest.raises(Conflict, match="expired"):
        pay(db, CUSTOMER, order_id)
    assert ledger.payments == []


@pytest.mark.parametrize("payer", [OTHER_CUSTOMER, ADMIN, AUDITOR], ids=["another-customer", "admin", "auditor"])
def test_only_the_customer_who_placed_an_order_can_pay_it(db, ledger, stock, payer):
    order_id = place(ledger, stock, Taza=1)
    with pytest.raises(NotFound):
        pay(db, payer, order_id)
    assert ledger.payments == [] and ledger.rows[order_id].status is OrderStatus.PENDING


def test_staff_record_a_payment_received_outside_the_shop(db, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    orders.mark_paid(db, ADMIN, order_id)
    [(_, payment)] = ledger.payments
    assert (payment.method, payment.provider_reference) == ("manual", f"staff:{ADMIN.user_id}")
    assert reason_codes(ledger, order_id) == [Reason.PAYMENT_RECORDED]


# --- cancelling and expiring ---------------------------------------------------------------------

def test_a_customer_cancelling_gets_the_units_back_in_stock_once(db, store, ledger, stock):
    order_id = place(ledger, stock, Taza=2, Libro=1)
    orders.cancel_order(db, store, CUSTOMER, order_id)
    assert (stock.stock("Taza"), stock.stock("Libro")) == (5, 3)
    assert ledger.rows[order_id].stock_returned and reason_codes(ledger, order_id) == [Reason.CUSTOMER]
    assert ledger.mails == [(order_id, MailKind.ORDER_CANCELLED)]
    assert orders.return_stock_of_cancelled(db, store, order_id)  # asked again: nothing more comes back
    assert (stock.stock("Taza"), stock.stock("Libro")) == (5, 3)


def test_staff_cancelling_is_recorded_as_staff(db, store, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    orders.cancel_order(db, store, ADMIN, order_id, "sin stock en almacén")
    assert reason_codes(ledger, order_id) == [Reason.STAFF]


@pytest.mark.parametrize("actor", [OTHER_CUSTOMER, AUDITOR], ids=["another-customer", "auditor"])
def test_nobody_else_can_cancel_a_customers_order(db, store, ledger, stock, actor):
    order_id = place(ledger, stock, Taza=1)
    with pytest.raises(NotFound):
        orders.cancel_order(db, store, actor, order_id)
    assert ledger.rows[order_id].status is OrderStatus.PENDING and stock.stock("Taza") == 4


def test_a_paid_order_cannot_be_cancelled_only_refunded(db, store, ledger, stock):
    order_id = place(ledger, stock, OrderStatus.PAID, Taza=1)
    with pytest.raises(Conflict):
        orders.cancel_order(db, store, CUSTOMER, order_id)
    assert stock.stock("Taza") == 4


def test_a_cancellation_whose_stock_cannot_go_back_now_is_left_for_recovery(db, store, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    stock.fail_return.add(stock.id_of("Taza"))
    orders.cancel_order(db, store, CUSTOMER, order_id)
    order = ledger.rows[order_id]
    assert order.status is OrderStatus.CANCELLED and not order.stock_returned  # recovery's list
    stock.fail_return.clear()
    assert orders.return_stock_of_cancelled(db, store, order_id) and stock.stock("Taza") == 5


def test_an_unpaid_order_past_its_time_expires_with_its_own_reason_and_mail(db, store, ledger, stock):
    order_id = place(ledger, stock, Taza=2, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert orders.expire_order(db, store, order_id)
    assert reason_codes(ledger, order_id) == [Reason.EXPIRED] and stock.stock("Taza") == 5
    assert ledger.mails == [(order_id, MailKind.ORDER_EXPIRED)]
    assert not orders.expire_order(db, store, order_id)  # already cancelled: nothing happens twice


def test_an_order_paid_or_still_in_time_does_not_expire(db, store, ledger, stock):
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    paid = place(ledger, stock, OrderStatus.PAID, Taza=1, expires_at=past)
    in_time = place(ledger, stock, Taza=1, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    assert not orders.expire_order(db, store, paid) and not orders.expire_order(db, store, in_time)
    assert ledger.history == [] and stock.stock("Taza") == 3


# --- shipping ---------------------------------------------------------------------------------------

def test_shipping_records_the_carrier_before_the_status_so_the_mail_can_name_it(db, ledger, stock):
    order_id = place(ledger, stock, OrderStatus.PAID, Taza=1)
    orders.mark_shipped(db, ADMIN, order_id, ("SEUR", "ES123"))
    order = ledger.rows[order_id]
    assert (order.status, order.carrier, order.tracking_number) == (OrderStatus.SHIPPED, "SEUR", "ES123")
    assert ledger.mails == [(order_id, MailKind.ORDER_SHIPPED)]
    with pytest.raises(NotFound):
        orders.mark_shipped(db, CUSTOMER, order_id, ("SEUR", "ES123"))


# --- refunding --------------------------------------------------------------------------------------

def paid_with_card(db, ledger, stock, **units):
    order_id = place(ledger, stock, shipping="4.95", **units)
    assert pay(db, CUSTOMER, order_id).settlement is Settlement.PAID
    return order_id


def refund(db, store, order_id, *, full, units=None, goods_returned=False, key=None):
    request = RefundRequest(units or {}, "devuelto por el cliente", goods_returned)
    return refunds.refund_order(db, store, simulated_provider(), ADMIN, order_id, request,
                                key or str(uuid.uuid4()), full=full)


def test_a_full_refund_returns_every_line_and_the_shipping_and_puts_returned_goods_back(db, store, ledger, stock):
    order_id = paid_with_card(db, ledger, stock, Taza=2, Libro=1)
    outcome = refund(db, store, order_id, full=True, goods_returned=True)
    assert (outcome.amount, outcome.status) == (Decimal("34.95"), OrderStatus.REFUNDED)
    [(recorded, _)] = ledger.refund_records
    assert recorded.provider_reference and recorded.provider_reference.startswith("sim_re_")
    assert (stock.stock("Taza"), stock.stock("Libro")) == (5, 3)
    assert db.refunds.stock_returned == {outcome.refund_id}
    assert reason_codes(ledger, order_id)[-1] is Reason.REFUND


def test_a_refund_by_line_leaves_the_order_partially_refunded_and_the_shipping_kept(db, store, ledger, stock):
    order_id = paid_with_card(db, ledger, stock, Taza=2, Libro=1)
    item = next(i for i in ledger.rows[order_id].items if i.product_id == stock.id_of("Taza"))
    outcome = refund(db, store, order_id, full=False, units={item.order_item_id: 1})
    assert (outcome.amount, outcome.status) == (Decimal("10.00"), OrderStatus.PARTIALLY_REFUNDED)
    assert stock.stock("Taza") == 3  # the goods did not come back


def test_the_same_refund_form_sent_twice_refunds_once(db, store, ledger, stock):
    order_id = paid_with_card(db, ledger, stock, Taza=2)
    key = str(uuid.uuid4())
    first = refund(db, store, order_id, full=True, key=key, goods_returned=True)
    again = refund(db, store, order_id, full=True, key=key, goods_returned=True)
    assert (again.refund_id, again.replayed) == (first.refund_id, True)
    assert len(ledger.refund_records) == 1 and stock.stock("Taza") == 5


def test_a_refund_form_of_another_order_is_refused(db, store, ledger, stock):
    first, second = paid_with_card(db, ledger, stock, Taza=1), paid_with_card(db, ledger, stock, Libro=1)
    key = str(uuid.uuid4())
    refund(db, store, first, full=True, key=key)
    with pytest.raises(Conflict, match="another order"):
        refund(db, store, second, full=True, key=key)
    assert ledger.rows[second].status is OrderStatus.PAID


@pytest.mark.parametrize("status", [OrderStatus.PENDING, OrderStatus.CANCELLED])
def test_only_paid_or_shipped_orders_are_refunded(db, store, ledger, stock, status):
    order_id = place(ledger, stock, status, Taza=1)
    with pytest.raises(Conflict, match="Only paid or shipped"):
        refund(db, store, order_id, full=True)
    assert ledger.refund_records == []


def test_nothing_more_is_refunded_once_everything_was(db, store, ledger, stock):
    order_id = paid_with_card(db, ledger, stock, Taza=1)
    refund(db, store, order_id, full=True)
    with pytest.raises(Conflict, match="already been refunded"):
        refund(db, store, order_id, full=True)
    assert len(ledger.refund_records) == 1


def test_a_refund_without_a_card_payment_asks_no_provider(db, store, ledger, stock):
    order_id = place(ledger, stock, Taza=1)
    orders.mark_paid(db, ADMIN, order_id)  # paid by bank transfer
    refund(db, store, order_id, full=True)
    [(recorded, _)] = ledger.refund_records
    assert recorded.provider_reference is None


def test_only_an_admin_refunds(db, store, ledger, stock):
    order_id = paid_with_card(db, ledger, stock, Taza=1)
    for actor in (CUSTOMER, AUDITOR):
        with pytest.raises(NotFound):
            refunds.refund_order(db, store, simulated_provider(), actor, order_id,
                                 RefundRequest({}, "x", False), str(uuid.uuid4()), full=True)
    assert ledger.refund_records == []


def test_returned_goods_that_cannot_go_back_now_are_left_for_recovery_and_go_back_once(db, store, ledger, stock):
    order_id = paid_with_card(db, ledger, stock, Taza=2)
    stock.fail_return.add(stock.id_of("Taza"))
    outcome = refund(db, store, order_id, full=True, goods_returned=True)
    assert outcome.status is OrderStatus.REFUNDED and db.refunds.stock_returned == set()  # the money is back
    stock.fail_return.clear()
    assert refunds.restock_refund(db, store, outcome.refund_id)
    assert refunds.restock_refund(db, store, outcome.refund_id)  # again, as a second recovery pass would
    assert stock.stock("Taza") == 5


def test_attempts_not_decided_yet_count_against_the_declines_limit(db, ledger, stock):
    """Two tabs started before either notice arrives cannot overrun a limit of one."""
    order_id = place(ledger, stock, Taza=1)
    limits = PaymentAttemptLimits(per_order=1, per_account=10, window_minutes=15)
    orders.begin_payment(db, simulated_provider(), CUSTOMER, order_id, URLS, limits)
    with pytest.raises(LimitReached):
        orders.begin_payment(db, simulated_provider(), CUSTOMER, order_id, URLS, limits)
    assert len(ledger.payments) == 1
