"""Variants through the pages: staff build the grid and adjust a size's stock (audited), shoppers
pick a size without JavaScript, see a sold-out size they cannot choose, and buy the one they picked."""

from __future__ import annotations

import html
import re
from decimal import Decimal

from shop.web.extensions import get_audit_log
from tests.conftest import csrf_token_from


def post(client, page_url, url, **data):
    """A form POST with the CSRF token (and, where the form has one, the revision) of its page."""
    page = client.get(page_url).get_data(as_text=True)
    revision = re.search(r'name="revision" value="([^"]*)"', page)
    return client.post(url, data={"csrf_token": csrf_token_from(page),
                                  **({"revision": html.unescape(revision.group(1))} if revision else {}), **data})


def grid(options, rows):
    """The variants form: options [(name, values)], rows [(key, sku, [values], price, stock)]."""
    data = {"option_name": [o[0] for o in options] + [""] * (3 - len(options)),
            "option_values": [o[1] for o in options] + [""] * (3 - len(options)),
            "variant_key": [r[0] for r in rows], "variant_sku": [r[1] for r in rows],
            "variant_price": [r[3] for r in rows], "variant_stock": [r[4] for r in rows]}
    for n in range(3):
        data[f"variant_value_{n}"] = [r[2][n] if n < len(r[2]) else "" for r in rows]
    return data


def test_an_admin_gives_a_product_sizes_from_every_combination_then_adjusts_one_size(client, admin, app, store,
                                                                                      make_product):
    product = make_product(name="Camiseta Logo", price="19.90", stock=0)
    page = f"/admin/products/{product['_id']}/variants"
    filled = post(client, page, page, action="combinations", **grid([("Talla", "S, M, L")], []))
    body = filled.get_data(as_text=True)
    assert filled.status_code == 200 and "CAMISETA-LOGO-S" in body and "CAMISETA-LOGO-L" in body
    saved = post(client, page, page, action="save", **grid([("Talla", "S, M, L")], [
        ("", "CAMISETA-LOGO-S", ["S"], "", "2"), ("", "CAMISETA-LOGO-M", ["M"], "", "0"),
        ("", "CAMISETA-LOGO-L", ["L"], "21,90", "4")]))
    assert saved.status_code == 303
    doc = store.products.find_one({"_id": product["_id"]})
    assert doc["stock"] == 6 and doc["skus"] == ["CAMISETA-LOGO-S", "CAMISETA-LOGO-M", "CAMISETA-LOGO-L"]
    assert [v["stock"] for v in doc["variants"].values()] == [2, 0, 4]
    adjusted = post(client, f"/admin/products/{product['_id']}", f"/admin/products/{product['_id']}/stock",
                    variant="v2", delta="5", reason="Pedido al proveedor")
    assert adjusted.status_code == 303
    doc = store.products.find_one({"_id": product["_id"]})
    assert doc["variants"]["v2"]["stock"] == 5 and doc["stock"] == 11
    with app.app_context():
        get_audit_log().flush_spool()
    entry = store.audit_logs.find_one({"action": "stock.adjusted"})
    details = entry["details"]
    assert (details["sku"], details["before"], details["after"]) == ("CAMISETA-LOGO-M", 0, 5)
    assert store.audit_logs.find_one({"action": "product.variants_changed"}) is not None


def test_the_grid_refuses_a_taken_sku_and_keeps_what_was_typed(client, admin, store, make_product, make_sized_product):
    make_sized_product()  # has CAM-M
    product = make_product(name="Sudadera", stock=0)
    page = f"/admin/products/{product['_id']}/variants"
    refused = post(client, page, page, action="save", **grid([("Talla", "M, L")], [
        ("", "SUD-L", ["L"], "", "1"), ("", "cam-m", ["M"], "", "1")]))
    body = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 409 and "CAM-M ya pertenece a otro producto" in body
    assert 'value="SUD-L"' in body and 'value="M, L"' in body
    assert "variants" not in store.products.find_one({"_id": product["_id"]})


def test_a_product_with_its_own_stock_must_be_emptied_before_it_gets_sizes(client, admin, store, make_product):
    product = make_product(name="Gorra", stock=3)
    page = f"/admin/products/{product['_id']}/variants"
    refused = post(client, page, page, action="save", **grid([("Color", "rojo")], [("", "GORRA-R", ["rojo"], "", "1")]))
    assert refused.status_code == 409 and "Ajusta su stock a 0" in html.unescape(refused.get_data(as_text=True))
    assert store.products.find_one({"_id": product["_id"]})["stock"] == 3


