"""The staff consoles on the real databases: admins change things (recorded in the audit log),
auditors see the same pages and can change nothing."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid

import pytest

from shop.domain.accounts import Role
from shop.services import checkout
from shop.services.checkout import CheckoutRequest
from shop.web.extensions import get_audit_log
from tests.conftest import csrf_token_from
from tests.payments import pay


def flushed_entries(app, store, **criteria):
    with app.app_context():
        get_audit_log().flush_spool()
    return list(store.audit_logs.find(criteria, {"_id": 0}).sort("seq", 1))


def post(client, page_url, url, **data):
    """A form POST with the CSRF token of the page that shows the form."""
    token = csrf_token_from(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


@pytest.fixture
def auditor(auth, make_user):
    user = make_user(role=Role.AUDITOR, email="auditor@example.com", name="Aurelio Auditor")
    auth.login("auditor@example.com")
    return user


def place(db, store, user, product, quantity=1):
    return checkout.place_order(db, store,
                                CheckoutRequest(user.user_id, [(str(product["_id"]), quantity)],
                                                str(uuid.uuid4()))).order_id


# --- products -------------------------------------------------------------------------------------

NEW_PRODUCT = {"name": "Mochila Trekking 40L", "category": "Montaña", "price": "89,90", "stock": "7",
               "description": "Ligera", "attributes": '{"capacity_l": 40, "waterproof": true, '
                                                      '"colors": ["rojo", "azul"], "size": {"height_cm": 60}}'}


def test_an_admin_creates_a_product_with_typed_nested_attributes(client, admin, store, app):
    response = post(client, "/admin/products/new", "/admin/products/new", **NEW_PRODUCT)
    assert response.status_code == 303
    doc = store.products.find_one({"name": "Mochila Trekking 40L"})
    assert doc["attributes"] == {"capacity_l": 40, "waterproof": True, "colors": ["rojo", "azul"],
                                 "size": {"height_cm": 60}}
    assert str(doc["price"]) == "89.90" and doc["stock"] == 7
    [entry] = flushed_entries(app, store, action="product.created")
    assert entry["target"] == f"product:{doc['_id']}" and entry["actor_id"] == admin.user_id
    assert entry["details"]["after"]["attributes"]["size"] == {"height_cm": 60}
    html = client.get(f"/products/{doc['_id']}").get_data(as_text=True)
    assert "Mochila Trekking 40L" in html and "Capacity" in html


def test_a_bad_attribute_is_refused_and_the_form_keeps_what_was_typed(client, admin, store):
    response = post(client, "/admin/products/new", "/admin/products/new",
                    **{**NEW_PRODUCT, "attributes": '{"Color": "rojo"}'})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Color" in html and "Mochila Trekking 40L" in html
    assert store.products.count_documents({}) == 0


def test_every_wrong_field_of_the_product_form_is_marked_at_once(client, admin, store):
    response = post(client, "/admin/products/new", "/admin/products/new",
                    **{**NEW_PRODUCT, "name": "", "price": "gratis", "stock": "muchos"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field in ("name", "price", "stock"):
        assert f'aria-describedby="{field}-error"' in page and f'id="{field}-error"' in page
    assert page.count('data-testid="field-error"') == 3
    assert store.products.count_documents({}) == 0


def test_a_category_like_an_existing_one_is_a_slip_until_new_category_is_ticked(client, admin, make_product,
                                                                               store):
    make_product(category="Montaña")
    slip = post(client, "/admin/products/new", "/admin/products/new", **{**NEW_PRODUCT, "category": "montana"})
    assert slip.status_code == 400
    assert "montana se parece a Montaña" in html.unescape(slip.get_data(as_text=True))
    assert '<option value="Montaña">' in slip.get_data(as_text=True)  # offered in the list
    assert store.products.count_documents({"category": "montana"}) == 0
    ticked = post(client, "/admin/products/new", "/admin/products/new",
                  **{**NEW_PRODUCT, "category": "montana", "new_category": "1"})
    assert ticked.status_code == 303
    assert post(client, "/admin/products/new", "/admin/products/new",
                **{**NEW_PRODUCT, "category": "Ropa de playa"}).status_code == 303  # new and like none


def test_an_edit_records_before_and_after_and_never_touches_the_stock(client, admin, make_product, store, app):
    product = make_product(name="Taza", price="5.00", stock=9, attributes={"material": "cerámica"})
    url = f"/admin/products/{product['_id']}"
    page = client.get(url).get_data(as_text=True)
    revision = re.search(r'name="revision" value="([^"]+)"', page).group(1)
    response = post(client, url, url, name="Taza grande", category="Pruebas", price="6.50", description="",
                    attributes='{"material": "cerámica", "capacity_ml": 450}', revision=revision)
    assert response.status_code == 303
    doc = store.products.find_one({"_id": product["_id"]})
    assert doc["name"] == "Taza grande" and doc["stock"] == 9 and doc["attributes"]["capacity_ml"] == 450
    [entry] = flushed_entries(app, store, action="product.updated")
    assert entry["details"]["changes"]["name"] == ["Taza", "Taza grande"]
    assert entry["details"]["changes"]["price"] == ["5.00", "6.50"]
    assert "stock" not in entry["details"]["changes"]


def test_an_edit_made_on_a_stale_form_is_refused(client, admin, make_product, store):
    product = make_product(name="Taza")
    url = f"/admin/products/{product['_id']}"
    revision = re.search(r'name="revision" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)
    fields = {"category": "Pruebas", "price": "5.00", "description": "", "attributes": "{}", "revision": revision}
    assert post(client, url, url, name="Primera edición", **fields).status_code == 303
    second = post(client, url, url, name="Segunda edición", **fields)
    assert second.status_code == 409
    assert store.products.find_one({"_id": product["_id"]})["name"] == "Primera edición"


def test_stock_adjustments_are_atomic_bounded_and_recorded(client, admin, make_product, store, app):
    product = make_product(name="Linterna", stock=3)
    url = f"/admin/products/{product['_id']}"
    assert post(client, url, f"{url}/stock", delta="+10", reason="Entrega del proveedor").status_code == 303
    refused = post(client, url, f"{url}/stock", delta="-14", reason="Rotas")
    assert refused.status_code == 409 and "13" in refused.get_data(as_text=True)
    assert post(client, url, f"{url}/stock", delta="-13", reason="Inventario").status_code == 303
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 0
    entries = flushed_entries(app, store, action="stock.adjusted")
    assert [(e["details"]["before"], e["details"]["after"], e["details"]["reason"]) for e in entries] == [
        (3, 13, "Entrega del proveedor"), (13, 0, "Inventario")]
    assert "Entrega del proveedor" in client.get(url).get_data(as_text=True)  # the product's history


def test_a_product_never_ordered_is_deleted_and_an_ordered_one_is_archived(client, admin, db, store, make_product,
                                                                          make_user, app):
    unsold = make_product(name="Nunca vendido")
    sold = make_product(name="Vendido", stock=5)
    place(db, store, make_user(), sold)
    asked = post(client, "/admin/products/", f"/admin/products/{unsold['_id']}/delete")
    assert asked.status_code == 200 and store.products.find_one({"_id": unsold["_id"]}) is not None  # asks first
    assert post(client, "/admin/products/", f"/admin/products/{unsold['_id']}/delete", confirm="yes").status_code == 303
    assert store.products.find_one({"_id": unsold["_id"]}) is None
    assert post(client, "/admin/products/", f"/admin/products/{sold['_id']}/delete", confirm="yes").status_code == 303
    archived = store.products.find_one({"_id": sold["_id"]})
    assert archived is not None and "deleted_at" in archived
    assert client.get(f"/products/{sold['_id']}").status_code == 404  # not sold any more …
    assert "Vendido" not in client.get("/").get_data(as_text=True)
    assert "Vendido" in client.get("/admin/products/?archived=1").get_data(as_text=True)  # … but kept
    assert [e["action"] for e in flushed_entries(app, store, action={"$in": ["product.deleted", "product.archived"]})] \
        == ["product.deleted", "product.archived"]
    assert post(client, "/admin/products/", f"/admin/products/{sold['_id']}/restore").status_code == 303
    assert client.get(f"/products/{sold['_id']}").status_code == 200


def test_an_archived_product_cannot_be_bought(db, store, make_product, make_user):
    product = make_product(stock=5)
    store.catalog.archive(str(product["_id"]))
    with pytest.raises(Exception) as error:
        place(db, store, make_user(), product)
    assert "no longer exists" in error.value.template
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 5


# --- orders ---------------------------------------------------------------------------------------

def test_an_admin_lists_filters_and_moves_orders_through_their_lifecycle(client, admin, db, store, make_product,
                                                                        make_user, app):
    product = make_product(stock=10)
    ana, bea = make_user(email="ana@example.com"), make_user(email="bea@example.com")
    first, second = place(db, store, ana, product, 2), place(db, store, bea, product, 3)
    listing = client.get("/admin/orders/?email=ana@example.com").get_data(as_text=True)
    assert f"#{first}" in listing and f"#{second}" not in listing
    detail = f"/orders/{first}"
    buttons = re.findall(r'action="(/admin/orders/\d+/\w+)"', client.get(detail).get_data(as_text=True))
    assert buttons == [f"/admin/orders/{first}/paid", f"/admin/orders/{first}/cancel"]  # what "pending" allows
    assert post(client, detail, f"/admin/orders/{first}/paid").status_code == 303
    assert post(client, detail, f"/admin/orders/{first}/shipped").status_code == 400  # no carrier, no tracking
    assert post(client, detail, f"/admin/orders/{first}/shipped", carrier="Correos",
                tracking_number="<script>").status_code == 400
    assert post(client, detail, f"/admin/orders/{first}/shipped", carrier="Correos",
                tracking_number="PK-4471 0093 ES").status_code == 303
    shipped = db.orders.get(first)
    assert (shipped.status, shipped.carrier, shipped.tracking_number) == ("shipped", "Correos",
                                                                                   "PK-4471 0093 ES")
    page = client.get(detail).get_data(as_text=True)
    assert "Enviado con Correos, número de seguimiento PK-4471 0093 ES" in page
    assert ('href="https://www.correos.es/es/es/herramientas/localizador/envios/detalle?'
            'tracking-number=PK-4471%200093%20ES"') in page
    assert post(client, detail, f"/admin/orders/{first}/cancel").status_code == 409  # shipped: too late
    assert post(client, f"/orders/{second}", f"/admin/orders/{second}/cancel").status_code == 303
    assert post(client, f"/orders/{second}", f"/admin/orders/{second}/cancel").status_code == 409
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 8  # the 3 came back exactly once
    assert 'data-testid="order-count">0<' in client.get("/admin/orders/?status=pending").get_data(as_text=True)
    actions = [e["action"] for e in flushed_entries(app, store, actor_id=admin.user_id)]
    assert actions.count("order.paid") == 1 and actions.count("order.cancelled") == 1
    manual = db.orders.get(first).payments
    assert [(p.method, p.status) for p in manual] == [("manual", "succeeded")]


def test_bad_order_filters_get_a_clear_400(client, admin):
    response = client.get("/admin/orders/?status=lost")
    assert response.status_code == 400 and "estado" in response.get_data(as_text=True).lower()


# --- users ----------------------------------------------------------------------------------------

def test_an_admin_creates_staff_and_changes_roles_with_an_audit_trail(client, admin, db, app, store):
    response = post(client, "/admin/users/", "/admin/users/", email="Audi@Example.com", full_name="Audi Tora",
                    password="correct horse battery", role="auditor")
    assert response.status_code == 303
    [created], _ = db.users.find(email="audi@example.com")
    assert created.role is Role.AUDITOR
    post(client, "/admin/users/", f"/admin/users/{created.user_id}/role", role="admin")
    assert db.users.get(created.user_id).role is Role.ADMIN
    entries = flushed_entries(app, store, target=f"user:{created.user_id}")
    assert [(e["action"], e["details"].get("after")) for e in entries] == [("user.created", None),
                                                                          ("user.role_changed", "admin")]


def test_a_deactivated_user_is_logged_out_and_cannot_log_in(app, admin, client, make_user, db):
    make_user(email="cliente@example.com")
    customer = app.test_client()
    token = csrf_token_from(customer.get("/auth/login").get_data(as_text=True))
    customer.post("/auth/login", data={"email": "cliente@example.com", "password": "correct horse battery",
                                       "csrf_token": token})
    assert customer.get("/orders/").status_code == 200
    [user], _ = db.users.find(email="cliente@example.com")
    assert post(client, "/admin/users/", f"/admin/users/{user.user_id}/active", active="0").status_code == 200  # asks
    assert customer.get("/orders/").status_code == 200
    assert post(client, "/admin/users/", f"/admin/users/{user.user_id}/active", active="0",
                confirm="yes").status_code == 303
    assert customer.get("/orders/").status_code == 302  # the session is gone: back to the login page
    token = csrf_token_from(customer.get("/auth/login").get_data(as_text=True))
    refused = customer.post("/auth/login", data={"email": "cliente@example.com",
                                                 "password": "correct horse battery", "csrf_token": token})
    assert refused.status_code == 401


def test_an_admin_cannot_demote_themselves_nor_remove_the_last_admin(client, admin, db):
    response = post(client, "/admin/users/", f"/admin/users/{admin.user_id}/role", role="customer")
    assert response.status_code == 409
    assert db.users.get(admin.user_id).role is Role.ADMIN


def test_two_admins_demoting_each_other_at_once_leave_one_admin(db, make_user):
    """The last-admin rule under a race: both changes run in threads; one must be refused."""
    import threading

    from shop.domain.errors import Conflict
    from shop.services.accounts import change_account

    first, second = make_user(role=Role.ADMIN), make_user(role=Role.ADMIN)
    barrier, outcomes = threading.Barrier(2), []

    def demote(actor, target):
        barrier.wait()
        try:
            change_account(db, actor, target.user_id, role=Role.CUSTOMER)
            outcomes.append("changed")
        except Conflict:
            outcomes.append("refused")

    for _ in range(5):
        for user in (first, second):  # both admins again
            with db.users.locked(user.user_id) as account:
                account.update(Role.ADMIN, True)
        outcomes.clear()
        threads = [threading.Thread(target=demote, args=(first, second)),
                   threading.Thread(target=demote, args=(second, first))]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert sorted(outcomes) == ["changed", "refused"]
        assert len([u for u in db.users.find(Role.ADMIN)[0] if u.is_active]) == 1


# --- dashboard and audit log ------------------------------------------------------------------------

def test_the_dashboard_shows_sales_statuses_best_sellers_and_low_stock(client, admin, db, store, make_product,
                                                                       make_user):
    from shop.services import orders

    lamp, chair = make_product(name="Lámpara", stock=10, price="20.00"), make_product(name="Silla", stock=2)
    assert 'data-testid="sales-empty"' in client.get("/admin/").get_data(as_text=True)  # not an empty chart
    customer = make_user()
    paid = place(db, store, customer, lamp, 3)
    pay(db, customer, paid)
    orders.cancel_order(db, store, customer, place(db, store, customer, chair, 1))
    html = client.get("/admin/?low_stock=2").get_data(as_text=True)
    assert "60,00" in html  # revenue of the paid order
    figures = html.split('data-testid="sales-table"')[1].split("</table>")[0]
    assert re.search(r"<td[^>]*>1</td>\s*<td[^>]*>60,00", figures)  # the day's orders and revenue, as text
    assert re.search(r'data-status="paid">1<', html) and re.search(r'data-status="cancelled">1<', html)
    assert "50,0" in html  # one of the two orders was cancelled
    top = html.split('data-testid="top-products"')[1].split("</ol>")[0]
    assert "Lámpara" in top and "3 unidades" in top
    low = html.split('data-testid="low-stock"')[1].split("</ul>")[0]
    assert "Silla" in low and "Lámpara" not in low
    assert re.search(r'data-testid="low-stock-count">\s*1<', html)
    assert client.get("/admin/?low_stock=abc").status_code == 400


def test_the_dashboard_counts_every_low_stock_product_beyond_the_ones_it_lists(client, admin, make_product,
                                                                                monkeypatch):
    from shop.services import reports

    monkeypatch.setattr(reports, "LOW_STOCK_SHOWN", 3)
    monkeypatch.setattr(reports, "LOW_STOCK_COUNTED", 5)
    for n in range(4):
        make_product(name=f"Escaso {n}", stock=n)
    page = client.get("/admin/?low_stock=5").get_data(as_text=True)
    listed = page.split('data-testid="low-stock"')[1].split("</ul>")[0]
    assert [f"Escaso {n}" in listed for n in range(4)] == [True, True, True, False]  # the fewest units first
    assert re.search(r'data-testid="low-stock-count">\s*4<', page) and "Los 3 con menos unidades" in page
    make_product(name="Escaso 4", stock=0)
    page = client.get("/admin/?low_stock=5").get_data(as_text=True)
    assert re.search(r'data-testid="low-stock-count">\s*5 o más<', page)  # counted no further


def test_the_dashboard_reuses_its_figures_for_a_few_seconds_and_says_when_it_read_them(
        cached_app, db, store, make_product, make_user):
    import time

    from tests.integration.conftest import PASSWORD

    app = cached_app(3)
    client = app.test_client()
    make_user(role=Role.AUDITOR, email="auditora@example.com")
    token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
    client.post("/auth/login", data={"email": "auditora@example.com", "password": PASSWORD, "csrf_token": token})

    def shown():
        page = client.get("/admin/?low_stock=3").get_data(as_text=True)
        low = page.split('data-testid="low-stock"')[1].split("</ul>")[0]
        as_of = re.search(r'data-testid="as-of">([^<]*)<', page).group(1)
        return low, as_of

    first = shown()
    make_product(name="Recién llegado", stock=1)
    assert shown() == first  # within 3 s: the same reading
    assert "Recién llegado" in client.get("/admin/?low_stock=4").get_data(as_text=True)  # another threshold
    time.sleep(3.2)
    low, as_of = shown()
    assert "Recién llegado" in low and as_of != first[1]


@pytest.mark.parametrize("url", ["/admin/audit/?action=test.reuse", "/admin/audit/"], ids=["filtered", "whole-log"])
def test_an_audit_page_is_reused_only_while_no_entry_has_moved_the_chains_head(cached_app, db, store, make_user,
                                                                              monkeypatch, url):
    from shop.domain.audit import AuditEvent
    from shop.services import staff_lists
    from tests.integration.conftest import PASSWORD

    app = cached_app(60)
    client = app.test_client()
    make_user(role=Role.AUDITOR, email="auditora@example.com")
    token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
    client.post("/auth/login", data={"email": "auditora@example.com", "password": PASSWORD, "csrf_token": token})
    reads, read = [], staff_lists.read_audit_page

    def counted(*args):
        reads.append(args[-1])  # the head it was read with
        return read(*args)

    monkeypatch.setattr(staff_lists, "read_audit_page", counted)

    def record(target):
        with app.app_context():
            get_audit_log().record(AuditEvent(action="test.reuse", target=target))
        flushed_entries(app, store)

    def rows():
        page = client.get(url).get_data(as_text=True)
        return page.split('data-testid="audit-entries"')[1].split("</table>")[0]

    record("order:1")
    first = rows()
    assert "order:1" in first and rows() == first and len(reads) == 1  # the second view reused the first
    record("order:2")
    assert "order:2" in rows() and len(reads) == 2  # a new entry moved the head: read at once
    rows()
    assert len(reads) == 2
    record("order:3")
    db.lists.reset_audit_index()  # the filter index behind the new head (caught up while reading), as after a restore
    for _ in range(3):
        assert "order:3" in rows()
    # A filtered page read while its index was behind the head is not kept: read again, then reused.
    assert len(reads) == (4 if "action" in url else 3)


def test_the_audit_viewer_filters_and_exports_csv_safely(client, admin, app, store):
    from shop.domain.audit import AuditEvent

    with app.app_context():
        log = get_audit_log()
        log.record(AuditEvent(action="login.failed", target="user:99", ip="10.0.0.1",
                              details={"email": "=cmd|' /C calc'!A0"}))
        log.record(AuditEvent(action="order.placed", target="order:5", actor_id=7, actor_role="customer"))
    flushed_entries(app, store)
    page = client.get("/admin/audit/?action=login.failed").get_data(as_text=True)
    assert "user:99" in page and "order:5" not in page
    for action in ("login.failed", "order.placed", "login.succeeded"):  # the filter offers each action once
        assert page.count(f'<option value="{action}"') == 1
    assert "order:5" in client.get("/admin/audit/?actor=7").get_data(as_text=True)
    by_email = client.get("/admin/audit/?actor=admin@example.com").get_data(as_text=True)  # the admin's own login
    assert "login.succeeded" in by_email and "order:5" not in by_email
    assert "Inicio de sesión" in by_email and re.search(r'data-testid="audit-actor">Ada Admin<', by_email)  # read
    # as a person reads them: what happened and who did it, by name
    assert 'data-testid="entry-count">0<' in client.get("/admin/audit/?actor=nadie@example.com").get_data(as_text=True)
    exported = client.get("/admin/audit/export.csv?target=user:99")
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [row["action"] for row in rows] == ["login.failed"]
    assert rows[0]["details"].startswith("{")  # JSON, and no cell starts a formula
    assert all(not value.startswith(("=", "+", "@")) for row in rows for value in row.values())
    assert client.get("/admin/audit/?action=$where").status_code == 400


def test_the_console_names_the_first_altered_entry(client, auditor, app, store):
    from shop.domain.audit import AuditEvent

    with app.app_context():
        for n in range(4):
            get_audit_log().record(AuditEvent(action="test.event", details={"n": n}))
    flushed_entries(app, store)
    assert 'data-testid="chain-intact"' in client.get("/admin/audit/verify").get_data(as_text=True)
    store.audit_logs.update_one({"seq": 3}, {"$set": {"details.n": 99}})
    html = client.get("/admin/audit/verify").get_data(as_text=True)
    assert 'data-testid="chain-broken"' in html and "entrada 3" in html


# --- the auditor ----------------------------------------------------------------------------------

STAFF_PAGES = ["/admin/", "/admin/products/", "/admin/orders/", "/admin/orders/payments", "/admin/users/",
               "/admin/discounts/", "/admin/shipping/",
               "/admin/audit/",
               "/admin/audit/export.csv", "/admin/audit/verify"]


def test_the_auditor_sees_every_staff_page_without_a_single_mutating_form(client, auditor, db, store, make_product,
                                                                         make_user):
    product = make_product(stock=4)
    order_id = place(db, store, make_user(), product)
    for url in [*STAFF_PAGES, f"/admin/products/{product['_id']}", f"/orders/{order_id}"]:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        forms = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', html)
        assert set(forms) <= {"/auth/logout", "/auth/language/en"}, url  # the page frame's own forms only
    assert "password" not in client.get("/admin/users/").get_data(as_text=True).lower().replace(
        'type="password"', "").replace('href="/account/password"', "")  # the frame's own change-password link


def test_every_mutating_request_from_the_auditor_is_refused_and_logged(client, auditor, db, store, make_product,
                                                                      make_user, app):
    product = make_product(stock=4)
    order_id = place(db, store, make_user(), product)
    pid = product["_id"]
    token = csrf_token_from(client.get("/admin/").get_data(as_text=True))
    urls = ["/admin/products/new", f"/admin/products/{pid}", f"/admin/products/{pid}/stock",
            f"/admin/products/{pid}/delete", f"/admin/products/{pid}/restore", f"/admin/orders/{order_id}/paid",
            f"/admin/orders/{order_id}/shipped", f"/admin/orders/{order_id}/cancel", "/admin/users/",
            f"/admin/users/{auditor.user_id}/role", f"/admin/users/{auditor.user_id}/active"]
    for url in urls:
        assert client.post(url, data={"csrf_token": token, "delta": "5", "reason": "x", "role": "admin",
                                      "active": "0"}).status_code == 403, url
    assert store.products.find_one({"_id": pid})["stock"] == 3
    assert db.orders.get(order_id).status == "pending"
    denied = flushed_entries(app, store, action="access.denied")
    assert len(denied) == len(urls) and {e["actor_role"] for e in denied} == {"auditor"}


def test_staff_lists_are_paged_and_keep_their_filters(client, admin, make_product, make_user):
    for n in range(55):
        make_product(name=f"Tornillo {n:02d}")
    first = client.get("/admin/products/?q=tornillo").get_data(as_text=True)
    assert first.count('data-testid="staff-product"') == 20 and "55 productos" in first  # 20 rows unless asked
    assert '<option value="20" selected>' in first
    first = client.get("/admin/products/?q=tornillo&per_page=50").get_data(as_text=True)
    assert first.count('data-testid="staff-product"') == 50 and '<option value="50" selected>' in first
    next_url = html.unescape(re.search(r'rel="next" href="([^"#]+)"', first).group(1))
    assert next_url.startswith("/admin/products/?") and "q=tornillo" in next_url and "after=" in next_url
    assert "per_page=50" in next_url
    second = client.get(next_url).get_data(as_text=True)
    assert second.count('data-testid="staff-product"') == 5 and "Tornillo 54" in second and "Tornillo 49" not in second
    make_user(email="buscada@example.com", name="Berta Buscada")
    found = client.get("/admin/users/?email=Buscada@Example.com").get_data(as_text=True)
    assert found.count('data-testid="user-row"') == 1 and "Berta Buscada" in found


@pytest.mark.parametrize("path", ["/admin/products/", "/admin/orders/", "/admin/orders/payments", "/admin/audit/",
                                  "/admin/users/"])
def test_every_staff_list_offers_its_rows_per_page_and_refuses_any_other_number(client, admin, path):
    page = client.get(path + "?per_page=100").get_data(as_text=True)
    assert '<option value="100" selected>' in page and 'name="per_page"' in page
    for size in ("7", "1000", "０２０", "20.0", "-20"):
        response = client.get(f"{path}?per_page={size}")
        assert response.status_code == 400 and "Filas por página" in response.get_data(as_text=True), size


def test_the_row_editor_saves_typed_rows_and_keeps_them_when_refused(client, admin, make_product, store):
    product = make_product(name="Botas", attributes={"talla": 42, "colores": ["negro"]})
    url = f"/admin/products/{product['_id']}"
    page = client.get(url).get_data(as_text=True)
    assert page.count('data-testid="attribute-row"') == 2 + 3  # the two attributes and three empty rows
    assert 'value="negro"' in page and 'value="text_list" selected' in page
    revision = re.search(r'name="revision" value="([^"]+)"', page).group(1)
    fields = {"name": "Botas", "category": "Pruebas", "price": "10.00", "description": "", "revision": revision}
    from werkzeug.datastructures import MultiDict

    def send(*triples):
        token = csrf_token_from(client.get(url).get_data(as_text=True))
        data = MultiDict([("csrf_token", token), *fields.items()])
        for name, kind, value in triples:
            data.add("attr_name", name)
            data.add("attr_type", kind)
            data.add("attr_value", value)
        return client.post(url, data=data)

    refused = send(("talla", "number", "cuarenta"), ("suela.material", "text", "goma"))
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'value="cuarenta"' in html and 'value="suela.material"' in html  # nothing typed is lost
    assert send(("talla", "number", "43"), ("suela.material", "text", "goma"), ("", "text", "")).status_code == 303
    assert store.products.find_one({"_id": product["_id"]})["attributes"] == {"talla": 43,
                                                                             "suela": {"material": "goma"}}
    as_json = client.get(f"{url}?editor=json").get_data(as_text=True)
    assert 'name="attributes"' in as_json and "&#34;suela&#34;" in as_json


def test_staff_see_every_payment_attempt_accepted_or_declined(client, auditor, db, store, make_product, make_user):

    customer = make_user(email="paga@example.com")
    order_id = place(db, store, customer, make_product(stock=3))
    pay(db, customer, order_id, "declined")
    pay(db, customer, order_id)
    html = client.get("/admin/orders/payments").get_data(as_text=True)
    assert re.findall(r'data-status="(\w+)"', html) == ["succeeded", "declined"]
    assert "paga@example.com" in html and "tarjeta rechazada" in html
    declined = client.get("/admin/orders/payments?status=declined").get_data(as_text=True)
    assert re.findall(r'data-status="(\w+)"', declined) == ["declined"]
    assert client.get("/admin/orders/payments?status=lost").status_code == 400


def test_a_product_written_without_a_revision_can_still_be_edited(client, admin, make_product, store):
    product = make_product(name="Antiguo")
    store.products.update_one({"_id": product["_id"]}, {"$unset": {"updated_at": ""}})  # e.g. imported by hand
    url = f"/admin/products/{product['_id']}"
    fields = {"category": "Pruebas", "price": "5.00", "description": "", "attributes": "{}", "revision": ""}
    assert post(client, url, url, name="Renovado", **fields).status_code == 303
    assert store.products.find_one({"_id": product["_id"]})["name"] == "Renovado"
    assert post(client, url, url, name="Otra vez", **fields).status_code == 409  # now it has a revision


def test_attribute_names_are_written_per_language_and_a_name_typed_in_the_form_names_its_key(client, admin, store,
                                                                                            make_product, app):
    rows = {"name": "Taladro", "category": "Bricolaje", "price": "59,90", "stock": "3", "description": "",
            "attr_name": ["Garantía (meses)", "Color", ""], "attr_type": ["number", "text", "text"],
            "attr_value": ["24", "verde", ""]}
    assert post(client, "/admin/products/new", "/admin/products/new", **rows).status_code == 303
    product = store.products.find_one({"name": "Taladro"})
    assert product["attributes"] == {"garantia_meses": 24, "color": "verde"}  # the keys stay data
    page = html.unescape(client.get(f"/products/{product['_id']}").get_data(as_text=True))
    assert "Garantía (meses)" in page and "Garantia meses" not in page  # the typed name is its Spanish label
    assert post(client, "/admin/attributes/", "/admin/attributes/", key="garantia_meses",
                es="Garantía (meses)", en="Warranty (months)").status_code == 303
    assert post(client, "/admin/attributes/", "/admin/attributes/", key="$where", es="x", en="").status_code == 400
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    client.post("/auth/language/en", data={"csrf_token": token, "next": "/"})
    english = html.unescape(client.get(f"/products/{product['_id']}").get_data(as_text=True))
    assert "Warranty (months)" in english and "Color" in english  # no English label yet: the Spanish one
    assert "attribute_label.changed" in [e["action"] for e in flushed_entries(app, store)]


def test_the_staff_product_list_sorts_by_price_within_a_category_and_shows_the_scarcest_stock(client, admin,
                                                                                               make_product):
    make_product(name="Caro", category="Hogar", price="90.00", stock=40)
    make_product(name="Barato", category="Hogar", price="5.00", stock=2)
    make_product(name="Medio", category="Hogar", price="20.00", stock=0)
    make_product(name="Otro", category="Libros", price="50.00", stock=1)

    def listed(url):
        page = client.get(url).get_data(as_text=True)
        return re.findall(r'data-testid="staff-product">.*?<a href="/admin/products/\w+">([^<]+)</a>', page, re.S)

    assert listed("/admin/products/?category=Hogar&sort=price_desc") == ["Caro", "Medio", "Barato"]
    assert listed("/admin/products/?category=Hogar&sort=price_asc") == ["Barato", "Medio", "Caro"]
    assert listed("/admin/products/?stock=low") == ["Medio", "Otro", "Barato"]  # fewest first, at most the threshold


def test_bulk_actions_move_reprice_and_delete_the_ticked_products_each_through_its_own_checks(client, admin,
                                                                                             make_product, store):
    books = [make_product(name=f"Libro {n}", category="Libros", price="10.00") for n in range(3)]
    make_product(name="Taza", category="Hogar", price="5.00")
    ticked = [str(book["_id"]) for book in books[:2]]
    listing = "/admin/products/?category=Libros"
    repriced = post(client, listing, "/admin/products/bulk", action="price", percent="+7,5",
                    product_id=ticked, back=listing)
    assert repriced.status_code == 303, repriced.get_data(as_text=True)
    assert [str(store.products.find_one({"_id": b["_id"]})["price"]) for b in books] == ["10.75", "10.75", "10.00"]
    slip = post(client, listing, "/admin/products/bulk", action="category", category="hogar", product_id=ticked)
    assert slip.status_code == 303  # refused each as a slip of Hogar: nothing moved
    assert store.products.count_documents({"category": "Libros"}) == 3
    assert post(client, listing, "/admin/products/bulk", action="category", category="Novela",
                product_id=ticked).status_code == 303
    assert store.products.count_documents({"category": "Novela"}) == 2
    asked = post(client, listing, "/admin/products/bulk", action="delete", product_id=ticked)
    assert asked.status_code == 200 and store.products.count_documents({"category": "Novela"}) == 2  # asks first
    assert post(client, listing, "/admin/products/bulk", action="delete", product_id=ticked,
                confirm="yes").status_code == 303
    assert store.products.count_documents({"category": "Novela"}) == 0  # never ordered: deleted
    assert post(client, listing, "/admin/products/bulk", action="price", percent="500",
                product_id=[str(books[2]["_id"])]).status_code == 303
    assert str(store.products.find_one({"_id": books[2]["_id"]})["price"]) == "10.00"  # out of range: refused
