"""The simulated provider's own payment page (`/pasarela-simulada/<link>`), standing in for Redsys'
or Stripe's: served only while PAYMENT_PROVIDER=simulated (the default in development and tests;
refused in production).

It shows what is being paid and lets the person choose the outcome (paid, card declined,
insufficient funds). It asks for no card number, so no configuration of the shop receives one. The
outcome reaches the shop as a real provider's does: a signed notification through the same check
and settlement (shop.web.payments.receive_notice); then the browser goes back to the shop.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from shop.adapters.payments import OUTCOMES, SimulatedPaymentProvider
from shop.domain.errors import N_, InvalidInput
from shop.web.access import public
from shop.web.extensions import get_payment_provider
from shop.web.payments import receive_notice

bp = Blueprint("simulated_provider", __name__, url_prefix="/pasarela-simulada")


def _provider() -> SimulatedPaymentProvider:
    provider = get_payment_provider()
    if not isinstance(provider, SimulatedPaymentProvider):
        abort(404)  # a real provider is configured: this page does not exist
    return provider


@bp.get("/<token>")
@public
def page(token: str):
    checkout = _provider().checkout(token)
    return render_template("payments/simulated_page.html", checkout=checkout, outcomes=OUTCOMES)


@bp.post("/<token>")
@public
def decide(token: str):
    provider = _provider()
    checkout = provider.checkout(token)
    outcome = request.form.get("outcome", "")
    if outcome not in OUTCOMES:
        raise InvalidInput(N_("Choose how the simulated payment ends."))
    receive_notice(provider, b"", provider.notification(checkout, outcome), {})
    return redirect(checkout.return_url, 303)
