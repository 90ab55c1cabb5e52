"""The staff API for the catalog and the terms of sale: products, variants, images, discount codes and
shipping methods, with an API key's scopes, the same rules as the staff pages, and the audit log."""

from __future__ import annotations

import base64
import io
import os

import pytest
from PIL import Image

from shop.domain.accounts import Role
from shop.web.extensions import get_audit_log
from tests.integration.conftest import api_key_in, create_api_key
from tests.integration.test_product_images import jpeg


@pytest.fixture
def writer(client, admin):
    """A program holding an admin's key with both catalog scopes: a client with no cookie."""
    key = api_key_in(create_api_key(client, ["catalog:read", "catalog:write"]))
    program = client.application.test_client()
    program.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return program


def _new_product(program, **fields):
    body = {"name": "Sudadera con capucha", "category": "Ropa", "price": "34.90", "stock": 0,
            "attributes": {"material": "algodón", "gramaje": 320}, **fields}
    answer = program.post("/api/v1/admin/products", json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _audited(app, store) -> list[str]:
    with app.app_context():
        get_audit_log().flush_spool()
    return [entry["action"] for entry in store.audit.entries()]


def test_a_product_created_through_the_api_is_on_sale_and_audited(app, client, writer, store):
    created = _new_product(writer, stock=7, sku="SUD-001")
    assert created["archived"] is False and created["stock"] == 7 and created["attributes"]["gramaje"] == 320
    shown = client.application.test_client().get(f"/api/v1/products/{created['id']}").get_json()
    assert shown["name"] == "Sudadera con capucha" and shown["price"] == "34.90"
    assert "product.created" in _audited(app, store)


def test_a_product_is_refused_by_the_same_rules_as_the_form(writer):
    answer = writer.post("/api/v1/admin/products", json={"name": "X", "category": "Ropa", "price": "0.00"})
    assert answer.status_code == 400 and answer.get_json()["code"]
    answer = writer.post("/api/v1/admin/products",
                         json={"name": "X", "category": "Ropa", "price": "5.00", "attributes": {"$set": 1}})
    assert answer.status_code == 400  # an attribute key never becomes a MongoDB operator


def test_an_edit_changes_only_the_fields_sent_and_a_stale_revision_is_refused(writer):
    created = _new_product(writer)
    first = writer.patch(f"/api/v1/admin/products/{created['id']}", json={"price": "29.90"})
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["price"] == "29.90" and first.get_json()["name"] == "Sudadera con capucha"
    stale = writer.patch(f"/api/v1/admin/products/{created['id']}",
                         json={"name": "Otra", "revision": created["revision"]})
    assert stale.status_code == 409
    assert writer.get(f"/api/v1/admin/products/{created['id']}").get_json()["name"] == "Sudadera con capucha"


def test_variants_are_put_with_their_own_stock_and_sold_by_reference(writer, client):
    created = _new_product(writer)
    body = {"options": [{"name": "Talla", "values": ["S", "M"]}],
            "variants": [{"sku": "SUD-S", "values": {"Talla": "S"}, "stock": 3},
                         {"sku": "SUD-M", "values": {"Talla": "M"}, "stock": 0, "price": "36.90"}]}
    answer = writer.put(f"/api/v1/admin/products/{created['id']}/variants", json=body)
    assert answer.status_code == 200, answer.get_json()
    product = answer.get_json()
    assert [(v["sku"], v["stock"], v["price"]) for v in product["variants"]] == \
        [("SUD-S", 3, "34.90"), ("SUD-M", 0, "36.90")]
    assert product["stock"] == 3
    small, medium = product["variants"]
    only_small = {"options": [{"name": "Talla", "values": ["S"]}],
                  "variants": [{"key": small["key"], "sku": "SUD-S", "values": {"Talla": "S"}, "stock": 99}]}
    kept = writer.put(f"/api/v1/admin/products/{created['id']}/variants", json=only_small)
    assert kept.status_code == 200, kept.get_json()  # M had no units: it may go
    assert [(v["sku"], v["stock"]) for v in kept.get_json()["variants"]] == [("SUD-S", 3)]  # stock only by adjustments
    dropped = writer.put(f"/api/v1/admin/products/{created['id']}/variants",
                         json={"options": [{"name": "Talla", "values": ["M"]}],
                               "variants": [{"sku": "SUD-M2", "values": {"Talla": "M"}}]})
    assert dropped.status_code == 400 and "SUD-S" in dropped.get_json()["detail"]  # its 3 units would vanish
    grown = writer.put(f"/api/v1/admin/products/{created['id']}/variants",
                       json={"options": [{"name": "Talla", "values": ["S", "L"]}],
                             "variants": [{"key": small["key"], "sku": "SUD-S", "values": {"Talla": "S"}},
                                          {"sku": "SUD-L", "values": {"Talla": "L"}, "stock": 1}]})
    large = grown.get_json()["variants"][1]
    assert large["key"] not in (small["key"], medium["key"])  # orders may still name the removed M by its key
    assert client.application.test_client().get(f"/api/v1/products/{created['id']}").get_json()["stock"] == 4


def test_a_variant_with_a_value_of_no_option_is_a_400(writer):
    created = _new_product(writer)
    body = {"options": [{"name": "Talla", "values": ["S"]}],
            "variants": [{"sku": "SUD-XL", "values": {"Talla": "XL"}}]}
    answer = writer.put(f"/api/v1/admin/products/{created['id']}/variants", json=body)
    assert answer.status_code == 400 and answer.get_json()["detail"]


def test_an_image_is_added_described_made_main_and_removed(writer, client):
    created = _new_product(writer)
    url = f"/api/v1/admin/products/{created['id']}/images"
    first = writer.post(url, json={"data": base64.b64encode(jpeg()).decode(), "alt": "De frente"})
    assert first.status_code == 201, first.get_json()
    second = writer.post(url, json={"data": base64.b64encode(jpeg(colour=(10, 200, 30))).decode(), "alt": "Detrás"})
    image_id = second.get_json()["id"]
    assert client.get(second.get_json()["url"]).status_code == 200
    changed = writer.patch(f"{url}/{image_id}", json={"alt": "La espalda", "main": True})
    assert changed.status_code == 200, changed.get_json()
    assert [(i["id"], i["alt"]) for i in changed.get_json()["images"]][0] == (image_id, "La espalda")
    assert writer.delete(f"{url}/{image_id}").status_code == 204
    assert [i["alt"] for i in writer.get(f"/api/v1/admin/products/{created['id']}").get_json()["images"]] == \
        ["De frente"]


def test_an_image_that_is_not_base64_or_not_an_image_is_a_400(writer):
    created = _new_product(writer)
    url = f"/api/v1/admin/products/{created['id']}/images"
    assert writer.post(url, json={"data": "no es base64!!"}).status_code == 400
    assert writer.post(url, json={"data": base64.b64encode(b"GIF89a not really").decode()}).status_code == 400


def test_an_image_larger_than_the_default_body_limit_is_accepted(writer):
    created = _new_product(writer)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3)).save(buffer, "JPEG", quality=95)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    assert len(encoded) > 1024 * 1024  # over the shop's default body limit
    answer = writer.post(f"/api/v1/admin/products/{created['id']}/images", json={"data": encoded, "alt": "grande"})
    assert answer.status_code == 201, answer.get_json()


