"""IVA on real orders and the invoice series: each line keeps its rate and share, every paid order
gets the next number of a gapless series, also under concurrent payments and rolled-back ones."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest

from shop.domain.accounts import Role
from shop.domain.order_effects import Reason
from shop.domain.orders import OrderStatus
from shop.domain.taxes import DEFAULT_RATES, split_tax
from shop.services import checkout, orders
from shop.services.checkout import CheckoutPolicy, CheckoutRequest
from tests.conftest import csrf_token_from
from tests.payments import pay

CARD = "4242424242424242"


def place(db, store, user, *lines):
    return checkout.place_order(db, store,
                                CheckoutRequest(user.user_id, [(str(p["_id"]), q) for p, q in lines],
                                                str(uuid.uuid4()))).order_id


def pay_at(db, customer, order_id: int, moment: str) -> None:
    """Pay the order as if the database's clock read `moment` (ISO 8601, with its offset)."""
    import datetime as dt

    db.clock = lambda: dt.datetime.fromisoformat(moment)
    try:
        pay(db, customer, order_id)
    finally:
        db.clock = None


def invoices(db) -> list[tuple[int, int, int]]:
    with db.transaction() as cur:
        cur.execute("SELECT order_id, series_year, number FROM invoices ORDER BY number")
        return [(r["order_id"], r["series_year"], r["number"]) for r in cur.fetchall()]


def test_each_line_keeps_the_rate_it_was_sold_at_and_its_share_of_the_iva(db, store, make_product, make_user):
    book = make_product(name="Libro", price="19.95", stock=5, tax_class="super_reduced")
    mug = make_product(name="Taza", price="10.00", stock=5)
    order_id = place(db, store, make_user(), (mug, 3), (book, 1))
    items = {item.product_name: item for item in db.orders.get(order_id).items}
    assert (items["Taza"].tax_rate, items["Libro"].tax_rate) == (Decimal("21.00"), Decimal("4.00"))
    shares, _ = split_tax([(Decimal(21), Decimal("30.00")), (Decimal(4), Decimal("19.95"))])
    assert [items["Taza"].tax_amount, items["Libro"].tax_amount] == shares == [Decimal("5.21"), Decimal("0.77")]
    # a rate changed in the configuration applies to new orders only
    later = checkout.place_order(db, store,
                                 CheckoutRequest(make_user().user_id, [(str(mug["_id"]), 1)], str(uuid.uuid4())),
                                 CheckoutPolicy(tax_rates={**DEFAULT_RATES, "general": Decimal("22")})).order_id
    assert db.orders.get(later).items[0].tax_rate == Decimal("22.00")
    assert db.orders.get(order_id).items[0].tax_rate in (Decimal("21.00"), Decimal("4.00"))


def test_a_paid_order_gets_the_next_invoice_number_and_an_unpaid_one_none(db, store, make_product, make_user):
    product = make_product(stock=10)
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    first, second, unpaid = (place(db, store, customer, (product, 1)) for _ in range(3))
    pay(db, customer, first)
    orders.mark_paid(db, admin, second)  # a bank transfer recorded by staff: invoiced the same way
    orders.mark_shipped(db, admin, first)
    assert [(o, n) for o, _, n in invoices(db)] == [(first, 1), (second, 2)]
    assert db.orders.get(unpaid).invoice is None


def test_a_payment_that_rolls_back_gives_its_invoice_number_back(db, store, make_product, make_user):
    product = make_product(stock=10)
    customer = make_user()
    first, second = place(db, store, customer, (product, 1)), place(db, store, customer, (product, 1))
    with pytest.raises(RuntimeError), db.orders.locked(first) as locked:
        locked.set_status(OrderStatus.PAID, None, "never committed", Reason.PAYMENT)
        raise RuntimeError("the payment failed after the status change")
    pay(db, customer, second)
    assert [(o, n) for o, _, n in invoices(db)] == [(second, 1)]


def test_concurrent_payments_take_consecutive_invoice_numbers_without_gaps(db, store, make_product, make_user):
    product = make_product(stock=100)
    customers = [make_user() for _ in range(16)]
    placed = [(c, place(db, store, c, (product, 1))) for c in customers]
    barrier, errors = threading.Barrier(len(placed)), []

    def pay_at_once(customer, order_id):
        try:
            barrier.wait(10)
            pay(db, customer, order_id)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=pay_at_once, args=pair) for pair in placed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    issued = invoices(db)
    assert sorted(n for _, _, n in issued) == list(range(1, 17))
    assert sorted(o for o, _, _ in issued) == sorted(o for _, o in placed)


