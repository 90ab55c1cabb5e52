"""The catalog as a shopper sees it, on the real databases: list, search, filter, sort, pages."""

import html as html_lib
import re

import pytest

from shop.services.catalog import load_demo_catalog

PRODUCT_LINK = re.compile(r'class="stretched-link[^"]*" href="[^"]+">\s*([^<]+)</a>')


def names(response) -> list[str]:
    return [html_lib.unescape(n.strip()) for n in PRODUCT_LINK.findall(response.get_data(as_text=True))]


def test_the_home_page_lists_products_with_price_stock_and_key_attributes(client, make_product):
    make_product(name="Portátil Uno", price="1299.00", stock=0, attributes={"cpu": "M3", "ram_gb": 8})
    make_product(name="Camiseta Dos", price="14.95", stock=1, category="Camisetas")
    html = client.get("/").get_data(as_text=True)
    assert "Portátil Uno" in html and "Camiseta Dos" in html
    assert "1299,00\xa0€" in html or "1.299,00\xa0€" in html
    assert "Agotado" in html and "¡Última unidad!" in html
    assert "Ram (GB): 8" in html


def test_the_ui_speaks_spanish_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert 'lang="es"' in html
    for word in ("Productos", "Pedidos", "Entrar", "Registrarse", "Buscar por nombre"):
        assert word in html


def test_search_by_name_is_case_insensitive(client, make_product):
    make_product(name="Auriculares Sony WH-1000XM5")
    make_product(name="Cafetera Bialetti")
    assert names(client.get("/?q=sony")) == ["Auriculares Sony WH-1000XM5"]


@pytest.mark.parametrize("term", [".*", "[", "(", "\\", "a+b", "^C", '{"$gt": ""}', "$where"])
def test_search_terms_are_literals_never_patterns_or_operators(client, make_product, term):
    make_product(name="Cafetera Bialetti")
    make_product(name="Oferta a+b .* [ ( \\ ^C {\"$gt\": \"\"} $where")
    response = client.get("/", query_string={"q": term})
    assert response.status_code == 200
    assert names(response) == ["Oferta a+b .* [ ( \\ ^C {\"$gt\": \"\"} $where"]


def test_an_operator_shaped_query_parameter_is_not_a_filter(client, make_product):
    make_product(name="Uno")
    make_product(name="Dos")
    assert len(names(client.get("/?q[$gt]=&category[$ne]=x"))) == 2


def test_filter_by_category_and_by_typed_attribute_values(client, make_product):
    make_product(name="Portátil 8", category="Portátiles", attributes={"ram_gb": 8, "marca": "HP"})
    make_product(name="Portátil 16", category="Portátiles", attributes={"ram_gb": 16, "marca": "HP"})
    make_product(name="Libro", category="Libros", attributes={"paginas": 16})
    assert names(client.get("/?category=Portátiles")) == ["Portátil 16", "Portátil 8"]
    assert names(client.get("/?category=Portátiles&attr.ram_gb=16")) == ["Portátil 16"]
    html = client.get("/?category=Portátiles").get_data(as_text=True)
    assert 'name="attr.ram_gb"' in html  # the facet offers the values that exist
    assert 'name="attr.marca"' not in html  # a single value is nothing to filter by


def test_sort_by_price_both_ways_and_by_name(client, make_product):
    make_product(name="B medio", price="20.00")
    make_product(name="a barato", price="5.00")
    make_product(name="C caro", price="100.00")
    assert names(client.get("/?sort=price_asc")) == ["a barato", "B medio", "C caro"]
    assert names(client.get("/?sort=price_desc")) == ["C caro", "B medio", "a barato"]
    assert names(client.get("/?sort=name")) == ["a barato", "B medio", "C caro"]


def test_pagination_walks_the_whole_catalog_once(client, store):
    total = load_demo_catalog(store)
    seen = []
    page = 1
    while True:
        response = client.get(f"/?page={page}")
        if response.status_code == 404:
            break
        seen += names(response)
        page += 1
    assert len(seen) == total == len(set(seen)) == 60
    assert page == 6


def test_a_page_past_the_last_says_how_many_pages_there_are(client, make_product):
    make_product()
    response = client.get("/?page=7")
    assert response.status_code == 404
    assert "La página 7 no existe; hay 1 páginas." in response.get_data(as_text=True)


@pytest.mark.parametrize("url, status, message", [
    ("/?page=0", 400, "La página debe ser un número entero"),
    ("/?page=abc", 400, "La página debe ser un número entero"),
    ("/?sort=$natural", 400, "Orden desconocido"),
    ("/?attr.$where=1", 400, "atributo de producto desconocido"),
    ("/?q=" + "x" * 101, 400, "como máximo 100 caracteres"),
    ("/products/not-an-id", 400, "no es una referencia de producto válida"),
    ("/products/0123456789abcdef01234567", 404, "no existe o ya no se vende"),
    ("/no/such/page", 404, "La página que buscas no existe"),
])
def test_bad_catalog_input_gets_a_clear_spanish_message(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert message in body
    assert "Traceback" not in body


def test_bad_input_gets_json_when_json_is_asked_for(client):
    response = client.get("/?page=0", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("La página debe ser")
    assert response.json["error"]["request_id"] == response.headers["X-Request-ID"]


def test_the_product_page_shows_every_attribute_including_nested_ones(client, make_product):
    product = make_product(name="Móvil X", attributes={
        "marca": "Fairphone", "camara": {"principal_mp": 50, "frontal_mp": 32}, "colores": ["negro", "azul"],
        "resistente_agua": True})
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    for text in ("Fairphone", "Principal (MP)", "50", "Frontal (MP)", "negro, azul", "Sí"):
        assert text in html
    assert "Inicia sesión para comprar" in html


def test_markup_in_product_data_is_shown_as_text(client, make_product):
    product = make_product(name="<script>alert(1)</script>", attributes={"nota": "<b>x</b>"})
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html


def test_the_product_page_title_is_the_product_name(client, make_product):
    product = make_product(name="Cafetera italiana")
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert title.strip() == "Cafetera italiana · Tienda Híbrida"
    assert html.count('id="reviews"') == 1
