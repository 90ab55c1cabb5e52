"""Every route × every role × every method: the declared policy is what the server enforces."""

from __future__ import annotations

import re

import pytest

from shop.domain.accounts import Role
from shop.web.access import policy_of, public
from tests.conftest import csrf_token_from

ANONYMOUS = None
ROLES = [ANONYMOUS, Role.CUSTOMER, Role.AUDITOR, Role.ADMIN]
C = {Role.CUSTOMER}
ANY_USER = {Role.CUSTOMER, Role.AUDITOR, Role.ADMIN}
STAFF = {Role.ADMIN, Role.AUDITOR}
A = {Role.ADMIN}
VISITORS_AND_C = ("visitors", frozenset({Role.CUSTOMER}))  # someone not logged in, or a customer
# The whole map, written out: a new route fails this test until its policy is declared here too.
EXPECTED = {
    "static": "public", "bootstrap.static": "public",
    "catalog.index": "public", "catalog.product": "public",
    "auth.login": "public", "auth.register": "public", "auth.logout": "public", "auth.language": "public",
    "auth.activate": "public", "auth.request_password_reset": "public", "auth.reset_password": "public",
    "account.password": ANY_USER, "account.profile": ANY_USER,
    "health.healthz": "public", "health.readyz": "public", "monitoring.scrape": "public",
    "orders.index": ANY_USER, "orders.detail": ANY_USER, "orders.invoice": ANY_USER,
    "orders.invoice_pdf": ANY_USER, "orders.credit_note": ANY_USER, "orders.credit_note_pdf": ANY_USER,
    "orders.buy": C, "orders.checkout_cart": C, "orders.pay": C, "orders.cancel": C,
    "cart.show": VISITORS_AND_C, "cart.add": VISITORS_AND_C, "cart.update": VISITORS_AND_C,
    "api.place_order": C,
    "reviews.write": C, "reviews.hide": {Role.ADMIN},
    # Staff consoles: auditors read what admins read; only admins change anything.
    "dashboard.index": STAFF,
    "staff_products.index": STAFF, "staff_products.edit": STAFF, "staff_products.create": A, "staff_products.bulk": A,
    "staff_products.update": A, "staff_products.adjust_stock": A, "staff_products.delete": A,
    "staff_products.restore": A,
    "images.show": "public", "staff_images.add": A, "staff_images.make_main": A, "staff_images.describe": A,
    "staff_images.remove": A, "staff_variants.show": STAFF, "staff_variants.save": A,
    "imports.form": STAFF, "imports.upload": A, "imports.show": STAFF, "imports.apply": A, "imports.export": STAFF,
    "staff_orders.index": STAFF, "staff_orders.payments": STAFF, "staff_orders.mark_paid": A,
    "staff_orders.mark_shipped": A, "staff_orders.cancel": A, "staff_orders.refund": A,
    "staff_discounts.index": STAFF, "staff_discounts.create": A, "staff_discounts.set_active": A,
    "staff_shipping.index": STAFF, "staff_shipping.create": A, "staff_shipping.set_active": A,
    "staff_attributes.index": STAFF, "staff_attributes.save": A,
    "addresses.index": C, "addresses.add": C, "addresses.make_default": C, "addresses.delete": C,
    "staff_users.index": STAFF, "staff_users.create": A, "staff_users.change_role": A, "staff_users.set_active": A,
    "staff_users.send_password_reset": A,
    "audit_log.index": STAFF, "audit_log.export": STAFF, "audit_log.verify": STAFF,
    "invoice_book.index": STAFF, "invoice_book.book": STAFF,
    # The REST API: the catalog is public; a customer's own things; staff endpoints (keys add scopes).
    "api_v1.openapi_document": "public", "api_v1.docs_page": "public", "api_v1.token": "public",
    "api_v1.products": "public", "api_v1.product": "public", "api_v1.categories": "public",
    "api_v1.logout": C, "api_v1.cart": C, "api_v1.put_cart_item": C, "api_v1.delete_cart_item": C,
    "api_v1.checkout": C, "api_v1.orders": C, "api_v1.order": C, "api_v1.cancel": C, "api_v1.invoice": C,
    "api_v1.start_payment": C, "orders.payment_return": C, "payments.notify": "public",
    "simulated_provider.page": "public", "simulated_provider.decide": "public",
    "api_v1.addresses": C, "api_v1.add_address": C, "api_v1.delete_address": C,
    "api_v1.staff_orders": STAFF, "api_v1.ship": A, "api_v1.adjust_stock": A, "api_v1.refund": A,
    "api_v1.audit_log": STAFF,
    "api_v1.staff_products": STAFF, "api_v1.staff_product": STAFF, "api_v1.create_product": A,
    "api_v1.update_product": A, "api_v1.remove_product": A, "api_v1.restore_product": A, "api_v1.put_variants": A,
    "api_v1.add_image": A, "api_v1.change_image": A, "api_v1.remove_image": A,
    "api_v1.discount_codes": STAFF, "api_v1.create_discount_code": A, "api_v1.set_discount_code_active": A,
    "api_v1.shipping_methods": STAFF, "api_v1.create_shipping_method": A, "api_v1.set_shipping_method_active": A,
    "api_keys.index": STAFF, "api_keys.create": STAFF, "api_keys.revoke": STAFF,
    "webhooks.index": STAFF, "webhooks.create": A, "webhooks.set_active": A, "webhooks.redeliver": A,
}
_SAMPLE_ARGS = {"int": "999999", "default": "0123456789abcdef01234567", "path": "shop.css"}


