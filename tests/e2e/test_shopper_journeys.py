"""What a person does in the browser: browse, search, filter, register, log in, log out."""

import re
import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import register


def test_browsing_the_catalog_page_by_page(page):
    page.goto("/")
    expect(page.get_by_role("link", name="Productos")).to_be_visible()
    expect(page.get_by_test_id("result-count")).to_have_text("60 productos")
    expect(page.get_by_test_id("product-card")).to_have_count(12)
    first_names = page.get_by_test_id("product-card").all_inner_texts()
    page.get_by_role("link", name="Siguiente").click()
    expect(page).to_have_url(re.compile(r"after="))
    expect(page.get_by_test_id("product-card")).to_have_count(12)
    assert not set(page.get_by_test_id("product-card").all_inner_texts()) & set(first_names)
    page.get_by_role("link", name="Anterior").click()
    expect(page.get_by_test_id("product-card")).to_have_count(12)
    assert page.get_by_test_id("product-card").all_inner_texts() == first_names


def test_out_of_stock_products_say_agotado(page):
    page.goto("/?q=Zenbook")
    expect(page.get_by_test_id("stock")).to_have_text("Agotado")


def test_searching_by_name_ignores_case(page):
    page.goto("/")
    page.get_by_label("Buscar por nombre").fill("CAFETERA")
    page.get_by_role("button", name="Buscar").click()
    expect(page.get_by_test_id("result-count")).to_have_text("6 productos")


def test_a_search_with_no_match_says_so(page):
    page.goto("/")
    page.get_by_label("Buscar por nombre").fill(".*[(")
    page.get_by_role("button", name="Buscar").click()
    expect(page.get_by_test_id("no-results")).to_be_visible()


def test_filtering_by_category_then_by_attribute_then_sorting(page):
    page.goto("/")
    page.get_by_test_id("categories").get_by_role("link", name=re.compile("Portátiles")).click()
    expect(page.get_by_test_id("result-count")).to_have_text("10 productos")
    page.get_by_label("RAM (GB)").select_option("16")
    page.get_by_role("button", name="Aplicar filtros").click()
    expect(page.get_by_test_id("result-count")).to_have_text("5 productos")
    page.get_by_label("Ordenar por").select_option("price_desc")
    page.get_by_role("button", name="Ordenar", exact=True).click()
    prices = page.get_by_test_id("price").all_inner_texts()
    values = [float(p.replace("\xa0€", "").replace(".", "").replace(",", ".")) for p in prices]
    assert values == sorted(values, reverse=True) and len(values) == 5


def test_a_product_page_shows_nested_attributes_and_asks_to_log_in_to_buy(page):
    page.goto("/?q=Fairphone")
    page.get_by_role("link", name="Móvil Fairphone 5").click()
    expect(page.get_by_role("heading", name="Móvil Fairphone 5")).to_be_visible()
    expect(page.get_by_test_id("attributes")).to_contain_text("Principal (MP)")
    page.get_by_role("link", name="Inicia sesión para comprar").click()
    expect(page).to_have_url(re.compile(r"/auth/login\?next="))


def test_a_visitor_fills_a_cart_then_logs_in_and_finds_it_ready_to_check_out(page, browser, shop):
    email = f"marta-{uuid.uuid4().hex[:8]}@example.com"
    elsewhere = browser.new_context(base_url=shop.url, locale="es-ES")
    register(elsewhere.new_page(), shop, "Marta Ruiz", email)  # an account made earlier
    elsewhere.close()

    page.goto("/?q=Fairphone")
    page.get_by_role("link", name="Móvil Fairphone 5").click()
    page.get_by_label("Cantidad").fill("2")
    page.get_by_role("button", name="Añadir al carrito").click()
    expect(page.get_by_test_id("cart-line")).to_contain_text("Móvil Fairphone 5")
    expect(page.get_by_test_id("cart-total").first).to_be_visible()  # the totals, before logging in
    page.get_by_role("link", name="Inicia sesión para finalizar la compra").click()
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill("una clave muy larga")
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.get_by_text("Tu carrito tiene ahora también lo que elegiste antes de entrar.")).to_be_visible()
    expect(page.get_by_test_id("cart-line")).to_contain_text("Móvil Fairphone 5")
    expect(page.get_by_label("Cantidad de Móvil Fairphone 5")).to_have_value("2")
    expect(page.get_by_role("button", name="Finalizar compra")).to_be_visible()


