"""Each role's journey in the browser: the admin adds a product with new attributes and restocks it,
sells a T-shirt in sizes and imports a catalog file; the customer reviews what they bought and buys a
size; the auditor reads everything and finds nothing to change."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import pay_on_provider_page, register, start_shop, stop_shop


@pytest.fixture(scope="module")
def own_shop(tmp_path_factory):
    """A shop of this module's own: these journeys add products and orders the catalog tests do not expect."""
    running = start_shop(tmp_path_factory.mktemp("roles") / "var")
    yield running
    stop_shop(running)


@pytest.fixture
def new_tab(browser, own_shop):
    contexts = []

    def open_tab():
        context = browser.new_context(base_url=own_shop.url, locale="es-ES", viewport={"width": 1280, "height": 900})
        contexts.append(context)
        return context.new_page()

    yield open_tab
    for context in contexts:
        context.close()


def log_in(page, login: dict) -> None:
    page.goto("/auth/login")
    page.get_by_label("Correo electrónico").fill(login["email"])
    page.get_by_label("Contraseña").fill(login["password"])
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_test_id("current-user")).to_be_visible()


def reload_until_shown(page, locator, text: str, seconds: float = 10) -> None:
    """Audit entries reach the log within about a second (spool, then flusher): reload until then."""
    deadline = time.monotonic() + seconds
    while text not in locator.inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        page.reload()
    expect(locator).to_contain_text(text)


def start_new_product(page, name: str, category: str, price: str, stock: str) -> None:
    """As an admin: open Nuevo producto and fill in its first fields (the caller adds the rest and saves)."""
    page.get_by_role("link", name="Gestión de productos").click()
    page.get_by_role("link", name="Nuevo producto").click()
    page.get_by_label("Nombre", exact=True).fill(name)
    page.get_by_label("Categoría", exact=True).fill(category)
    page.get_by_label("Precio (EUR)").fill(price)
    page.get_by_label("Stock inicial").fill(stock)


# An image that really loaded, not a broken icon: decode() waits for the bytes (a page under load may
# still be fetching them) and fails for a file that is not an image.
LOADED = "img => img.decode().then(() => img.naturalWidth > 0, () => false)"


def buy_and_pay(page, shop, product: str) -> str:
    """As a freshly registered customer: Comprar one unit and pay it; returns the order's page URL."""
    register(page, shop, "Rita Reseñas", f"rita-{uuid.uuid4().hex[:8]}@example.com")
    page.goto("/?q=" + product)
    page.get_by_role("link", name=product).click()
    page.get_by_role("button", name="Comprar").click()
    pay_on_provider_page(page)
    expect(page.get_by_test_id("order-status")).to_have_text("Pagado")
    return page.url


def test_the_admin_creates_a_product_with_new_attributes_and_adjusts_its_stock(new_tab, own_shop):
    page = new_tab()
    log_in(page, own_shop.logins["admin"])
    start_new_product(page, "Tienda de campaña Ultralight 2P", "Montaña", "249,00", "4")
    new_attributes = [("weight_kg", "number", "1,2"), ("season", "text", "3 estaciones"),
                      ("freestanding", "boolean", "sí"), ("colors", "text_list", "verde; gris"),
                      ("packed.length_cm", "number", "45"), ("packed.diameter_cm", "number", "14")]
    for n, (name, kind, value) in enumerate(new_attributes, start=1):
        page.get_by_label(f"Nombre del atributo {n}").fill(name)
        page.get_by_label(f"Tipo del atributo {n}").select_option(kind)
        page.get_by_label(f"Valor del atributo {n}").fill(value)
    page.get_by_role("button", name="Crear producto").click()
    expect(page.get_by_text("Producto creado.")).to_be_visible()
    expect(page.get_by_test_id("stock")).to_have_text("4")
    expect(page.get_by_label("Nombre del atributo 5")).to_have_value("packed.length_cm")  # nested, shown dotted
    expect(page.get_by_label("Tipo del atributo 1")).to_have_value("number")

    page.get_by_label("Añadir o quitar unidades").fill("+6")
    page.get_by_label("Motivo").fill("Entrega del proveedor")
    page.get_by_role("button", name="Ajustar stock").click()
    expect(page.get_by_text("Stock cambiado de 4 a 10.")).to_be_visible()
    expect(page.get_by_test_id("stock")).to_have_text("10")
    page.get_by_label("Añadir o quitar unidades").fill("-11")
    page.get_by_label("Motivo").fill("Error")
    page.get_by_role("button", name="Ajustar stock").click()
    expect(page.get_by_test_id("stock-error")).to_contain_text("Solo hay 10 unidades")
    reload_until_shown(page, page.get_by_test_id("audit-entries"), "Entrega del proveedor")

    page.get_by_role("link", name="Ver en la tienda").click()
    expect(page.get_by_role("heading", name="Tienda de campaña Ultralight 2P")).to_be_visible()
    attributes = page.get_by_test_id("attributes")
    expect(attributes).to_contain_text("3 estaciones")
    expect(attributes).to_contain_text("verde, gris")
    expect(attributes).to_contain_text("Length (cm)")  # the nested object, shown nested