def _url(rule) -> str:
    url = rule.rule
    for argument in rule.arguments:
        converter = type(rule._converters[argument]).__name__.replace("Converter", "").lower()
        sample = {"integer": "999999", "unicode": _SAMPLE_ARGS["default"], "path": "shop.css"}.get(
            converter, _SAMPLE_ARGS["default"])
        if rule.endpoint == "auth.language":
            sample = "es"
        url = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{argument}>", sample, url)
    return url


def test_every_route_declares_the_expected_policy(app):
    declared = {}
    for rule in app.url_map.iter_rules():
        policy = policy_of(app, rule.endpoint)
        assert policy is not None, f"{rule.endpoint} declares no access policy"
        declared[rule.endpoint] = ("public" if policy.is_public else ("visitors", policy.roles) if policy.visitors
                                   else set(policy.roles))
    assert declared == EXPECTED


@pytest.fixture
def clients(app, make_user):
    by_role = {ANONYMOUS: app.test_client()}
    for role in ROLES[1:]:
        client = app.test_client()
        email = f"{role.value}@example.com"
        make_user(role=role, email=email)
        token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
        assert client.post("/auth/login", data={"email": email, "password": "correct horse battery",
                                                "csrf_token": token}).status_code == 302
        by_role[role] = client
    return by_role


def test_the_server_enforces_each_policy_for_every_role_and_method(app, clients):
    checked = 0
    # Logging out ends the session the other requests need: walk it last.
    last = {"api_v1.logout": 1, "auth.logout": 2}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: last.get(r.endpoint, 0)):
        allowed = EXPECTED[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role, client in clients.items():
                token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
                response = client.open(_url(rule), method=method, data={"csrf_token": token},
                                       headers={"X-CSRFToken": token})
                status = response.status_code
                where = f"{method} {rule.rule} as {role.value if role else 'anonymous'}: {status}"
                assert status < 500, where
                if allowed == VISITORS_AND_C:
                    assert (status == 403) == (role is not None and role not in allowed[1]), where
                    assert "/auth/login" not in response.headers.get("Location", ""), where
                elif allowed == "public" or (role is not None and role in allowed):
                    assert status != 403, where
                elif role is None:
                    assert status in (302, 401), where  # sent to log in
                    if status == 302:
                        assert "/auth/login" in response.headers["Location"], where
                else:
                    assert status == 403, where
                checked += 1
    assert checked > 50


def test_a_view_without_a_policy_is_refused(app):
    @app.get("/forgotten")
    def forgotten():
        return "should never be served"

    @app.get("/declared")
    @public
    def declared():
        return "ok"

    client = app.test_client()
    assert client.get("/forgotten").status_code == 403
    assert client.get("/declared").status_code == 200


def test_every_response_carries_the_security_headers(client):
    for url in ("/", "/auth/login", "/nope", "/healthz"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
