"""Product images on the real databases: admins add them through the product form (stored in GridFS),
shoppers see them in the catalog and on the product page, and each size is served once and then
cached for good."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image

from shop.domain.accounts import Role
from shop.domain.errors import Conflict
from shop.services import images as image_service
from shop.web.extensions import get_audit_log
from tests.conftest import csrf_token_from


def jpeg(width=1600, height=1200, colour=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def product(make_product):
    return str(make_product(name="Camiseta básica", category="Camisetas")["_id"])


def upload(client, product_id, data, alt="Camiseta roja, vista de frente", filename="camiseta.jpg"):
    page = f"/admin/products/{product_id}"
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(f"{page}/images", data={"csrf_token": token, "alt": alt,
                                                "image": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def test_an_admin_adds_an_image_and_shoppers_see_it_in_the_catalog_and_on_the_product_page(
        app, client, admin, product, store):
    response = upload(client, product, jpeg())
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/products/{product}#images")
    [image] = store.catalog.get(product).images
    assert (image.alt, image.width, image.height, image.widths) == ("Camiseta roja, vista de frente", 1600, 1200,
                                                                    (160, 320, 640, 1280))
    shopper = app.test_client()
    card = shopper.get("/?category=Camisetas").get_data(as_text=True)
    assert f'/imagenes/{image.image_id}-320.webp' in card and 'loading="lazy"' in card
    assert 'alt="Camiseta roja, vista de frente"' in card and 'width="320" height="240"' in card
    assert f"/imagenes/{image.image_id}-1280.webp 1280w" in card  # srcset: the browser picks a size
    page = shopper.get(f"/products/{product}").get_data(as_text=True)
    assert 'data-testid="product-main-image"' in page and f"{image.image_id}-640.webp" in page
    with app.app_context():
        get_audit_log().flush_spool()
    [entry] = list(store.audit_logs.find({"action": "product.image_added"}))
    assert entry["target"] == f"product:{product}" and entry["details"]["image"] == image.image_id


def test_a_photo_of_several_megabytes_is_accepted_though_other_forms_stop_at_one(client, admin, product, store):
    buffer = io.BytesIO()
    Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3)).save(buffer, "JPEG", quality=95)
    assert len(buffer.getvalue()) > 2 * 1024 * 1024
    response = upload(client, product, buffer.getvalue())
    assert response.status_code == 303
    assert len(store.catalog.get(product).images) == 1
    token = csrf_token_from(client.get(f"/admin/products/{product}").get_data(as_text=True))
    too_big = client.post(f"/admin/products/{product}", data={"csrf_token": token, "name": "x" * (1024 * 1024 + 1)})
    assert too_big.status_code == 413


def test_each_size_is_served_with_a_year_of_caching_and_a_revalidation_costs_nothing(client, admin, product, store):
    upload(client, product, jpeg())
    image = store.catalog.get(product).main_image
    url = f"/imagenes/{image.image_id}-320.webp"
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/webp"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert Image.open(io.BytesIO(response.data)).size == (320, 240)
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.get(f"/imagenes/{image.image_id}-321.webp").status_code == 404  # a size never made
    assert client.get("/imagenes/..%2Fproducts.webp").status_code == 404
    assert client.get("/imagenes/" + "0" * 64 + "-320.webp").status_code == 404


def test_a_file_that_is_not_a_plain_image_is_refused_with_its_reason_and_nothing_is_stored(
        client, admin, product, store):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = upload(client, product, svg, filename="foto.jpg")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "no es una imagen JPEG, PNG ni WebP" in page
    response = upload(client, product, jpeg(), alt="   ")
    assert store.catalog.get(product).images == () and store.images.names() == set()


def test_a_product_without_images_shows_a_placeholder_not_a_broken_image(app, product):
    page = app.test_client().get(f"/products/{product}").get_data(as_text=True)
    assert 'data-testid="image-placeholder"' in page and "/static/placeholder.svg" in page


def test_the_main_image_can_be_changed_described_and_removed_and_the_gallery_works_without_javascript(
        app, client, admin, product, store):
    upload(client, product, jpeg(colour=(200, 0, 0)), alt="Roja")
    upload(client, product, jpeg(colour=(0, 0, 200)), alt="Azul")
    red, blue = store.catalog.get(product).images
    page = f"/admin/products/{product}"
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    client.post(f"{page}/images/{blue.image_id}/main", data={"csrf_token": token})
    assert [i.alt for i in store.catalog.get(product).images] == ["Azul", "Roja"]
    client.post(f"{page}/images/{red.image_id}/alt", data={"csrf_token": token, "alt": "Roja, de espaldas"})
    assert [i.alt for i in store.catalog.get(product).images] == ["Azul", "Roja, de espaldas"]
    second = app.test_client().get(f"/products/{product}?imagen=2").get_data(as_text=True)
    main = re.search(r'<img [^>]*data-testid="product-main-image"[^>]*>', second).group(0)
    assert f"{red.image_id}-640.webp" in main and 'alt="Roja, de espaldas"' in main
    client.post(f"{page}/images/{blue.image_id}/delete", data={"csrf_token": token})
    assert [i.alt for i in store.catalog.get(product).images] == ["Roja, de espaldas"]


def test_two_changes_of_one_products_images_made_from_the_same_reading_never_overwrite_each_other(
        product, store):
    image_service.add_image(store, product, jpeg(), "Una")
    read = store.catalog.get(product)  # two admins read the same list …
    image_service.add_image(store, product, jpeg(colour=(0, 200, 0)), "Otra")  # … one adds an image …
    assert not store.catalog.replace_images(product, read.images_rev, ())  # … the other's stale change fails
    with pytest.raises(Conflict, match="already has that image"):
        image_service.add_image(store, product, jpeg(), "La misma otra vez")
    assert [i.alt for i in store.catalog.get(product).images] == ["Una", "Otra"]


def test_an_auditor_sees_the_images_but_no_form_to_change_them(client, auth, make_user, product, store):
    image_service.add_image(store, product, jpeg(), "Frente")
    make_user(role=Role.AUDITOR, email="auditor@example.com")
    auth.login("auditor@example.com")
    page = client.get(f"/admin/products/{product}").get_data(as_text=True)
    assert 'data-testid="staff-image"' in page and 'data-testid="image-form"' not in page