def test_a_customer_reviews_a_product_they_bought(new_tab, own_shop):
    page = new_tab()
    buy_and_pay(page, own_shop, "Pedro Páramo")
    page.goto("/?q=Pedro Páramo")
    page.get_by_role("link", name="Pedro Páramo").click()
    page.get_by_label("Tu valoración").select_option("5")
    page.get_by_label("Tu reseña").fill("Una novela breve e inolvidable <b>de verdad</b>")
    page.get_by_role("button", name="Publicar reseña").click()
    review = page.get_by_test_id("review").first
    expect(review).to_contain_text("Rita Reseñas")
    expect(review).to_contain_text("<b>de verdad</b>")  # markup shows as text
    expect(page.get_by_label("Tu valoración")).to_have_value("5")
    expect(page.get_by_role("button", name="Actualizar mi reseña")).to_be_visible()


def test_the_auditor_reads_orders_and_the_audit_log_and_finds_nothing_to_change(new_tab, own_shop):
    order_url = buy_and_pay(new_tab(), own_shop, "Pedro Páramo")
    order_number = order_url.rstrip("/").rsplit("/", 1)[1]
    page = new_tab()
    log_in(page, own_shop.logins["auditor"])
    mutating = page.locator("main form[method=post]")

    page.get_by_role("link", name="Pedidos").click()
    expect(page.get_by_role("heading", name=re.compile("Todos los pedidos"))).to_be_visible()
    expect(page.get_by_test_id("read-only-banner")).to_be_visible()
    page.get_by_role("link", name="Pagos").click()
    expect(page.get_by_test_id("staff-payments")).to_contain_text(f"#{order_number}")
    expect(mutating).to_have_count(0)
    page.get_by_role("link", name="Todos los pedidos").click()
    page.get_by_role("link", name=f"#{order_number}", exact=True).click()
    expect(page.get_by_test_id("order-status")).to_have_text("Pagado")
    expect(page.get_by_test_id("order-customer")).to_contain_text("Rita Reseñas")
    expect(page.get_by_test_id("payments")).to_contain_text("aceptado")
    expect(mutating).to_have_count(0)

    page.get_by_role("link", name="Registro de auditoría").click()
    page.get_by_label("Acción").select_option("payment.succeeded")
    page.get_by_role("button", name="Filtrar").click()
    reload_until_shown(page, page.get_by_test_id("audit-entries"), f"order:{order_number}")
    expect(mutating).to_have_count(0)
    page.get_by_role("link", name="Verificar la cadena").click()
    expect(page.get_by_test_id("chain-intact")).to_be_visible()

    for link in ("Panel", "Gestión de productos", "Usuarios"):
        page.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_test_id("read-only-banner")).to_be_visible()
        expect(mutating).to_have_count(0)
    page.get_by_role("link", name="Gestión de productos").click()
    page.get_by_test_id("staff-products").get_by_role("link").first.click()
    expect(page.get_by_test_id("product-details")).to_be_visible()
    expect(mutating).to_have_count(0)
    expect(page.get_by_role("textbox")).to_have_count(0)


