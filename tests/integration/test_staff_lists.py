"""The staff lists at volume, on the real databases: keyset pages that never skip or repeat a row,
an index serving every list's filter in order, and the audit log's filter index kept equal to the
chain it projects (caught up, rebuilt after a restore)."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
from dataclasses import replace

import pytest

from shop.adapters.postgres.staff_lists import audit_query, orders_query, payments_query
from shop.domain.audit import AuditEvent
from shop.domain.filters import AuditFilter, OrderFilter, PaymentFilter, RowPosition
from shop.domain.orders import OrderStatus
from shop.services import staff_lists
from shop.services.audit import AuditLog
from shop.services.checkout import CheckoutRequest
from tests.payments import pay

STATUSES = ["pending", "paid", "shipped", "cancelled", "failed"]


def add_orders(db, user_id: int, n: int, *, at: dt.datetime | None = None) -> None:
    """n orders with random statuses; `at` gives them all one time (ties broken by number)."""
    with db.transaction() as cur:
        cur.execute(
            """INSERT INTO orders (user_id, total_amount, status, created_at, idempotency_key, request_hash)
               SELECT %(user)s, 10, (%(statuses)s::text[])[1 + (random() * 4)::int],
                      coalesce(%(at)s, now() - random() * interval '400 days'), gen_random_uuid(), repeat('0', 64)
               FROM generate_series(1, %(n)s)""",
            {"user": user_id, "n": n, "at": at, "statuses": STATUSES})
        cur.execute("""INSERT INTO payments (order_id, amount, status, method, created_at)
                       SELECT order_id, 10, CASE WHEN status = 'failed' THEN 'declined' ELSE 'succeeded' END,
                              'card', created_at
                       FROM orders o WHERE status <> 'pending'
                         AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.order_id)""")


def walk(list_function, db, first_filter, *, between_pages=None):
    """Every row of a list, following its "next" links; `between_pages` runs before each next page."""
    seen, listing, current = [], list_function(db, first_filter), first_filter
    seen += listing.items
    while listing.has_next:
        if between_pages:
            between_pages()
        current = replace(current, after=listing.next_position, before=None)
        listing = list_function(db, current)
        seen += listing.items
    return seen


def test_the_orders_list_never_skips_or_repeats_an_order_while_orders_arrive(db, make_user):
    customer = make_user()
    add_orders(db, customer.user_id, 120)
    add_orders(db, customer.user_id, 30, at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))  # one time, many ties
    with db.transaction() as cur:
        cur.execute("SELECT order_id FROM orders ORDER BY created_at DESC, order_id DESC")
        expected = [row["order_id"] for row in cur.fetchall()]

    seen = walk(staff_lists.list_orders, db, OrderFilter(per_page=7),
                between_pages=lambda: add_orders(db, customer.user_id, 3, at=dt.datetime.now(dt.UTC)))
    assert [row.order_id for row in seen] == expected  # newer orders appear on page 1, not mid-walk


def test_each_orders_filter_pages_through_exactly_its_matches(db, make_user):
    customer, other = make_user(), make_user()
    add_orders(db, customer.user_id, 80)
    add_orders(db, other.user_id, 40)
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=200)).date()
    for order_filter, where, params in [
        (OrderFilter(status=OrderStatus.CANCELLED, per_page=4), "status = 'cancelled'", {}),
        (OrderFilter(email=other.email, per_page=6), "user_id = %(other)s", {}),
        (OrderFilter(status=OrderStatus.PAID, start=since, per_page=5),
         "status = 'paid' AND created_at >= %(since)s", {}),
    ]:
        with db.transaction() as cur:
            cur.execute(f"SELECT order_id FROM orders WHERE {where} ORDER BY created_at DESC, order_id DESC",  # noqa: S608
                        {"other": other.user_id, "since": dt.datetime.combine(since, dt.time(), dt.UTC),
                         **params})
            expected = [row["order_id"] for row in cur.fetchall()]
        assert [row.order_id for row in walk(staff_lists.list_orders, db, order_filter)] == expected
        assert staff_lists.list_orders(db, order_filter).total == len(expected)


def test_a_previous_link_shows_the_page_that_was_left(db, make_user):
    add_orders(db, make_user().user_id, 25)
    first = staff_lists.list_orders(db, OrderFilter(per_page=10))
    second = staff_lists.list_orders(db, OrderFilter(per_page=10, after=first.next_position))
    third = staff_lists.list_orders(db, OrderFilter(per_page=10, after=second.next_position))
    back = staff_lists.list_orders(db, OrderFilter(per_page=10, before=third.previous_position))
    assert back.items == second.items and back.has_previous
    assert staff_lists.list_orders(db, OrderFilter(per_page=10, before=second.previous_position)).items == first.items
    assert not third.has_next and len(third.items) == 5


def test_the_payments_list_pages_through_every_attempt(db, make_user):
    add_orders(db, make_user().user_id, 60)
    with db.transaction() as cur:
        cur.execute("SELECT payment_id FROM payments WHERE status = 'declined' "
                    "ORDER BY created_at DESC, payment_id DESC")
        declined = [row["payment_id"] for row in cur.fetchall()]
    seen = walk(staff_lists.list_payments, db, PaymentFilter(status="declined", per_page=3))
    assert [row.payment_id for row in seen] == declined


def test_totals_are_exact_up_to_a_thousand_then_say_more(db, make_user):
    add_orders(db, make_user().user_id, 1005)
    listing = staff_lists.list_orders(db, OrderFilter())
    assert (listing.total, listing.total_is_exact) == (1000, False)
    cancelled = staff_lists.list_orders(db, OrderFilter(status=OrderStatus.CANCELLED))
    assert cancelled.total_is_exact and cancelled.total < 1000


# --- every list query is served by an index, in order ------------------------------------------------

def _plan(db, sql: str, params: dict) -> str:
    with db.transaction() as cur:
        # Discouraged, not forbidden: with no index that serves the filter in the list's order the
        # plan still scans the table or sorts (the test tables are too small for costs to decide).
        for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan"):
            cur.execute(f"SET LOCAL {setting} = off")
        cur.execute("EXPLAIN " + sql, params)
        return "\n".join(row["QUERY PLAN"] for row in cur.fetchall())


NO_ORDER_FILTER = {"status": None, "email": None, "order_id": None, "since": None, "until": None}
NO_AUDIT_FILTER = {"actor_id": None, "action": None, "target": None, "since": None, "until": None}
JAN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("statement", [
    orders_query(NO_ORDER_FILTER, None, None, 51),
    orders_query({**NO_ORDER_FILTER, "status": "paid"}, RowPosition("orders", 5, JAN), None, 51),
    orders_query({**NO_ORDER_FILTER, "email": "ana@example.com"}, None, None, 51),
    orders_query({**NO_ORDER_FILTER, "since": JAN - dt.timedelta(days=60), "until": JAN}, None,
                 RowPosition("orders", 5, JAN - dt.timedelta(days=9)), 51),
    payments_query({"status": "declined", "since": None, "until": None}, None, None, 51),
    payments_query({"status": None, "since": None, "until": None}, RowPosition("payments", 9, JAN), None, 51),
    audit_query({**NO_AUDIT_FILTER, "actor_id": 3}, None, None, 101),
    audit_query({**NO_AUDIT_FILTER, "action": "login.failed"}, RowPosition("audit", 500, JAN), None, 101),
    audit_query({**NO_AUDIT_FILTER, "since": JAN - dt.timedelta(days=30), "until": JAN}, None, None, 101),
    audit_query({**NO_AUDIT_FILTER, "action": "order.paid", "since": JAN - dt.timedelta(days=30), "until": JAN},
                RowPosition("audit", 500, JAN - dt.timedelta(days=3)), None, 101),
    audit_query({**NO_AUDIT_FILTER, "target": "order:4"}, None, None, 101),
    audit_query({**NO_AUDIT_FILTER, "action": "order.placed"}, RowPosition("audit", 500, JAN), None, 1000,
                ascending=True),
], ids=["orders", "orders by status, next page", "orders of a customer", "orders in dates, previous page",
        "payments by status", "payments, next page", "audit by actor", "audit by action, next page",
        "audit in dates", "audit by action in dates, next page", "audit by target", "audit export by action"])
def test_every_list_query_reads_an_index_in_the_lists_order(db, statement):
    plan = _plan(db, *statement)
    assert "Seq Scan" not in plan and "Sort" not in plan, plan
    assert "Index" in plan, plan


# --- the audit log's filter index ----------------------------------------------------------------------

ACTIONS = ["login.failed", "order.placed", "order.paid", "product.updated", "user.updated"]


def _record(audit_log: AuditLog, rng: random.Random, n: int) -> None:
    for _ in range(n):
        action = rng.choice(ACTIONS)
        target = rng.choice([None, f"order:{rng.randint(1, 5)}", f"user:{rng.randint(1, 3)}"])
        audit_log.record(AuditEvent(action, target, actor_id=rng.choice([None, 1, 2, 3])))
    audit_log.flush_spool()


def _recount(store, **criteria) -> list[int]:
    """The matching sequence numbers, newest first, read from the whole chain (the reference)."""
    return [e["seq"] for e in store.audit_logs.find({}, {"_id": 0}).sort("seq", -1)
            if all(e.get(key) == value for key, value in criteria.items())]


def _filtered(db, store, **criteria) -> list[int]:
    audit_filter = AuditFilter(actor_id=criteria.get("actor_id"), action=criteria.get("action"),
                               target=criteria.get("target"), per_page=7)

    def read(d, f):
        return staff_lists.read_audit_page(d, d, store, f, store.audit.head_mark())[0]

    return [e.seq for e in walk(read, db, audit_filter)]


def test_the_audit_filter_index_answers_what_a_recount_of_the_chain_does(db, store, tmp_path):
    rng = random.Random(7)
    audit_log = AuditLog(store, tmp_path / "spool")
    _record(audit_log, rng, 60)
    for criteria in ({"action": "login.failed"}, {"actor_id": 2}, {"target": "order:3"},
                     {"action": "order.paid", "actor_id": 1}):
        _record(audit_log, rng, 5)  # more entries between the views: each view catches up first
        assert _filtered(db, store, **criteria) == _recount(store, **criteria), criteria
    assert db.lists.audit_actions() == sorted({e["action"] for e in store.audit_logs.find({})})
    exported = list(staff_lists.export_audit_entries(db, store, AuditFilter(action="order.placed")))
    assert [e.seq for e in exported] == _recount(store, action="order.placed")[::-1]


def test_a_restored_audit_log_makes_its_filter_index_start_over(db, store, tmp_path):
    audit_log = AuditLog(store, tmp_path / "spool")
    for i in range(8):
        audit_log.record(AuditEvent("order.placed", f"order:{i}"))
    audit_log.flush_spool()
    assert staff_lists.catch_up_audit_index(db, store) == 8
    # As after restoring an older backup, then new events: the same seq numbers, other entries.
    store.audit_logs.delete_many({"seq": {"$gt": 3}})
    store.audit_head.delete_one({"_id": "chain"})
    for i in range(6):
        audit_log.record(AuditEvent("login.failed", f"user:{i}"))
    audit_log.flush_spool()
    assert _filtered(db, store, action="order.placed") == [3, 2, 1]
    assert _filtered(db, store, action="login.failed") == _recount(store, action="login.failed")
    # A log that is shorter than the index (restored, nothing new yet) is noticed too.
    store.audit_logs.delete_many({"seq": {"$gt": 2}})
    store.audit_head.delete_one({"_id": "chain"})
    assert _filtered(db, store, action="login.failed") == []
    assert db.lists.audit_index_state()[0] == 2


def test_concurrent_catch_ups_index_each_entry_once(db, store, tmp_path):
    audit_log = AuditLog(store, tmp_path / "spool")
    for i in range(2500):
        audit_log.record(AuditEvent("order.placed", f"order:{i}"))
    audit_log.flush_spool()
    errors = []

    def catch_up():
        try:
            staff_lists.catch_up_audit_index(db, store)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=catch_up) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    staff_lists.catch_up_audit_index(db, store)  # whatever a losing thread left
    assert not errors
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM audit_index")
        assert dict(cur.fetchone()) == {"n": 2500, "d": 2500, "lo": 1, "hi": 2500}
    assert db.lists.audit_index_state()[0] == 2500


def test_the_flusher_indexes_what_it_appends_so_catching_up_reads_nothing_again(db, store, tmp_path):
    audit_log = AuditLog(store, tmp_path / "spool", index=db.lists)
    _record(audit_log, random.Random(5), 40)
    assert db.lists.audit_index_state()[0] == 40
    assert staff_lists.catch_up_audit_index(db, store) == 0  # nothing read from the chain
    assert _filtered(db, store, action="order.paid") == _recount(store, action="order.paid")


def test_entries_the_flusher_could_not_index_are_caught_up_from_the_chain(db, store, tmp_path):
    class Down:
        def add_audit_entries(self, entries):
            raise ConnectionError("PostgreSQL is down")

    _record(AuditLog(store, tmp_path / "spool", index=db.lists), random.Random(8), 5)
    _record(AuditLog(store, tmp_path / "spool", index=Down()), random.Random(9), 7)  # the chain still grows
    _record(AuditLog(store, tmp_path / "spool", index=db.lists), random.Random(10), 4)  # indexed, not contiguous
    assert db.lists.audit_index_state()[0] == 5
    assert staff_lists.catch_up_audit_index(db, store) == 7  # only the seven missing ones are read
    assert db.lists.audit_index_state()[0] == 16
    assert _filtered(db, store, actor_id=2) == _recount(store, actor_id=2)


def test_the_recovery_pass_catches_up_the_audit_filter_index(db, store, tmp_path):
    from shop.services.recovery import recover

    audit_log = AuditLog(store, tmp_path / "spool")
    audit_log.record(AuditEvent("order.placed", "order:1"))
    audit_log.flush_spool()
    assert recover(db, store).audit_indexed == 1
    assert db.lists.audit_index_state()[0] == 1


# --- the dashboard's low-stock list ----------------------------------------------------------------------

def test_the_low_stock_list_equals_a_recount_after_sales_cancellations_and_restocks(db, store, make_product,
                                                                                   make_user):
    import uuid

    from shop.domain.errors import Conflict
    from shop.services import catalog, checkout, orders, reports
    from shop.services.recovery import recover

    rng = random.Random(3)
    products = [make_product(name=f"Producto {i:02d}", stock=rng.randint(0, 8)) for i in range(30)]
    customer = make_user()
    for _ in range(40):
        product = rng.choice(products)
        action = rng.random()
        if action < 0.6:
            try:
                placed = checkout.place_order(db, store,
                                              CheckoutRequest(customer.user_id, [(str(product["_id"]), 1)],
                                                              str(uuid.uuid4()))).order_id
            except Conflict:  # out of stock: refused, nothing changed
                pass
            else:
                if rng.random() < 0.3:
                    orders.cancel_order(db, store, customer, placed)
        else:
            with contextlib.suppress(Conflict):  # below zero: refused, nothing changed
                catalog.adjust_stock(store, str(product["_id"]), rng.randint(-2, 4), "recuento")
        if rng.random() < 0.2:
            recover(db, store)
    recover(db, store)

    def recount(threshold):
        docs = store.products.find({"stock": {"$lte": threshold}, "deleted_at": {"$exists": False}})
        return sorted((doc["stock"], doc["name"]) for doc in docs)

    for threshold in (0, 2, 5):
        listed = reports.low_stock(db, store, threshold)
        assert [(p.stock, p.name) for p in listed] == recount(threshold), threshold
    # Every change recorded: only products with a marker still in flight (a cancellation's return
    # marker is kept an hour) stay marked.
    for level in store.stock.marked_levels():
        assert not level.clear


def test_a_product_restocked_after_its_stock_was_read_stays_marked_for_the_next_pass(db, store, make_product):
    from shop.services import catalog, reports
    from shop.services.recovery import recover

    product = make_product(name="Tetera", stock=1)
    product_id = str(product["_id"])
    catalog.adjust_stock(store, product_id, -1, "rotura")
    [level] = store.stock.marked_levels()
    assert (level.stock, level.clear) == (0, True)
    catalog.adjust_stock(store, product_id, 9, "compra")  # between the pass's read and its unmark
    assert not store.stock.unmark(level)
    recover(db, store)
    assert reports.low_stock(db, store, 5) == [] and store.stock.marked_levels() == []


def test_a_size_running_low_puts_its_product_on_the_low_stock_list_whatever_the_others_hold(
        db, store, make_sized_product):
    from shop.services import catalog, reports
    from shop.services.recovery import recover

    shirt = make_sized_product(sizes={"S": ("CAM-S", 40), "M": ("CAM-M", 9), "L": ("CAM-L", 30)})
    assert reports.low_stock(db, store, 5) == []
    catalog.adjust_stock(store, str(shirt["_id"]), -7, "rotura", variant="v2")
    [level] = store.stock.marked_levels()
    assert (level.stock, level.listed) == (72, 2)
    catalog.adjust_stock(store, str(shirt["_id"]), 1, "hallada", variant="v1")  # another size, same total+1
    assert not store.stock.unmark(level)
    recover(db, store)
    [listed] = reports.low_stock(db, store, 5)
    assert listed.name == "Camiseta" and [v.sku for v in listed.low_variants(5)] == ["CAM-M"]
    assert store.stock.marked_levels() == []


def test_the_dashboards_daily_totals_equal_a_recount_of_the_orders(db, store, make_product, make_user):
    import uuid

    from shop.domain.accounts import Role
    from shop.services import checkout, orders, reports

    rng = random.Random(21)
    products = [make_product(name=f"Artículo {i}", stock=100, price=f"{5 + i}.50") for i in range(6)]
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    for _ in range(30):
        lines = [(str(p["_id"]), rng.randint(1, 3)) for p in rng.sample(products, rng.randint(1, 3))]
        order_id = checkout.place_order(db, store, CheckoutRequest(customer.user_id, lines, str(uuid.uuid4()))).order_id
        roll = rng.random()
        if roll < 0.4:
            pay(db, customer, order_id)
        elif roll < 0.6:
            orders.mark_paid(db, admin, order_id)
            orders.mark_shipped(db, admin, order_id)
        elif roll < 0.8:
            orders.cancel_order(db, store, customer, order_id)
    with db.transaction() as cur:
        cur.execute("""SELECT count(*) AS orders, sum(total_amount) AS revenue FROM orders
                       WHERE status IN ('paid', 'shipped')""")
        expected = cur.fetchone()
        cur.execute("""SELECT i.product_id, sum(i.quantity) AS units FROM order_items i JOIN orders o USING (order_id)
                       WHERE o.status IN ('paid', 'shipped') GROUP BY 1""")
        units = {row["product_id"]: row["units"] for row in cur.fetchall()}
    today = reports.dashboard(db, store, 5)
    assert sum(day.orders for day in today.sales) == expected["orders"] > 0
    assert today.revenue == expected["revenue"]
    assert {p.product_id: p.units for p in today.top_products} == units


def test_the_users_list_pages_through_every_account_once(db, make_user):
    from shop.domain.filters import UserFilter

    made = [make_user().user_id for _ in range(13)]
    seen = walk(staff_lists.list_users, db, UserFilter(per_page=5))
    assert [user.user_id for user in seen] == made
    first = staff_lists.list_users(db, UserFilter(per_page=5))
    second = staff_lists.list_users(db, UserFilter(per_page=5, after=first.next_position))
    assert staff_lists.list_users(db, UserFilter(per_page=5, before=second.previous_position)).items == first.items
    customers = staff_lists.list_users(db, UserFilter(role="customer", per_page=50))
    assert customers.total == 13 and customers.total_is_exact
