"""Redsys (the card gateway most Spanish banks use), signature version HMAC_SHA256_V1, as published
in Redsys' integration guides ("Redirección" for the payment page, "REST" for refunds).

- The customer's browser posts three fields to Redsys' payment page: `Ds_SignatureVersion`,
  `Ds_MerchantParameters` (Base64 of a JSON object: amount in cents, order number, merchant code,
  terminal, currency 978, transaction type 0, and the notification, OK and KO addresses) and
  `Ds_Signature`.
- The signature: the merchant's secret key (Base64, 24 bytes) encrypts the order number with 3DES
  (CBC, zero IV, zero padding). The result is that order's own key. Ds_Signature is the Base64
  HMAC-SHA256, under that key, of the Ds_MerchantParameters text.
- Redsys posts the outcome to the notification address with the same three fields. The
  `Ds_Signature` is in URL-safe Base64. `Ds_Response` 0000–0099 means authorised, anything else
  declined. The shop checks the signature (compared in constant time) before it believes a word.
- A refund is a REST call (transaction type 3, the original order number and the amount). Redsys
  answers `Ds_Response` 0900 when the refund is accepted.

The order number is the shop's attempt number (12 digits: Redsys wants 4 to 12 characters, the
first 4 digits, and never the same number twice).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from shop.adapters.errors import ProviderUnavailable
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

SIGNATURE_VERSION = "HMAC_SHA256_V1"
EURO = "978"
AUTHORISATION, REFUND = "0", "3"
REFUND_ACCEPTED = "0900"


def order_key(secret_b64: str, order: str) -> bytes:
    """The order's own key: its number encrypted with 3DES under the merchant key (zero IV, zero padding)."""
    data = order.encode()
    data += b"\0" * (-len(data) % 8)
    encryptor = Cipher(TripleDES(base64.b64decode(secret_b64)), modes.CBC(b"\0" * 8)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def signature(secret_b64: str, order: str, merchant_parameters: str) -> str:
    """Ds_Signature (standard Base64) of `merchant_parameters` for `order`."""
    digest = hmac.new(order_key(secret_b64, order), merchant_parameters.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _same_signature(expected: str, given: str) -> bool:
    """Redsys writes its own signatures in URL-safe Base64: compare both spellings as bytes."""
    def raw(text: str) -> bytes:
        text = text.strip().replace("-", "+").replace("_", "/")
        return base64.b64decode(text + "=" * (-len(text) % 4))
    try:
        return hmac.compare_digest(raw(expected), raw(given))
    except ValueError:
        return False


def encode_parameters(parameters: Mapping[str, str]) -> str:
    return base64.b64encode(json.dumps(dict(parameters), separators=(",", ":")).encode()).decode()


def decode_parameters(text: str) -> dict:
    text = text.strip().replace("-", "+").replace("_", "/")
    decoded = json.loads(base64.b64decode(text + "=" * (-len(text) % 4)))
    if not isinstance(decoded, dict):
        raise ValueError("Ds_MerchantParameters is not a JSON object")
    return decoded


@dataclass(frozen=True)
class RedsysSettings:
    merchant_code: str  # FUC, 9 digits
    terminal: str
    secret_key: str  # the merchant's SHA-256 key, Base64 (from the bank's back office)
    payment_url: str  # https://sis-t.redsys.es:25443/sis/realizarPago (tests) or sis.redsys.es (live)
    rest_url: str  # …/sis/rest/trataPeticionREST


class RedsysProvider:
    name = "redsys"

    def __init__(self, settings: RedsysSettings, timeout: float = 20.0):
        self._settings = settings
        self._timeout = timeout

    def _signed_fields(self, order: str, parameters: Mapping[str, str]) -> dict[str, str]:
        encoded = encode_parameters(parameters)
        return {"Ds_SignatureVersion": SIGNATURE_VERSION, "Ds_MerchantParameters": encoded,
                "Ds_Signature": signature(self._settings.secret_key, order, encoded)}

    def start(self, request: PaymentRequest) -> ProviderRedirect:
        order = request.provider_order
        fields = self._signed_fields(order, {
            "DS_MERCHANT_AMOUNT": str(cents(request.amount)), "DS_MERCHANT_ORDER": order,
            "DS_MERCHANT_MERCHANTCODE": self._settings.merchant_code, "DS_MERCHANT_TERMINAL": self._settings.terminal,
            "DS_MERCHANT_CURRENCY": EURO, "DS_MERCHANT_TRANSACTIONTYPE": AUTHORISATION,
            "DS_MERCHANT_PRODUCTDESCRIPTION": request.description[:125],
            "DS_MERCHANT_MERCHANTURL": request.notify_url,
            "DS_MERCHANT_URLOK": request.return_url, "DS_MERCHANT_URLKO": request.return_url})
        return ProviderRedirect(self._settings.payment_url, "POST", tuple(fields.items()))

    def read_notice(self, body: bytes, form: Mapping[str, str], headers: Mapping[str, str]) -> PaymentNotice:
        forged = ForgedNotice(N_("That payment notification is not signed by the payment provider."))
        encoded, given = form.get("Ds_MerchantParameters", ""), form.get("Ds_Signature", "")
        if form.get("Ds_SignatureVersion") != SIGNATURE_VERSION or not encoded or not given:
            raise forged
        try:
            parameters = {key.lower(): value for key, value in decode_parameters(encoded).items()}
            order = parse_provider_order(str(parameters["ds_order"]))
        except (KeyError, ValueError, UnicodeDecodeError):
            raise forged from None
        if not _same_signature(signature(self._settings.secret_key, order, encoded), given):
            raise forged
        if str(parameters.get("ds_merchantcode")) != self._settings.merchant_code:
            raise forged
        try:
            response = int(str(parameters["ds_response"]))
            amount = from_cents(int(str(parameters["ds_amount"])))
        except (KeyError, ValueError):
            raise forged from None
        succeeded = 0 <= response <= 99
        return PaymentNotice(order, succeeded, amount, order if succeeded else None,
                             None if succeeded else f"Redsys {response:04d}")

    def refund(self, payment_reference: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        """A refund of part or all of an authorised order (its Redsys order number). Redsys has no
        idempotency key: the shop asks once per refund, under the order's lock (shop.services.refunds)."""
        order = payment_reference
        request = self._signed_fields(order, {
            "DS_MERCHANT_AMOUNT": str(cents(amount)), "DS_MERCHANT_ORDER": order,
            "DS_MERCHANT_MERCHANTCODE": self._settings.merchant_code, "DS_MERCHANT_TERMINAL": self._settings.terminal,
            "DS_MERCHANT_CURRENCY": EURO, "DS_MERCHANT_TRANSACTIONTYPE": REFUND})
        call = urllib.request.Request(self._settings.rest_url, data=json.dumps(request).encode(), method="POST",  # noqa: S310 - configured https URL
                                      headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(call, timeout=self._timeout) as answer:  # noqa: S310
                reply = json.load(answer)
        except (OSError, ValueError) as error:
            raise ProviderUnavailable(f"Redsys refund of {order}: {error}") from error
        encoded = reply.get("Ds_MerchantParameters", "") if isinstance(reply, dict) else ""
        if not encoded:
            raise ProviderUnavailable(f"Redsys refused the refund of {order}: {reply.get('errorCode', reply)}")
        if not _same_signature(signature(self._settings.secret_key, order, encoded), reply.get("Ds_Signature", "")):
            raise ProviderUnavailable(f"Redsys' answer to the refund of {order} is not signed by Redsys")
        parameters = {key.lower(): value for key, value in decode_parameters(encoded).items()}
        if str(parameters.get("ds_response")) != REFUND_ACCEPTED:
            raise ProviderUnavailable(
                f"Redsys refused the refund of {order}: Ds_Response {parameters.get('ds_response')}")
        return RefundResult(reference=f"redsys-refund-{order}-{parameters.get('ds_authorisationcode', '')}".rstrip("-"))