def test_a_shopper_picks_a_size_without_javascript_and_a_sold_out_one_cannot_be_chosen(client, auth, make_user, db,
                                                                                       make_sized_product):
    shirt = make_sized_product(sizes={"S": ("CAM-S", 2), "M": ("CAM-M", 0), "L": ("CAM-L", 4, "24.90")})
    shopper = make_user(email="ana@example.com")
    auth.login("ana@example.com")
    page = client.get(f"/products/{shirt['_id']}").get_data(as_text=True)
    assert "desde 19,90" in page
    choices = re.findall(r'<input class="form-check-input" type="radio" name="variant"[^>]*>', page)
    assert len(choices) == 3
    assert "disabled" in choices[1] and "checked" in choices[0] and "disabled" not in choices[2]
    bought = post(client, f"/products/{shirt['_id']}", "/orders/buy", product_id=str(shirt["_id"]),
                  variant="v3", quantity="2", idempotency_key="8f7e6d5c-4b3a-4291-8877-665544332211")
    assert bought.status_code == 303
    (order,) = db.orders.of_user(shopper.user_id)
    (line,) = order.items
    assert (line.variant_label, line.sku, line.unit_price, line.quantity) == ("Talla: L", "CAM-L", Decimal("24.90"), 2)
    detail = client.get(f"/orders/{order.order_id}").get_data(as_text=True)
    assert "Camiseta (Talla: L)" in detail and "SKU CAM-L" in detail
    sold_out = post(client, f"/products/{shirt['_id']}", "/orders/buy", product_id=str(shirt["_id"]),
                    variant="v2", quantity="1", idempotency_key="8f7e6d5c-4b3a-4291-8877-665544332212")
    assert sold_out.status_code == 409 and "Camiseta (Talla: M) está agotado" in html.unescape(
        sold_out.get_data(as_text=True))


def test_a_size_goes_to_the_cart_as_its_own_line(client, auth, make_user, db, make_sized_product):
    shirt = make_sized_product()
    shopper = make_user(email="ana@example.com")
    auth.login("ana@example.com")
    for size in ("v1", "v3", "v1"):
        post(client, f"/products/{shirt['_id']}", "/cart/add", product_id=str(shirt["_id"]), variant=size,
             quantity="1")
    assert sorted(db.carts.lines(shopper.user_id)) == [(f"{shirt['_id']}:v1", 2), (f"{shirt['_id']}:v3", 1)]
    cart = client.get("/cart/").get_data(as_text=True)
    assert cart.count('data-testid="cart-variant"') == 2 and "Talla: L" in cart
    missing = post(client, f"/products/{shirt['_id']}", "/cart/add", product_id=str(shirt["_id"]), quantity="1")
    assert missing.status_code == 400 and "Elige primero una de las opciones" in html.unescape(
        missing.get_data(as_text=True))


def test_the_dashboard_names_the_size_that_runs_low(client, admin, db, store, make_sized_product):
    from shop.services.recovery import recover

    make_sized_product(sizes={"S": ("CAM-S", 40), "M": ("CAM-M", 2), "L": ("CAM-L", 30)})
    recover(db, store)
    low = client.get("/admin/?low_stock=5").get_data(as_text=True)
    assert re.findall(r'data-testid="low-variant">([^<]*)<', low) == ["CAM-M (M) 2"]


def test_an_image_tied_to_a_colour_shows_beside_it_in_the_picker_and_in_the_order_of_that_colour(
        client, admin, auth, make_user, db, store, make_sized_product):
    import io as _io

    from PIL import Image

    from shop.services import images as image_service

    shirt = make_sized_product(sizes={"rojo": ("CAM-R", 3), "azul": ("CAM-A", 3)})
    pid = str(shirt["_id"])
    pictures = []
    for color in ((200, 30, 30), (30, 30, 200)):
        out = _io.BytesIO()
        Image.new("RGB", (400, 300), color).save(out, "JPEG")
        pictures.append(image_service.add_image(store, pid, out.getvalue(), f"Camiseta {color}"))
    described = post(client, f"/admin/products/{pid}", f"/admin/products/{pid}/images/{pictures[1].image_id}/alt",
                     alt="Camiseta azul, de frente", variant="v2")
    assert described.status_code == 303
    assert store.products.find_one({"_id": shirt["_id"]})["images"][1]["variant"] == "v2"
    refused = post(client, f"/admin/products/{pid}", f"/admin/products/{pid}/images/{pictures[1].image_id}/alt",
                   alt="Camiseta azul", variant="v9")
    assert refused.status_code == 303 and store.products.find_one({"_id": shirt["_id"]})["images"][1]["variant"] == "v2"

    shopper = make_user(email="ana@example.com")
    auth.login("ana@example.com")
    page = client.get(f"/products/{pid}").get_data(as_text=True)
    assert page.count('data-testid="variant-image"') == 1 and 'alt="Camiseta azul, de frente"' in page
    chosen = client.get(f"/products/{pid}?variante=v2").get_data(as_text=True)
    main = re.search(r'<img[^>]*data-testid="product-main-image"[^>]*>', chosen).group(0)
    assert 'alt="Camiseta azul, de frente"' in main
    post(client, f"/products/{pid}", "/orders/buy", product_id=pid, variant="v2", quantity="1",
         idempotency_key="8f7e6d5c-4b3a-4291-8877-665544332299")
    (order,) = db.orders.of_user(shopper.user_id)
    line = re.search(r'<img[^>]*data-testid="order-line-image"[^>]*>',
                     client.get(f"/orders/{order.order_id}").get_data(as_text=True)).group(0)
    assert 'alt="Camiseta azul, de frente"' in line