def test_the_invoice_page_shows_seller_lines_and_iva_per_rate_to_its_customer_only(client, auth, db, store,
                                                                                  make_product, make_user):
    book = make_product(name="Don Quijote", price="19.95", stock=5, tax_class="super_reduced")
    mug = make_product(name="Taza", price="10.00", stock=5)
    customer = make_user(email="ana@example.com")
    make_user(email="otra@example.com")
    order_id = place(db, store, customer, (mug, 3), (book, 1))
    auth.login("ana@example.com")
    assert client.get(f"/orders/{order_id}/invoice").status_code == 404  # not paid yet: no invoice
    detail = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "IVA incluido al 21 % sobre una base de 24,79" in detail and "5,21" in detail
    assert "IVA incluido al 4 % sobre una base de 19,18" in detail
    pay(db, customer, order_id)
    page = client.get(f"/orders/{order_id}/invoice").get_data(as_text=True)
    assert "Factura simplificada" in page and "FS-20" in page and "-000001" in page
    assert "Tienda Híbrida S.L." in page and "B00000000" in page
    rates = page.split('data-testid="invoice-taxes"')[1]
    assert "24,79" in rates and "5,21" in rates and "19,18" in rates and "0,77" in rates and "49,95" in rates
    assert 'data-testid="invoice-link"' in client.get(f"/orders/{order_id}").get_data(as_text=True)
    auth.logout()
    auth.login("otra@example.com")
    assert client.get(f"/orders/{order_id}/invoice").status_code == 404  # someone else's: not found


def test_staff_set_a_products_tax_class(client, auth, store, make_product, make_user):
    product = make_product(name="Atlas", price="30.00", stock=2)
    make_user(role=Role.ADMIN, email="admin@example.com")
    auth.login("admin@example.com")
    page = f"/admin/products/{product['_id']}"
    html = client.get(page).get_data(as_text=True)
    assert "Superreducido (4 %)" in html
    revision = html.split('name="revision" value="')[1].split('"')[0]
    form = {"csrf_token": csrf_token_from(html), "name": "Atlas", "category": "Libros", "price": "30,00",
            "description": "", "attributes": "{}", "tax_class": "super_reduced", "revision": revision}
    assert client.post(page, data=form).status_code == 303
    assert store.products.find_one({"_id": product["_id"]})["tax_class"] == "super_reduced"
    assert client.post(page, data={**form, "tax_class": "luxury"}).status_code == 400


@pytest.mark.parametrize("paid_at_utc, series, madrid_day", [
    ("2026-12-31T22:59:00+00:00", 2026, "2026-12-31"),  # 23:59 in Madrid
    ("2026-12-31T23:30:00+00:00", 2027, "2027-01-01"),  # 00:30 on New Year's Day in Madrid
])
def test_an_invoice_takes_the_year_and_date_of_madrid_not_of_utc(db, store, make_product, make_user, paid_at_utc,
                                                                 series, madrid_day):
    from zoneinfo import ZoneInfo

    customer = make_user()
    order_id = place(db, store, customer, (make_product(stock=2), 1))
    pay_at(db, customer, order_id, paid_at_utc)
    invoice = db.orders.get(order_id).invoice
    assert (invoice.series_year, invoice.number) == (series, 1)
    assert invoice.issued_at.astimezone(ZoneInfo("Europe/Madrid")).date().isoformat() == madrid_day


def test_the_shops_time_zone_decides_the_series_year(db, store, make_product, make_user):
    customer = make_user()
    order_id = place(db, store, customer, (make_product(stock=2), 1))
    db.time_zone = "Atlantic/Canary"
    try:
        pay_at(db, customer, order_id, "2026-12-31T23:30:00+00:00")  # 23:30 in the Canaries: still the old year
    finally:
        db.time_zone = "Europe/Madrid"
    assert db.orders.get(order_id).invoice.series_year == 2026


@pytest.mark.parametrize("paid_at_utc, shown", [
    ("2026-10-24T22:30:00+00:00", "25 de octubre de 2026"),  # summer time (UTC+2) still, that night
    ("2026-10-25T22:30:00+00:00", "25 de octubre de 2026"),  # winter time (UTC+1) from 03:00 that day
    ("2026-03-28T23:30:00+00:00", "29 de marzo de 2026"),  # winter time until 02:00 on the 29th
])
def test_the_invoice_page_and_pdf_date_it_in_madrid_across_the_clock_changes(client, auth, db, store, make_product,
                                                                             make_user, paid_at_utc, shown):
    from tests.integration.test_invoice_pdf import _text

    customer = make_user(email="ana@example.com")
    order_id = place(db, store, customer, (make_product(stock=2), 1))
    pay_at(db, customer, order_id, paid_at_utc)
    auth.login("ana@example.com")
    assert shown in client.get(f"/orders/{order_id}/invoice").get_data(as_text=True)
    assert shown in _text(client.get(f"/orders/{order_id}/invoice.pdf").data)