def test_registering_then_logging_out_and_back_in(page, shop):
    email = f"lucia-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/")
    page.get_by_role("link", name="Registrarse").click()
    expect(page).to_have_url(re.compile(r"/auth/register"))
    register(page, shop, "Lucía Pérez", email)
    expect(page.get_by_test_id("current-user")).to_contain_text("Lucía Pérez")
    expect(page.get_by_test_id("current-user")).to_contain_text("Cliente")

    page.get_by_role("link", name="Pedidos").click()
    expect(page.get_by_test_id("no-orders")).to_be_visible()

    page.get_by_role("button", name="Salir").click()
    expect(page.get_by_text("Has cerrado la sesión.")).to_be_visible()
    page.get_by_role("link", name="Pedidos").click()
    expect(page).to_have_url(re.compile(r"/auth/login"))

    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill("una clave muy larga")
    page.get_by_role("button", name="Entrar").click()
    expect(page).to_have_url(re.compile(r"/orders/$"))
    expect(page.get_by_role("heading", name="Mis pedidos")).to_be_visible()


def test_a_wrong_password_gets_a_generic_message(page, shop):
    page.goto("/auth/login")
    page.get_by_label("Correo electrónico").fill(shop.logins["customer"]["email"])
    page.get_by_label("Contraseña").fill("not the password")
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_text("Correo o contraseña incorrectos.")).to_be_visible()


def test_the_demo_logins_work_and_show_the_role(page, shop):
    for role, label in (("admin", "Administrador"), ("auditor", "Auditor")):
        page.goto("/auth/login")
        page.get_by_label("Correo electrónico").fill(shop.logins[role]["email"])
        page.get_by_label("Contraseña").fill(shop.logins[role]["password"])
        page.get_by_role("button", name="Entrar").click()
        expect(page.get_by_test_id("current-user")).to_contain_text(label)
        page.get_by_role("button", name="Salir").click()


def test_the_page_works_on_a_phone_sized_screen(browser, shop):
    context = browser.new_context(base_url=shop.url, viewport={"width": 390, "height": 844}, locale="es-ES")
    page = context.new_page()
    page.goto("/")
    page.get_by_role("button", name="Menú").click()
    expect(page.get_by_role("link", name="Pedidos")).to_be_visible()
    context.close()


def test_on_a_phone_products_come_first_and_the_price_and_comprar_before_the_specifications(browser, shop):
    context = browser.new_context(base_url=shop.url, viewport={"width": 390, "height": 844}, locale="es-ES")
    page = context.new_page()
    page.goto("/")
    assert page.get_by_test_id("product-card").first.bounding_box()["y"] < 844  # on the first screen
    expect(page.get_by_test_id("categories")).to_be_hidden()
    page.get_by_role("button", name="Categorías y filtros").click()
    expect(page.get_by_test_id("categories")).to_be_visible()
    page.get_by_test_id("product-card").first.get_by_role("link").first.click()
    price, specifications = page.get_by_test_id("price"), page.get_by_test_id("attributes")
    assert price.bounding_box()["y"] < specifications.bounding_box()["y"]
    assert price.bounding_box()["y"] < 844
    context.close()


def test_the_shop_needs_no_internet(page):
    external = []
    page.on("request", lambda request: external.append(request.url)
            if not request.url.startswith(("http://127.0.0.1", "data:")) else None)
    page.goto("/")
    page.goto("/auth/login")
    assert external == []


def test_pages_run_under_the_strict_content_security_policy(page, shop):
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text else None)
    for url in ("/", "/?category=Portátiles", "/auth/login", "/auth/register", "/no/such/page"):
        page.goto(url)
    page.goto("/?q=Fairphone")
    page.get_by_role("link", name="Móvil Fairphone 5").click()
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Menú").click()  # Bootstrap's script runs: the menu opens
    expect(page.get_by_role("link", name="Pedidos")).to_be_visible()
    assert violations == []