def test_the_admin_adds_an_image_after_a_bad_file_is_refused_and_shoppers_see_it(new_tab, own_shop, tmp_path):
    from PIL import Image

    photo, disguised = tmp_path / "camiseta-azul.jpg", tmp_path / "foto.jpg"
    Image.new("RGB", (1200, 900), (30, 120, 200)).save(photo, "JPEG")
    disguised.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    page = new_tab()
    log_in(page, own_shop.logins["admin"])
    page.goto("/?q=Camiseta técnica running")
    page.get_by_role("link", name="Camiseta técnica running").click()
    expect(page.get_by_test_id("product-main-image")).to_have_attribute("alt", re.compile("ilustración"))  # demo
    page.get_by_role("link", name="Stock, historial y edición").click()

    images = page.get_by_test_id("images")
    page.get_by_label("Imagen (JPEG, PNG o WebP, hasta 15 MB)").set_input_files(str(disguised))
    page.get_by_label("Texto alternativo: lo que muestra la imagen").fill("Camiseta azul, de frente")
    page.get_by_role("button", name="Añadir imagen").click()
    expect(page.get_by_text("Ese archivo no es una imagen JPEG, PNG ni WebP.")).to_be_visible()
    expect(images.get_by_test_id("staff-image")).to_have_count(1)

    page.get_by_label("Imagen (JPEG, PNG o WebP, hasta 15 MB)").set_input_files(str(photo))
    page.get_by_label("Texto alternativo: lo que muestra la imagen").fill("Camiseta azul, de frente")
    page.get_by_role("button", name="Añadir imagen").click()
    expect(page.get_by_text("Imagen añadida.")).to_be_visible()
    expect(images.get_by_test_id("staff-image")).to_have_count(2)
    images.get_by_test_id("staff-image").nth(1).get_by_role("button", name="Hacer principal").click()
    expect(page.get_by_text("Esa imagen es ahora la principal.")).to_be_visible()

    shopper = new_tab()
    shopper.goto("/?q=Camiseta técnica running")
    card_image = shopper.get_by_test_id("product-card").first.get_by_role("img", name="Camiseta azul, de frente")
    expect(card_image).to_be_visible()
    assert card_image.evaluate(LOADED)  # really loaded, not a broken icon
    shopper.get_by_role("link", name="Camiseta técnica running").click()
    main = shopper.get_by_test_id("product-main-image")
    expect(main).to_have_attribute("alt", "Camiseta azul, de frente")
    assert main.evaluate(LOADED)
    shopper.get_by_test_id("gallery-thumbnail").nth(1).click()  # the gallery works without JavaScript
    expect(shopper.get_by_test_id("product-main-image")).to_have_attribute("alt", re.compile("ilustración"))