def test_a_product_never_ordered_is_deleted_and_an_ordered_one_archived_then_restored(writer, db, store, make_user):
    import uuid

    from shop.services import checkout as checkout_service
    from shop.services.checkout import CheckoutRequest

    lonely = _new_product(writer, name="Nunca vendido")
    assert writer.delete(f"/api/v1/admin/products/{lonely['id']}").get_json() == {"outcome": "deleted"}
    assert writer.get(f"/api/v1/admin/products/{lonely['id']}").status_code == 404
    sold = _new_product(writer, name="Vendido", stock=2)
    customer = make_user(email="rosa@example.com")
    checkout_service.place_order(db, store, CheckoutRequest(customer.user_id, [(sold["id"], 1)], str(uuid.uuid4())))
    assert writer.delete(f"/api/v1/admin/products/{sold['id']}").get_json() == {"outcome": "archived"}
    archived = writer.get("/api/v1/admin/products", query_string={"archived": "true"}).get_json()["items"]
    assert [p["id"] for p in archived] == [sold["id"]]
    restored = writer.post(f"/api/v1/admin/products/{sold['id']}/restore")
    assert restored.status_code == 200 and restored.get_json()["archived"] is False


def test_discount_codes_are_created_listed_and_switched_off(writer):
    created = writer.post("/api/v1/admin/discount-codes",
                          json={"code": "invierno-15", "kind": "percent", "value": "15.00", "max_uses": 100,
                                "categories": ["Ropa"], "ends": "2027-03-01"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["code"] == "INVIERNO-15" and created.get_json()["active"] is True
    again = writer.post("/api/v1/admin/discount-codes", json={"code": "INVIERNO-15", "kind": "fixed", "value": "5.00"})
    assert again.status_code == 409
    off = writer.patch("/api/v1/admin/discount-codes/INVIERNO-15", json={"active": False})
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert [c["code"] for c in writer.get("/api/v1/admin/discount-codes").get_json()["items"]] == ["INVIERNO-15"]
    assert writer.patch("/api/v1/admin/discount-codes/NO-EXISTE", json={"active": True}).status_code == 404


def test_shipping_methods_are_created_and_switched(writer):
    created = writer.post("/api/v1/admin/shipping-methods",
                          json={"name": "Urgente 24 h", "price": "6.95", "free_above": "80.00",
                                "countries": ["ES", "PT"]})
    assert created.status_code == 201, created.get_json()
    method = created.get_json()
    assert method["countries"] == ["ES", "PT"] and method["free_above"] == "80.00"
    assert writer.post("/api/v1/admin/shipping-methods",
                       json={"name": "Fuera", "price": "1.00", "countries": ["US"]}).status_code == 400
    off = writer.patch(f"/api/v1/admin/shipping-methods/{method['id']}", json={"active": False})
    assert off.get_json()["active"] is False
    assert method["id"] in [m["id"] for m in writer.get("/api/v1/admin/shipping-methods").get_json()["items"]]


def test_a_key_without_catalog_write_only_reads_and_an_auditor_cannot_write(client, admin, auth, make_user):
    reader_key = api_key_in(create_api_key(client, ["catalog:read"]))
    program = client.application.test_client()
    program.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {reader_key}"
    assert program.get("/api/v1/admin/products").status_code == 200
    assert program.post("/api/v1/admin/products",
                        json={"name": "X", "category": "Y", "price": "1.00"}).status_code == 403
    make_user(role=Role.AUDITOR, email="eva@example.com")
    auth.login("eva@example.com")
    auditor_key = api_key_in(create_api_key(client, ["catalog:read"]))
    program.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {auditor_key}"
    assert program.get("/api/v1/admin/discount-codes").status_code == 200
    assert program.post("/api/v1/admin/shipping-methods", json={"name": "X", "price": "1.00"}).status_code == 403
