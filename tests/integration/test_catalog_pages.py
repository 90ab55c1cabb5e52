"""The catalog as a shopper sees it, on the real databases: list, search, filter, sort, pages."""

import html as html_lib
import re

import pytest

from shop.services.catalog import load_demo_catalog
from shop.services.checkout import CheckoutRequest
from tests.payments import pay

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


@pytest.mark.parametrize("term", ["a+b", "(a) [b]", "a.*b", "\\a b", "^a $b", '{"$gt": "a"} b', "a b $where"])
def test_search_terms_are_words_never_patterns_or_operators(client, make_product, term):
    make_product(name="Cafetera Bialetti")
    make_product(name="Oferta a+b .* [ ( \\ ^C {\"$gt\": \"\"} $where")
    response = client.get("/", query_string={"q": term})
    assert response.status_code == 200
    assert names(response) == ["Oferta a+b .* [ ( \\ ^C {\"$gt\": \"\"} $where"]


@pytest.mark.parametrize("term", [".*", "[", "(", "\\", "$", '{"$gt": ""}'])
def test_a_search_with_no_words_finds_nothing_and_breaks_nothing(client, make_product, term):
    make_product(name="Cafetera Bialetti")
    response = client.get("/", query_string={"q": term})
    assert response.status_code == 200
    assert names(response) == []
    assert 'data-testid="no-results"' in response.get_data(as_text=True)


def test_search_finds_words_in_any_order_ignoring_case_and_accents(client, make_product):
    make_product(name="Café molido de Colombia")
    make_product(name="Cafetera italiana")
    make_product(name="Té verde")
    assert names(client.get("/?q=colombia CAFE")) == ["Café molido de Colombia"]
    assert names(client.get("/?q=café colombia")) == ["Café molido de Colombia"]
    assert names(client.get("/?q=te")) == ["Té verde"]


def test_the_last_word_of_a_search_is_a_prefix(client, make_product):
    make_product(name="Cafetera italiana")
    make_product(name="Café molido")
    assert names(client.get("/?q=caf")) == ["Café molido", "Cafetera italiana"]
    assert names(client.get("/?q=cafet")) == ["Cafetera italiana"]
    assert names(client.get("/?q=cafetera ital")) == ["Cafetera italiana"]
    assert names(client.get("/?q=caf italiana")) == []  # only the last word is a prefix


def test_an_exact_name_match_is_listed_first(client, make_product):
    make_product(name="Altavoz portátil")
    make_product(name="Bolsa portátil grande")
    make_product(name="Portátil")
    assert names(client.get("/?q=portatil")) == ["Portátil", "Altavoz portátil", "Bolsa portátil grande"]


def test_a_search_miss_says_so(client, make_product):
    make_product(name="Cafetera italiana")
    response = client.get("/?q=zzzxq")
    assert names(response) == []
    assert "Ningún producto coincide" in response.get_data(as_text=True)


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


def test_each_filter_value_says_how_many_products_of_the_category_have_it(client, make_product):
    for ram in (8, 8, 16):
        make_product(name=f"Portátil {ram}", category="Portátiles", attributes={"ram_gb": ram})
    make_product(name="Sobremesa", category="Ordenadores", attributes={"ram_gb": 16})  # another category
    html = client.get("/?category=Portátiles").get_data(as_text=True)
    options = re.findall(r'<option value="(\d+)"\s*>\s*([^<]+?)\s*</option>', html)
    assert options == [("8", "8 (2)"), ("16", "16 (1)")]


def test_sort_by_price_both_ways_and_by_name(client, make_product):
    make_product(name="B medio", price="20.00")
    make_product(name="a barato", price="5.00")
    make_product(name="C caro", price="100.00")
    assert names(client.get("/?sort=price_asc")) == ["a barato", "B medio", "C caro"]
    assert names(client.get("/?sort=price_desc")) == ["C caro", "B medio", "a barato"]
    assert names(client.get("/?sort=name")) == ["a barato", "B medio", "C caro"]


