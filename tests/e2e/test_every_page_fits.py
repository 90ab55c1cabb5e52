"""Every page a visitor, a customer, an admin and an auditor can reach fits every screen from 360 to
1920 px wide: no sideways scrolling, no control narrower than a fingertip (24 px), and axe-core finds
no serious or critical accessibility problem on it. The pages come from the app's URL map, not from
a list someone keeps: a new page is checked as soon as it exists, and a new page with a parameter
fails here until it gets a sample value below."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import expect

from shop import create_app
from tests.conftest import ROOT
from tests.e2e.conftest import mailed_link, pay_on_provider_page, register, start_shop, stop_shop

WIDTHS = (360, 390, 768, 1024, 1280, 1366, 1920)
AXE_WIDTH = 1366  # with the menu open: everything a page shows is in the document
AXE = ROOT / "tools" / "node_modules" / "axe-core" / "axe.min.js"

# Endpoints that answer a file or data, not a page: nothing to lay out.
NOT_PAGES = {
    "static", "bootstrap.static", "images.show", "health.healthz", "health.readyz", "monitoring.scrape",
    "imports.export", "invoice_book.book", "audit_log.export", "orders.invoice_pdf", "orders.credit_note_pdf",
    "orders.payment_return",  # the provider's redirect back: it answers with a redirect to the order
}

# Every page's sideways overflow and narrow controls, read in the page. Hidden elements (the closed
# menu, hidden inputs) have no boxes; a control inside a scrolling container (a wide table made to
# scroll on its own) counts at its own width.
MEASURE = """() => {
  const narrow = [];
  for (const el of document.querySelectorAll('button, input:not([type=hidden]), select, textarea, .btn')) {
    const box = el.getBoundingClientRect();
    if (!el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
    if (box.width < 24) {
      const name = (el.getAttribute('aria-label') || el.name || el.id || el.textContent || '').trim().slice(0, 40);
      narrow.push(`${el.tagName.toLowerCase()} "${name}" ${Math.round(box.width)} px`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, narrow};
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
}"""


@dataclass
class Shop:
    """The running shop and the sample values its pages with parameters are checked with."""
    running: object
    samples: dict[str, list[dict]] = field(default_factory=dict)
    extra_pages: list[str] = field(default_factory=list)
    storage: dict[str, dict] = field(default_factory=dict)  # identity -> the browser's logged-in state


def log_in(page, email: str, password: str) -> None:
    page.goto("/auth/login")
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_test_id("current-user")).to_be_visible()


def comprar(page, search: str, product: str) -> None:
    page.goto("/?q=" + search)
    page.get_by_role("link", name=product).first.click()
    page.get_by_role("button", name="Comprar").click()
    expect(page.get_by_test_id("order-status")).to_have_text("Pendiente de pago")


@pytest.fixture(scope="module")
def shop_with_data(tmp_path_factory, browser):
    """A shop in every state its pages show: the demo catalog (many products), a customer with
    nothing yet, and one with a paid and partly refunded order, an unpaid one, a cart and an
    address; a checked import; a password-reset link."""
    running = start_shop(tmp_path_factory.mktemp("widths") / "var")
    try:
        yield fill_shop(running, browser, tmp_path_factory)
    finally:
        stop_shop(running)


def fill_shop(running, browser, tmp_path_factory) -> Shop:
    shop = Shop(running)
    logins = running.logins
    context = browser.new_context(base_url=running.url, locale="es-ES")
    try:
        page = context.new_page()
        # A long name, as real ones are: the navbar must still fit.
        many_email = f"maria-{uuid.uuid4().hex[:8]}@example.com"
        register(page, running, "María de los Ángeles Fernández-Villaverde", many_email)
        comprar(page, "Pedro Páramo", "Pedro Páramo")
        pay_on_provider_page(page)
        paid_order = page.url
        comprar(page, "Pedro Páramo", "Pedro Páramo")  # left unpaid
        page.goto("/?q=ThinkPad")
        page.get_by_role("link", name="Portátil Lenovo ThinkPad E14").click()
        page.get_by_role("button", name="Comprar").click()  # over the limit: into the cart, with its invoice form
        expect(page.get_by_label("Necesito factura completa (con mi NIF)")).to_be_checked()
        page.goto("/?q=Pedro Páramo")
        page.get_by_role("link", name="Pedro Páramo").first.click()
        product_id = page.url.split("?")[0].rstrip("/").split("/")[-1]
        page.get_by_role("button", name="Añadir al carrito").click()
        shop.storage["customer with orders"] = context.storage_state()
        order_ids = sorted({int(n) for n in re.findall(r'href="/orders/(\d+)"', page.goto("/orders/").text())})

        staff = browser.new_context(base_url=running.url, locale="es-ES")
        admin = staff.new_page()
        log_in(admin, logins["admin"]["email"], logins["admin"]["password"])
        admin.goto(paid_order)
        admin.get_by_label("Unidades de Pedro Páramo a reembolsar").fill("1")
        admin.get_by_label("Motivo").fill("Llegó dañado")
        admin.get_by_role("button", name="Reembolsar estas unidades").click()
        expect(admin.get_by_test_id("order-status")).to_have_text("Reembolsado")
        credit_note = admin.get_by_test_id("credit-note-link").get_attribute("href")
        order_id, refund_id = (int(n) for n in re.findall(r"\d+", credit_note))
        admin.goto("/admin/catalog/import")
        upload = tmp_path_factory.mktemp("import") / "catalogo.csv"
        upload.write_text("handle;name;category;price;sku;stock\nbufanda;Bufanda;Complementos;19,90;BUF-1;3\n",
                          encoding="utf-8")
        admin.get_by_label("Archivo del catálogo (CSV o JSON Lines)").set_input_files(str(upload))
        admin.get_by_role("button", name="Comprobar el archivo").click()
        expect(admin.get_by_test_id("import-apply")).to_be_visible()
        upload_id = admin.url.rstrip("/").split("/")[-1]
        shop.storage["admin"] = staff.storage_state()
        staff.close()

        auditor = browser.new_context(base_url=running.url, locale="es-ES")
        log_in(auditor.new_page(), logins["auditor"]["email"], logins["auditor"]["password"])
        shop.storage["auditor"] = auditor.storage_state()
        auditor.close()

        empty = browser.new_context(base_url=running.url, locale="es-ES")
        empty_page = empty.new_page()
        empty_email = f"nuevo-{uuid.uuid4().hex[:8]}@example.com"
        register(empty_page, running, "Nuevo Cliente", empty_email)
        activation = mailed_link(running.data_dir, empty_email, "/auth/activate/")
        shop.storage["customer with nothing yet"] = empty.storage_state()
        empty.clear_cookies()
        empty_page.goto("/auth/password-reset")
        empty_page.get_by_label("Correo electrónico").fill(many_email)
        empty_page.get_by_role("button", name="Envíame un enlace").click()
        reset = mailed_link(running.data_dir, many_email, "/auth/password-reset/")
        empty.close()

        page.goto(f"/orders/{max(order_ids)}")  # the unpaid one
        page.get_by_role("button", name=re.compile("^Pagar")).click()
        expect(page.get_by_test_id("simulated-provider")).to_be_visible()
        provider = page.url
        shop.samples = {
            "catalog.product": [{"product_id": product_id}],
            "staff_products.edit": [{"product_id": product_id}],
            "staff_variants.show": [{"product_id": product_id}],
            "orders.detail": [{"order_id": n} for n in order_ids],
            "orders.invoice": [{"order_id": order_id}],
            "orders.credit_note": [{"order_id": order_id, "refund_id": refund_id}],
            "imports.show": [{"upload_id": upload_id}],
            "auth.activate": [{"token": activation.rsplit("/", 1)[-1]}],  # used already: the page says so
            "auth.reset_password": [{"token": reset.rsplit("/", 1)[-1]}],
            "simulated_provider.page": [{"token": provider.rsplit("/", 1)[-1]}],
        }
        # States of one page that the URL map cannot know: a search with no match, filters, a
        # missing page.
        shop.extra_pages = ["/?q=zzzzyyyy", "/?category=Libros&sort=price_desc", "/no-such-page",
                            "/admin/orders/?status=paid", "/admin/audit/?action=order.refunded"]
    finally:
        context.close()
    return shop


def pages_to_check(shop: Shop) -> list[str]:
    app = create_app()
    adapter = app.url_map.bind("localhost")
    urls, unknown = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_PAGES:
            continue
        if rule.endpoint.startswith("api_v1.") and rule.endpoint != "api_v1.docs_page":
            continue  # JSON for programs; tests/e2e/test_api_contract.py checks it
        if not rule.arguments:
            urls.append(rule.rule)
        elif rule.endpoint in shop.samples:
            urls.extend(adapter.build(rule.endpoint, values) for values in shop.samples[rule.endpoint])
        else:
            unknown.append(f"{rule.rule} ({rule.endpoint})")
    assert not unknown, f"pages with parameters and no sample value in {__file__}: {unknown}"
    return urls + shop.extra_pages


IDENTITIES = ("visitor", "customer with nothing yet", "customer with orders", "admin", "auditor")


@pytest.mark.parametrize("identity", IDENTITIES)
def test_every_page_this_person_reaches_fits_every_width_and_has_no_serious_accessibility_problem(
        identity, shop_with_data, browser):
    context = browser.new_context(base_url=shop_with_data.running.url, locale="es-ES",
                                  storage_state=shop_with_data.storage.get(identity),
                                  viewport={"width": WIDTHS[-1], "height": 900},
                                  bypass_csp=True)  # for axe's script; the policy has its own test
    page = context.new_page()
    problems, seen = [], set()
    try:
        for url in pages_to_check(shop_with_data):
            response = page.goto(url)
            status = response.status if response else 0
            if status in (401, 403, 405) or (status == 404 and url != "/no-such-page"):
                continue  # not this person's page
            if "text/html" not in (response.headers.get("content-type", "") if response else ""):
                continue
            if page.url in seen:
                continue  # sent to a page checked already (a staff page to the login form)
            seen.add(page.url)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                layout = page.evaluate(MEASURE)
                if layout["scrollWidth"] > layout["innerWidth"]:
                    problems.append(f"{url} at {width}: the page is {layout['scrollWidth']} px wide")
                if layout["narrow"]:
                    problems.append(f"{url} at {width}: narrower than 24 px: {layout['narrow'][:4]}")
                if width == AXE_WIDTH:
                    page.add_script_tag(path=str(AXE))
                    problems.extend(f"{url} at {width}: {v}" for v in page.evaluate(AXE_RUN))
            page.set_viewport_size({"width": WIDTHS[-1], "height": 900})
    finally:
        context.close()
    assert len(seen) >= 5, f"only {len(seen)} pages answered {identity}"
    assert not problems, f"{identity}, {len(seen)} pages:\n" + "\n".join(problems)


def test_a_new_page_with_a_parameter_and_no_sample_is_refused_by_this_check(shop_with_data):
    bare = Shop(shop_with_data.running, samples={k: v for k, v in shop_with_data.samples.items()
                                                 if k != "catalog.product"})
    with pytest.raises(AssertionError, match="catalog.product"):
        pages_to_check(bare)


def test_the_sample_values_were_all_used(shop_with_data):
    app = create_app()
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(shop_with_data.samples) <= endpoints, json.dumps(sorted(set(shop_with_data.samples) - endpoints))
