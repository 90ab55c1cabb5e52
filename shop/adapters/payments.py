"""The simulated payment provider: the development default, shaped like a real one (docs/payments.md).

Like Redsys or Stripe Checkout it has its own payment page (served by the shop under
`/pasarela-simulada/`, shop.web.simulated_provider, standing in for the provider's site) and tells
the shop the outcome in a signed notification that goes through the same check and the same
settlement as a real provider's. Its page asks for no card number. The person chooses the outcome:
    paid                → the charge succeeds
    card declined       → declined
    insufficient funds  → declined
so no configuration of the shop ever receives a card number.

Its requests and notifications are signed with HMAC-SHA256 under a key derived from the shop's
SECRET_KEY: a notification written by anyone else is refused like a forged one from a real provider.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from shop.domain.errors import N_
from shop.domain.payments import (
    ForgedNotice,
    PaymentNotice,
    PaymentRequest,
    ProviderRedirect,
    RefundResult,
    cents,
    from_cents,
    parse_provider_order,
)

OUTCOMES = {"paid": None, "declined": "card declined", "insufficient_funds": "insufficient funds"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SimulatedCheckout:
    """What the simulated provider's page was asked to charge (read back from its signed link)."""
    provider_order: str
    order_id: int
    amount: Decimal
    description: str
    return_url: str
    notify_url: str


class SimulatedPaymentProvider:
    name = "simulated"

    def __init__(self, secret: str, page_url: str = "/pasarela-simulada"):
        self._key = hashlib.sha256(f"simulated-provider:{secret}".encode()).digest()
        self.page_url = page_url.rstrip("/")

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def _signed(self, data: dict) -> str:
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def _verified(self, token: str) -> dict:
        body, _, signature = token.partition(".")
        try:
            payload = _unb64(body)
            genuine = hmac.compare_digest(self._sign(payload), signature)
            data = json.loads(payload) if genuine else None
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise ForgedNotice(N_("That payment notification is not signed by the payment provider."))
        return data

    # --- the port (shop.services.ports.PaymentProvider) ------------------------------------------

    def start(self, request: PaymentRequest) -> ProviderRedirect:
        token = self._signed({"o": request.provider_order, "i": request.order_id, "a": cents(request.amount),
                              "d": request.description[:120], "r": request.return_url, "n": request.notify_url})
        return ProviderRedirect(f"{self.page_url}/{token}")

    def read_notice(self, body: bytes, form: Mapping[str, str], headers: Mapping[str, str]) -> PaymentNotice:
        data = self._verified(form.get("notification", ""))
        try:
            return PaymentNotice(parse_provider_order(data["o"]), bool(data["ok"]), from_cents(int(data["a"])),
                                 str(data["ref"]) if data.get("ref") else None, data.get("why"))
        except (KeyError, TypeError, ValueError):
            raise ForgedNotice(N_("That payment notification is not signed by the payment provider.")) from None

    def refund(self, payment_reference: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        """The same key always names the same refund (as a real provider's idempotency key does)."""
        digest = hashlib.sha256(f"{payment_reference}:{idempotency_key}".encode()).hexdigest()[:16]
        return RefundResult(reference=f"sim_re_{digest}")

    # --- the provider's own side (its page) -------------------------------------------------------

    def checkout(self, token: str) -> SimulatedCheckout:
        """The payment a link of this provider's page is for (a link it did not sign: ForgedNotice)."""
        data = self._verified(token)
        try:
            return SimulatedCheckout(parse_provider_order(data["o"]), int(data["i"]), from_cents(int(data["a"])),
                                     str(data["d"]), str(data["r"]), str(data["n"]))
        except (KeyError, TypeError, ValueError):
            raise ForgedNotice(N_("That payment link is not valid.")) from None

    def notification(self, checkout: SimulatedCheckout, outcome: str) -> dict[str, str]:
        """The signed form this provider posts to the shop's notification address for an outcome."""
        succeeded = outcome == "paid"
        return {"notification": self._signed({
            "o": checkout.provider_order, "ok": succeeded, "a": cents(checkout.amount),
            "ref": f"sim_{secrets.token_hex(8)}" if succeeded else None,
            "why": OUTCOMES.get(outcome, "card declined")})}