NEXT_LINK = re.compile(r'<a class="page-link" rel="next" href="([^"#]+)"')
PREVIOUS_LINK = re.compile(r'<a class="page-link" rel="prev" href="([^"#]+)"')


def follow(client, url: str, link: re.Pattern) -> tuple[list[str], str | None]:
    response = client.get(url)
    assert response.status_code == 200
    found = link.search(response.get_data(as_text=True))
    return names(response), html_lib.unescape(found.group(1)) if found else None


@pytest.mark.parametrize("sort", ["name", "price_asc", "price_desc"])
def test_pagination_walks_the_whole_catalog_once_in_each_order(client, db, store, sort):
    total = load_demo_catalog(db, store)
    seen, url, pages = [], f"/?sort={sort}", 0
    while url:
        page_names, url = follow(client, url, NEXT_LINK)
        seen += page_names
        pages += 1
    assert len(seen) == total == len(set(seen)) == 60
    assert pages == 5


def test_previous_walks_back_to_the_first_page(client, db, store):
    load_demo_catalog(db, store)
    first, url = follow(client, "/", NEXT_LINK)
    second, url = follow(client, url, NEXT_LINK)
    third, _ = follow(client, url, NEXT_LINK)
    response = client.get(url)
    back = PREVIOUS_LINK.search(response.get_data(as_text=True)).group(1)
    assert follow(client, html_lib.unescape(back), NEXT_LINK)[0] == second
    back = PREVIOUS_LINK.search(client.get(html_lib.unescape(back)).get_data(as_text=True)).group(1)
    assert follow(client, html_lib.unescape(back), NEXT_LINK)[0] == first


def test_paging_never_skips_or_repeats_while_products_are_added(client, make_product):
    for i in range(30):
        make_product(name=f"Producto {i:02d}")
    seen, url = [], "/"
    added = 0
    while url:
        page_names, url = follow(client, url, NEXT_LINK)
        seen += page_names
        # Between page loads, products appear before and after the current position.
        make_product(name=f"Producto 00-{added:02d}")
        make_product(name=f"Producto 99-{added:02d}")
        added += 1
    originals = [n for n in seen if "-" not in n]
    assert originals == [f"Producto {i:02d}" for i in range(30)]
    assert len(seen) == len(set(seen))


def test_a_page_past_the_last_shows_no_products_and_a_way_back(client, make_product):
    from shop.domain.listing import Position

    make_product(name="Único")
    after = Position("name", "zzzz", "f" * 24).token()
    response = client.get(f"/?after={after}")
    assert response.status_code == 200
    assert names(response) == []
    assert "No hay más productos" in response.get_data(as_text=True)


