"""A shopper buys in the browser: Comprar, the cart, Pedidos, pay, cancel."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import pay_on_provider_page, register


@pytest.fixture
def shopper(page, shop):
    """A freshly registered customer, logged in (each test its own, so orders do not mix)."""
    register(page, shop, "Clara Compradora", f"compras-{uuid.uuid4().hex[:8]}@example.com")
    expect(page.get_by_test_id("current-user")).to_contain_text("Clara Compradora")
    return page


def open_product(page, name: str) -> None:
    page.goto("/?q=" + name)
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()


def test_comprar_then_pay_from_pedidos(shopper):
    page = shopper
    open_product(page, "Pedro Páramo")
    page.get_by_label("Cantidad").fill("2")
    page.get_by_role("button", name="Comprar").click()
    expect(page.get_by_text(re.compile(r"Pedido \d+ realizado\. Total: 19,00"))).to_be_visible()
    expect(page.get_by_test_id("order-status")).to_have_text("Pendiente de pago")
    expect(page.get_by_test_id("order-items")).to_contain_text("Pedro Páramo")

    page.get_by_role("link", name="Pedidos").first.click()
    expect(page.get_by_test_id("order-row")).to_have_count(1)
    expect(page.get_by_test_id("order-row")).to_contain_text("2 × Pedro Páramo")
    page.get_by_test_id("order-row").click()

    expect(page.get_by_label("Número de tarjeta")).to_have_count(0)  # the shop never asks for a card
    pay_on_provider_page(page, "declined")
    expect(page.get_by_text("El pago ha sido rechazado (tarjeta rechazada)")).to_be_visible()
    expect(page.get_by_test_id("order-status")).to_have_text("Pendiente de pago")

    pay_on_provider_page(page, "paid")
    expect(page.get_by_text(re.compile(r"Pago recibido"))).to_be_visible()
    expect(page.get_by_test_id("order-status")).to_have_text("Pagado")
    expect(page.get_by_test_id("payments")).to_contain_text("rechazado")
    expect(page.get_by_test_id("order-history")).to_contain_text("Pagado")
    expect(page.get_by_role("button", name="Cancelar pedido")).to_have_count(0)


def test_asking_for_more_than_the_stock_says_how_many_are_left(shopper):
    page = shopper
    open_product(page, "Portátil MSI Katana 15")  # the demo's last unit
    page.get_by_label("Cantidad").evaluate("el => el.removeAttribute('max')")
    page.get_by_label("Cantidad").fill("3")
    page.get_by_role("button", name="Comprar").click()
    expect(page.get_by_test_id("buy-error")).to_have_text("Solo quedan 1 unidades de Portátil MSI Katana 15.")


def test_a_cart_checkout_then_cancel_returns_the_stock(shopper):
    page = shopper
    open_product(page, "Camiseta polo piqué")
    page.get_by_label("Cantidad").fill("2")
    page.get_by_role("button", name="Añadir al carrito").click()
    expect(page.get_by_text("Camiseta polo piqué añadido a tu carrito.")).to_be_visible()
    open_product(page, "Rayuela")
    page.get_by_role("button", name="Añadir al carrito").click()
    expect(page.get_by_test_id("cart-line")).to_have_count(2)
    expect(page.get_by_test_id("cart-total")).to_have_text("82,95\xa0€")

    page.get_by_role("button", name="Finalizar compra").click()
    expect(page.get_by_test_id("order-status")).to_have_text("Pendiente de pago")
    expect(page.get_by_test_id("order-total")).to_have_text("82,95\xa0€")
    page.get_by_role("link", name="Carrito").click()
    expect(page.get_by_test_id("empty-cart")).to_be_visible()

    page.get_by_role("link", name="Pedidos").first.click()
    page.get_by_test_id("order-row").first.click()
    page.get_by_role("button", name="Cancelar pedido").click()
    expect(page.get_by_test_id("confirmation")).to_contain_text("se cancela definitivamente")
    page.get_by_role("button", name="Sí, cancelar el pedido").click()
    expect(page.get_by_test_id("order-status")).to_have_text("Cancelado")
    open_product(page, "Rayuela")
    expect(page.get_by_test_id("stock")).to_contain_text("7")  # back to the demo's 7 units


def test_a_double_click_on_comprar_places_one_order(shopper):
    page = shopper
    open_product(page, "Pedro Páramo")
    page.evaluate("() => { const f = document.querySelector('form[action$=\"/orders/buy\"]');"
                  " f.requestSubmit(); f.requestSubmit(); }")
    expect(page.get_by_test_id("order-status")).to_be_visible()
    page.get_by_role("link", name="Pedidos").first.click()
    expect(page.get_by_test_id("order-row")).to_have_count(1)
