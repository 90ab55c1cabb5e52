"""Paying in tests as a customer does: the order is sent to the simulated provider's page, the
outcome chosen there comes back as a signed notification, and the shop settles it."""

from __future__ import annotations

from shop.adapters.payments import SimulatedPaymentProvider
from shop.services import orders
from shop.services.orders import NoticeOutcome, PaymentUrls
from tests.conftest import csrf_token_from

PROVIDER_SECRET = "t" * 48  # the integration tests' SECRET_KEY (tests/integration/conftest.py)
URLS = PaymentUrls("Pedido de prueba", "/orders/return", "/pagos/simulated/notificacion")


def simulated_provider() -> SimulatedPaymentProvider:
    return SimulatedPaymentProvider(PROVIDER_SECRET)


def pay(db, actor, order_id: int, outcome: str = "paid", limits=None) -> NoticeOutcome | None:
    """Through the services: start the payment, choose `outcome` on the provider's page ("paid",
    "declined", "insufficient_funds"), settle its notification. None: nothing was charged (0,00)."""
    provider = simulated_provider()
    start = orders.begin_payment(db, provider, actor, order_id, URLS, limits)
    if start.redirect is None:
        return None
    checkout = provider.checkout(start.redirect.url.rsplit("/", 1)[1])
    notice = provider.read_notice(b"", provider.notification(checkout, outcome), {})
    return orders.settle_notice(db, provider, notice, limits)


def pay_on_pages(client, order_id: int, outcome: str = "paid"):
    """Through the pages, as a browser: Pagar, the simulated provider's page, back to the order.
    Returns the answer of the last step (the provider's page refusing, or the return to the shop)."""
    token = csrf_token_from(client.get(f"/orders/{order_id}").get_data(as_text=True))
    started = client.post(f"/orders/{order_id}/pay", data={"csrf_token": token})
    if started.status_code != 303 or "/pasarela-simulada/" not in started.headers.get("Location", ""):
        return started
    page = client.get(started.headers["Location"])
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(started.headers["Location"], data={"csrf_token": token, "outcome": outcome},
                       follow_redirects=True)