@pytest.mark.parametrize("url, status, message", [
    ("/?after=0", 400, "Ese enlace de página ya no es válido"),
    ("/?after=eyJ4IjoxfQ", 400, "Ese enlace de página ya no es válido"),
    ("/?after=" + "A" * 900, 400, "Ese enlace de página ya no es válido"),
    ("/?before=%C2%B2", 400, "Ese enlace de página ya no es válido"),
    ("/?sort=price_asc&after=WyJuYW1lIiwieCIsIjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMCJd", 400,
     "Ese enlace de página ya no es válido"),
    ("/?q=caf%01e", 400, "caracteres de control"),
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
    response = client.get("/?after=0", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("Ese enlace de página")
    assert response.json["error"]["request_id"] == response.headers["X-Request-ID"]
    assert response.json["error"]["code"] == "invalid_input"
    missing = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


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


def test_a_catalog_page_is_reused_for_a_few_seconds_per_url(cached_app, db, store, make_product):
    import time


    app = cached_app(4)
    client = app.test_client()
    make_product(name="Primero")
    assert names(client.get("/")) == ["Primero"]
    make_product(name="Segundo")
    assert names(client.get("/")) == ["Primero"]  # the same URL within 4 s: the page as rendered
    assert names(client.get("/?sort=name")) == ["Primero", "Segundo"]  # another URL: rendered now
    assert client.get("/?after=0").status_code == 400  # refused input is never cached
    time.sleep(4.2)
    assert names(client.get("/")) == ["Primero", "Segundo"]


def test_a_product_page_reuses_what_everyone_sees_until_the_product_or_its_reviews_change(
        cached_app, db, store, make_product, make_user):
    import uuid

    from shop.domain.accounts import Role
    from shop.services import checkout
    from tests.conftest import csrf_token_from
    from tests.integration.conftest import PASSWORD

    app = cached_app(60)
    client = app.test_client()
    product = make_product(name="Tetera", stock=7)
    url = f"/products/{product['_id']}"

    def stock_shown(path=url):
        return re.search(r'data-testid="stock"[^>]*>\s*([^<]*)', client.get(path).get_data(as_text=True)).group(1)

    before = stock_shown()
    store.products.update_one({"_id": product["_id"]}, {"$set": {"stock": 2}})  # behind the app's back
    assert stock_shown() == before  # reused
    assert stock_shown(url.upper().replace("/PRODUCTS/", "/products/")) == before  # one entry per product

    # A review written through the app is on the page at once (and with it the stock read now).
    buyer = make_user(role=Role.CUSTOMER, email="lectora@example.com")
    order_id = checkout.place_order(db, store,
                                    CheckoutRequest(buyer.user_id, [(str(product["_id"]), 1)],
                                                    str(uuid.uuid4()))).order_id
    pay(db, buyer, order_id)
    token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
    client.post("/auth/login", data={"email": "lectora@example.com", "password": PASSWORD, "csrf_token": token})
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    assert client.post(f"{url}/review", data={"csrf_token": token, "rating": "5",
                                              "text": "Muy buena"}).status_code == 303
    html = client.get(url).get_data(as_text=True)
    assert "Muy buena" in html and stock_shown() != before


@pytest.mark.parametrize(("cache_seconds", "kept"), [(30, True), (30, False), (0, True)],
                         ids=["cached", "not-kept", "cache-off"])
def test_a_missing_page_is_read_once_however_many_threads_ask_for_it_at_once(cached_app, cache_seconds, kept):
    """The cache stampede: when a page expires under load, one thread of the process renders it and
    the others wait for that rendering — and take it even when it is not kept (an audit page read
    while its index was behind). With the cache off nobody waits for anybody."""
    import threading
    import time

    from shop.web.extensions import reused

    app = cached_app(cache_seconds)
    guard, reading, most_at_once, reads, results = threading.Lock(), [0], [0], [], []
    start = threading.Barrier(8)

    def read():
        with guard:
            reads.append(1)
            reading[0] += 1
            most_at_once[0] = max(most_at_once[0], reading[0])
        time.sleep(0.2)
        with guard:
            reading[0] -= 1
        return "página"

    def ask():
        with app.app_context():
            start.wait()
            results.append(reused("stampede-test", read, keep=lambda value: kept))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results == ["página"] * 8
    if cache_seconds:
        assert len(reads) == 1
        with app.app_context():
            assert reused("stampede-test", read, keep=lambda value: kept) == "página"
        assert len(reads) == (1 if kept else 2)  # a value not kept is read again by the next request
    else:
        assert len(reads) == 8 and most_at_once[0] > 1


@pytest.mark.timeout(30)
def test_a_reading_that_asks_for_other_keys_or_its_own_finishes(cached_app):
    """A page whose rendering reuses another value (the audit log page and its action menu) never
    waits on itself, whichever keys they are: no lock is held while a value is read."""
    from shop.web.extensions import reused

    app = cached_app(30)
    outer = "nested-outer"
    # Two keys that a table of 64 striped locks would have put on the same stripe.
    inner = next(f"nested-inner-{n}" for n in range(10_000) if hash(f"nested-inner-{n}") % 64 == hash(outer) % 64)

    def render_outer():
        return "página con " + reused(inner, lambda: "menú") + " y " + reused(outer, lambda: "sí misma")

    with app.app_context():
        assert reused(outer, render_outer) == "página con menú y sí misma"
        assert reused(inner, lambda: "otro") == "menú"  # the inner value was kept