def test_a_t_shirt_in_sizes_from_the_admin_grid_to_a_customer_buying_an_m_and_a_refund_restocking_it(
        new_tab, own_shop, tmp_path):
    from PIL import Image

    photo = tmp_path / "camiseta-playa.jpg"
    Image.new("RGB", (900, 900), (240, 180, 40)).save(photo, "JPEG")
    admin = new_tab()
    log_in(admin, own_shop.logins["admin"])
    start_new_product(admin, "Camiseta Playa", "Ropa de playa", "18,00", "0")
    admin.get_by_role("button", name="Crear producto").click()
    expect(admin.get_by_text("Producto creado.")).to_be_visible()
    edit_url = admin.url
    admin.get_by_label("Imagen (JPEG, PNG o WebP, hasta 15 MB)").set_input_files(str(photo))
    admin.get_by_label("Texto alternativo: lo que muestra la imagen").fill("Camiseta amarilla de playa")
    admin.get_by_role("button", name="Añadir imagen").click()
    expect(admin.get_by_text("Imagen añadida.")).to_be_visible()

    admin.get_by_test_id("variants-link").click()
    admin.get_by_label("Nombre de la opción 1").fill("Talla")
    admin.get_by_label("Valores de la opción 1").fill("S, M, L")
    admin.get_by_role("button", name="Añadir todas las combinaciones").click()
    expect(admin.get_by_label("SKU de la fila 2")).to_have_value("CAMISETA-PLAYA-M")
    for row, stock in ((1, "2"), (2, "1"), (3, "3")):
        admin.get_by_label(f"Stock inicial de la fila {row}").fill(stock)
    admin.get_by_label("Precio propio de la fila 3").fill("20,00")
    admin.get_by_role("button", name="Guardar variantes").click()
    expect(admin.get_by_text("Variantes guardadas.")).to_be_visible()
    expect(admin.get_by_test_id("variant-stock")).to_have_text(["2", "1", "3"])

    shopper = new_tab()
    register(shopper, own_shop, "Sara Tallas", f"sara-{uuid.uuid4().hex[:8]}@example.com")
    shopper.goto("/?category=Ropa de playa")
    shopper.get_by_label("Talla").select_option("M")
    shopper.get_by_role("button", name="Aplicar filtros").click()
    shopper.get_by_role("link", name="Camiseta Playa").click()
    expect(shopper.get_by_test_id("price")).to_have_text("desde 18,00 €")
    shopper.get_by_role("radio", name=re.compile(r"^M\b")).check()
    shopper.get_by_role("button", name="Comprar").click()
    pay_on_provider_page(shopper)
    expect(shopper.get_by_test_id("order-status")).to_have_text("Pagado")
    line = shopper.get_by_test_id("order-line")
    expect(line).to_contain_text("Camiseta Playa (Talla: M)")
    expect(line).to_contain_text("SKU CAMISETA-PLAYA-M")
    image = line.get_by_role("img", name="Camiseta amarilla de playa")
    expect(image).to_be_visible()
    assert image.evaluate(LOADED)
    order_url = shopper.url
    shopper.goto("/products/" + edit_url.rstrip("/").split("/")[-1])
    expect(shopper.get_by_role("radio", name=re.compile(r"^M\b"))).to_be_disabled()  # the M sold out
    expect(shopper.get_by_test_id("variant-picker")).to_contain_text("Agotado")

    admin.goto(order_url)
    admin.get_by_label("Unidades de Camiseta Playa (Talla: M) a reembolsar").fill("1")
    admin.get_by_label("Motivo").fill("Le quedaba pequeña")
    admin.get_by_label("La mercancía ha vuelto: devolver las unidades al stock").check()
    admin.get_by_role("button", name="Reembolsar estas unidades").click()
    expect(admin.get_by_test_id("order-status")).to_have_text("Reembolsado")
    admin.goto(edit_url)
    expect(admin.get_by_test_id("variant-stock")).to_have_text(["2", "1", "3"])  # the M is back


def test_the_admin_imports_a_catalog_file_once_its_bad_row_is_reported_and_corrected(new_tab, own_shop, tmp_path):
    header = "handle;name;category;price;option1_name;option1_value;sku;stock\n"
    rows = ("gorra;Gorra de lona;Complementos;12,50;Color;rojo;GORRA-R;4\n"
            "gorra;Gorra de lona;Complementos;12,50;Color;azul;GORRA-A;{stock}\n"
            "panuelo;Pañuelo \"Estrella\";Complementos;7,95;;;PAN-1;9\n")
    bad, good = tmp_path / "catalogo.csv", tmp_path / "catalogo-corregido.csv"
    bad.write_text(header + rows.format(stock="-2"), encoding="utf-8-sig")
    good.write_text(header + rows.format(stock="2"), encoding="utf-8-sig")
    admin = new_tab()
    log_in(admin, own_shop.logins["admin"])
    admin.get_by_role("link", name="Gestión de productos").click()
    admin.get_by_test_id("import-link").click()
    admin.get_by_label("Archivo del catálogo (CSV o JSON Lines)").set_input_files(str(bad))
    admin.get_by_role("button", name="Comprobar el archivo").click()
    expect(admin.get_by_test_id("import-error")).to_have_count(1)
    expect(admin.get_by_test_id("import-error")).to_contain_text("3")
    expect(admin.get_by_test_id("import-error")).to_contain_text("stock")
    expect(admin.get_by_test_id("import-apply")).to_have_count(0)

    admin.get_by_label("Archivo del catálogo (CSV o JSON Lines)").set_input_files(str(good))
    admin.get_by_role("button", name="Comprobar el archivo").click()
    expect(admin.get_by_test_id("import-preview")).to_contain_text("se crearían 2")
    admin.get_by_test_id("import-apply").click()
    expect(admin.get_by_test_id("import-result")).to_contain_text("2 creados", timeout=20_000)

    shopper = new_tab()
    shopper.goto("/?q=GORRA-A")
    expect(shopper.get_by_role("link", name="Gorra de lona")).to_be_visible()
    shopper.goto("/?q=Pañuelo")
    expect(shopper.get_by_role("link", name='Pañuelo "Estrella"')).to_be_visible()


