"""Catalog pages a shared HTTP cache may keep: a visitor's home page, listings and product pages
start no session, vary on no cookie, say how long a shared cache may keep them, and answer a
matching validator with 304; the language is in the address; a logged-in person's pages stay
private."""

from __future__ import annotations

import re

from flask import template_rendered
from prometheus_client import REGISTRY

from tests.conftest import csrf_token_from


def shared_headers_of(response) -> dict:
    return {"cache_control": response.headers.get("Cache-Control", ""), "etag": response.headers.get("ETag"),
            "vary": response.headers.get("Vary", ""), "cookies": response.headers.getlist("Set-Cookie")}


def test_a_visitors_home_page_and_product_page_may_be_kept_by_a_shared_cache(client, make_product):
    product = make_product(name="Taza azul")
    for url in ("/", "/?q=taza", f"/products/{product['_id']}", "/en/", f"/en/products/{product['_id']}"):
        response = client.get(url)
        assert response.status_code == 200, url
        headers = shared_headers_of(response)
        assert headers["cookies"] == [], url  # no session is started
        assert "Cookie" not in headers["vary"], url
        assert headers["cache_control"] == "public, max-age=0, s-maxage=10, stale-while-revalidate=30", url
        assert headers["etag"], url


def test_a_matching_validator_gets_a_304_without_a_body(client, make_product):
    product = make_product(name="Taza azul")
    first = client.get(f"/products/{product['_id']}")
    again = client.get(f"/products/{product['_id']}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    other = client.get(f"/products/{product['_id']}", headers={"If-None-Match": '"an-older-page"'})
    assert other.status_code == 200 and other.headers["ETag"] == first.headers["ETag"]


def test_a_change_to_the_product_changes_its_validator(client, store, make_product):
    product = make_product(name="Taza azul", stock=5)
    before = client.get(f"/products/{product['_id']}").headers["ETag"]
    store.products.update_one({"_id": product["_id"]}, {"$inc": {"stock": -1}})
    after = client.get(f"/products/{product['_id']}", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before


def test_within_the_page_cache_a_conditional_request_is_answered_without_rendering(cached_app, make_product):
    product = make_product(name="Taza azul")
    client = cached_app(30).test_client()
    etag = client.get(f"/products/{product['_id']}").headers["ETag"]
    hits_before = REGISTRY.get_sample_value("shop_page_cache_lookups_total",
                                            {"kind": "shared-page", "result": "hit"}) or 0.0
    rendered = []
    template_rendered.connect(lambda sender, template, context, **extra: rendered.append(template.name))
    try:
        assert client.get(f"/products/{product['_id']}", headers={"If-None-Match": etag}).status_code == 304
        repeated = client.get(f"/products/{product['_id']}")
    finally:
        template_rendered.receivers.clear()
    assert repeated.status_code == 200 and "Taza azul" in repeated.get_data(as_text=True)
    assert rendered == []
    assert REGISTRY.get_sample_value("shop_page_cache_lookups_total",
                                     {"kind": "shared-page", "result": "hit"}) == hits_before + 2


def test_a_changed_product_is_rendered_anew_for_visitors_in_every_language(cached_app, store, make_product):
    from shop.web.catalog import forget_product

    product = make_product(name="Taza azul")
    app = cached_app(30)
    visitor = app.test_client()
    url = f"/products/{product['_id']}"
    assert "Taza azul" in visitor.get(url).get_data(as_text=True)
    assert "Taza azul" in visitor.get("/en" + url).get_data(as_text=True)
    store.products.update_one({"_id": product["_id"]}, {"$set": {"name": "Taza roja"}})
    assert "Taza azul" in visitor.get(url).get_data(as_text=True)  # kept for CATALOG_CACHE_SECONDS
    with app.test_request_context():
        forget_product(str(product["_id"]))  # what every change by staff or a review calls
    assert "Taza roja" in visitor.get(url).get_data(as_text=True)
    assert "Taza roja" in visitor.get("/en" + url).get_data(as_text=True)


def test_a_logged_in_persons_pages_are_never_shared(client, auth, make_user, make_product):
    product = make_product(name="Taza azul")
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    for url in ("/", f"/products/{product['_id']}", "/en/"):
        response = client.get(url)
        assert response.headers["Cache-Control"] == "no-store", url
        assert "public" not in response.headers["Cache-Control"], url


def test_an_english_address_shows_english_with_links_that_stay_english(client, make_product):
    product = make_product(name="Taza azul")
    page = client.get("/en/").get_data(as_text=True)
    assert '<html lang="en">' in page and ">Products<" in page
    assert f'href="/en/products/{product["_id"]}' in page
    assert 'hreflang="es" href="http://localhost:5000/"' in page
    assert 'hreflang="en" href="http://localhost:5000/en/"' in page
    spanish = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert '<html lang="es">' in spanish and ">Productos<" in spanish
    assert f'hreflang="en" href="http://localhost:5000/en/products/{product["_id"]}"' in spanish


def test_files_linked_from_an_english_page_have_one_address_for_every_language(client, store, make_product):
    from shop.services import images as image_service
    from tests.integration.test_product_images import jpeg

    product = make_product(name="Taza azul")
    image_service.add_image(store, str(product["_id"]), jpeg(), "Taza azul, de frente")
    page = client.get(f"/en/products/{product['_id']}").get_data(as_text=True)
    assert 'href="/static/shop.css"' in page and 'src="/bootstrap/static/' in page and '"/imagenes/' in page
    assert "/en/static/" not in page and "/en/bootstrap/" not in page and "/en/imagenes/" not in page
    assert client.get("/static/shop.css").status_code == 200


def test_a_visitor_changes_language_by_a_link_to_the_same_page_in_the_other_language(client, make_product):
    product = make_product(name="Taza azul")
    page = client.get(f"/products/{product['_id']}?imagen=1").get_data(as_text=True)
    link = re.search(r'<a [^>]*data-testid="language-link"', page).group(0)
    assert f'href="/en/products/{product["_id"]}?imagen=1"' in link
    assert 'name="csrf_token"' not in page  # nothing on a visitor's catalog page needs a session
    back = client.get(f"/en/products/{product['_id']}").get_data(as_text=True)
    assert f'href="/products/{product["_id"]}"' in re.search(r'<a [^>]*data-testid="language-link"', back).group(0)


def test_an_english_address_outside_the_catalog_is_english_too(client):
    assert '<html lang="en">' in client.get("/en/auth/login").get_data(as_text=True)
    assert client.get("/enviar").status_code == 404  # only the exact prefix is a language
    assert client.get("/en").status_code == 200


def test_a_logged_in_customer_who_picks_english_is_sent_to_the_english_page_and_keeps_it(client, auth, db,
                                                                                          make_user):
    customer = make_user(email="ana@example.com")
    auth.login("ana@example.com")
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    answer = client.post("/auth/language/en", data={"csrf_token": token, "next": "/orders/"})
    assert answer.headers["Location"].endswith("/en/orders/")
    assert db.users.language_of(customer.user_id) == "en"
    assert ">Products<" in client.get("/").get_data(as_text=True)  # their own pages follow their choice
