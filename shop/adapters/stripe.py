"""Stripe, through Checkout Sessions and signed webhooks, as published in Stripe's API reference
(no SDK: three HTTPS calls and one signature).

- `start`: `POST /v1/checkout/sessions` (form-encoded, `Authorization: Bearer <secret key>`) with one
  line for the order's total in euro cents, `client_reference_id` and metadata carrying the shop's
  attempt number, and the attempt number as the `Idempotency-Key` (asking twice makes one session).
  The customer's browser is sent to the session's `url`: Stripe's page takes the card.
- `read_notice`: Stripe posts events as JSON with a `Stripe-Signature: t=<unix time>,v1=<hex>` header.
  v1 is the HMAC-SHA256, under the endpoint's signing secret (`whsec_…`), of `<t>.<raw body>`. The
  shop accepts a signature only if one v1 matches (compared in constant time) and `t` is within the
  tolerance (5 minutes), so a captured event cannot be replayed later. Events acted on:
  `checkout.session.completed` with `payment_status: paid` and `checkout.session.async_payment_succeeded`
  (paid); `checkout.session.async_payment_failed` and `checkout.session.expired` (declined). Other
  genuine events are acknowledged and ignored.
- `refund`: `POST /v1/refunds` with the PaymentIntent and the amount in cents, under the refund's own
  `Idempotency-Key`: asking twice refunds once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from shop.adapters.errors import ProviderUnavailable
from shop.domain.errors import N_
from shop.domain.payments import (
    ForgedNotice,
    IgnoredNotice,
    PaymentNotice,
    PaymentRequest,
    ProviderRedirect,
    RefundResult,
    cents,
    from_cents,
    parse_provider_order,
)

SIGNATURE_TOLERANCE_SECONDS = 300
_PAID = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
_DECLINED = ("checkout.session.async_payment_failed", "checkout.session.expired")


def signed_payload_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The v1 signature of `body` sent at `timestamp` (hex)."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, header: str, body: bytes, now: float,
                     tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """Whether `header` (Stripe-Signature) signs `body` with `secret`, at a time within `tolerance`."""
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = signed_payload_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


@dataclass(frozen=True)
class StripeSettings:
    secret_key: str  # sk_live_… or sk_test_… (the Dashboard's API keys)
    webhook_secret: str  # whsec_… (the Dashboard's webhook endpoint, "Signing secret")
    api_base: str = "https://api.stripe.com"


class StripeProvider:
    name = "stripe"

    def __init__(self, settings: StripeSettings, timeout: float = 20.0, clock: Callable[[], float] = time.time):
        self._settings = settings
        self._timeout = timeout
        self._clock = clock

    def _post(self, path: str, fields: Mapping[str, str], idempotency_key: str) -> dict:
        call = urllib.request.Request(  # noqa: S310 - the configured https API base
            f"{self._settings.api_base}{path}", data=urllib.parse.urlencode(fields).encode(), method="POST",
            headers={"Authorization": f"Bearer {self._settings.secret_key}", "Idempotency-Key": idempotency_key,
                     "Content-Type": "application/x-www-form-urlencoded", "Stripe-Version": "2024-06-20"})
        try:
            with urllib.request.urlopen(call, timeout=self._timeout) as answer:  # noqa: S310
                reply = json.load(answer)
        except urllib.error.HTTPError as error:
            raise ProviderUnavailable(f"Stripe refused {path}: HTTP {error.code} {_error_message(error)}") from error
        except (OSError, ValueError) as error:
            raise ProviderUnavailable(f"Stripe {path}: {error}") from error
        if not isinstance(reply, dict):
            raise ProviderUnavailable(f"Stripe {path}: the answer is not a JSON object")
        return reply

    def start(self, request: PaymentRequest) -> ProviderRedirect:
        order = request.provider_order
        session = self._post("/v1/checkout/sessions", {
            "mode": "payment", "client_reference_id": order, "metadata[provider_order]": order,
            "metadata[order_id]": str(request.order_id), "payment_intent_data[metadata][provider_order]": order,
            "line_items[0][quantity]": "1", "line_items[0][price_data][currency]": "eur",
            "line_items[0][price_data][unit_amount]": str(cents(request.amount)),
            "line_items[0][price_data][product_data][name]": request.description[:250],
            "success_url": request.return_url, "cancel_url": request.return_url}, idempotency_key=f"session-{order}")
        url = session.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ProviderUnavailable(f"Stripe gave no payment page for {order}")
        return ProviderRedirect(url, "GET")

    def read_notice(self, body: bytes, form: Mapping[str, str], headers: Mapping[str, str]) -> PaymentNotice:
        forged = ForgedNotice(N_("That payment notification is not signed by the payment provider."))
        header = next((value for name, value in headers.items() if name.lower() == "stripe-signature"), "")
        if not verify_signature(self._settings.webhook_secret, header, body, self._clock()):
            raise forged
        try:
            event = json.loads(body)
            kind, session = event["type"], event["data"]["object"]
        except (ValueError, KeyError, TypeError):
            raise forged from None
        if kind not in _PAID + _DECLINED or not isinstance(session, dict):
            raise IgnoredNotice(kind)
        if kind == "checkout.session.completed" and session.get("payment_status") != "paid":
            raise IgnoredNotice(f"{kind} ({session.get('payment_status')}): the outcome follows later")
        try:
            order = parse_provider_order(str(session["client_reference_id"]))
            amount = from_cents(int(session["amount_total"]))
        except (KeyError, ValueError, TypeError):
            raise forged from None
        if str(session.get("currency", "eur")).lower() != "eur":
            raise forged
        succeeded = kind in _PAID
        intent = session.get("payment_intent")
        return PaymentNotice(order, succeeded, amount, str(intent) if succeeded and intent else None,
                             None if succeeded else f"Stripe {kind.rsplit('.', 1)[-1]}")

    def refund(self, payment_reference: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        """A refund of part or all of a PaymentIntent; Stripe refunds once per idempotency key."""
        refund = self._post("/v1/refunds", {"payment_intent": payment_reference, "amount": str(cents(amount))},
                            idempotency_key=f"refund-{idempotency_key}")
        if refund.get("status") not in ("succeeded", "pending") or not refund.get("id"):
            raise ProviderUnavailable(f"Stripe did not refund {payment_reference}: status {refund.get('status')}")
        return RefundResult(reference=str(refund["id"]))


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(error)["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError, OSError):
        return ""