def test_a_customer_gets_a_full_invoice_for_a_laptop_and_a_credit_note_as_a_pdf_after_a_refund(new_tab, own_shop):
    """Comprar over the simplified invoice's limit leads to the cart's full-invoice form; the invoice
    is made out to the customer; the admin's refund issues a credit note the customer downloads."""
    shopper = new_tab()
    register(shopper, own_shop, "Rosa Autónoma", f"rosa-{uuid.uuid4().hex[:8]}@example.com")
    shopper.goto("/?q=ThinkPad")
    shopper.get_by_role("link", name="Portátil Lenovo ThinkPad E14").click()
    shopper.get_by_role("button", name="Comprar").click()
    expect(shopper.get_by_text(re.compile("necesita factura completa"))).to_be_visible()  # sent to the cart
    expect(shopper.get_by_label("Necesito factura completa (con mi NIF)")).to_be_checked()
    shopper.get_by_label("Nombre o razón social").fill("Rosa Autónoma")
    shopper.get_by_label("NIF, NIE o CIF").fill("12345678-A")  # the wrong letter
    shopper.get_by_label("Domicilio fiscal").fill("Calle Mayor 1, 28013 Madrid")
    shopper.get_by_role("button", name="Finalizar compra").click()
    expect(shopper.get_by_text("12345678A no es un NIF, NIE o CIF válido")).to_be_visible()
    shopper.get_by_label("NIF, NIE o CIF").fill("12345678-Z")
    shopper.get_by_role("button", name="Finalizar compra").click()
    expect(shopper.get_by_test_id("order-status")).to_have_text("Pendiente de pago")
    pay_on_provider_page(shopper)
    expect(shopper.get_by_test_id("order-status")).to_have_text("Pagado")
    order_url = shopper.url
    shopper.get_by_test_id("invoice-link").click()
    expect(shopper.get_by_role("heading", name="Factura", exact=True)).to_be_visible()
    expect(shopper.get_by_test_id("invoice-party")).to_contain_text("12345678Z")
    expect(shopper.get_by_test_id("invoice-number")).to_contain_text("F-")
    expect(shopper.get_by_test_id("invoice-qr")).to_contain_text("QR tributario:")

    admin = new_tab()
    log_in(admin, own_shop.logins["admin"])
    admin.goto(order_url)
    admin.get_by_label("Unidades de Portátil Lenovo ThinkPad E14 a reembolsar").fill("1")
    admin.get_by_label("Motivo").fill("No arranca")
    admin.get_by_role("button", name="Reembolsar estas unidades").click()
    expect(admin.get_by_test_id("order-status")).to_have_text("Reembolsado")

    shopper.goto(order_url)
    link = shopper.get_by_test_id("credit-note-link")
    expect(link).to_contain_text("Factura rectificativa R-")
    with shopper.expect_download() as download:
        shopper.get_by_test_id("refund").get_by_role("link", name="PDF", exact=True).click()
    assert download.value.suggested_filename.startswith("rectificativa-R-")
    assert open(download.value.path(), "rb").read().startswith(b"%PDF-")  # noqa: SIM115 - a test's read
