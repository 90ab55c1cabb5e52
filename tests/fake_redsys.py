"""A stand-in for Redsys, written in the test suite from Redsys' published protocol (HMAC_SHA256_V1),
independently of shop/adapters/redsys.py: it checks the shop's signatures with its own code, writes
notifications signed as Redsys signs them, and answers refunds on a real HTTP endpoint.

    fake = FakeRedsys(merchant_code, secret_key)      # started on a free loopback port
    fake.receive(fields)                               # what the customer's browser posted to its page
    form = fake.notification(order, response="0000")   # what Redsys then posts to the shop
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

TEST_MERCHANT = "999008881"
TEST_KEY = "sq7HjrUOBfKmC576ILgskD5srU870gJ7"  # Redsys' published test key (its integration guides)


def _key_for(secret: str, order: str) -> bytes:
    padded = order.encode().ljust((len(order) + 7) // 8 * 8, b"\0")
    cipher = Cipher(TripleDES(base64.b64decode(secret)), modes.CBC(bytes(8))).encryptor()
    return cipher.update(padded) + cipher.finalize()


def _sign(secret: str, order: str, parameters: str, urlsafe: bool = False) -> str:
    mac = hmac.new(_key_for(secret, order), parameters.encode(), hashlib.sha256).digest()
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(mac).decode()


class RedsysRefused(AssertionError):
    """What the shop sent would have been refused by Redsys."""


class FakeRedsys:
    def __init__(self, merchant_code: str = TEST_MERCHANT, secret: str = TEST_KEY):
        self.merchant_code, self.secret = merchant_code, secret
        self.payments: dict[str, dict] = {}  # order → the parameters the shop's form carried
        self.refunds: list[tuple[str, Decimal]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.payment_url, self.rest_url = f"{base}/sis/realizarPago", f"{base}/sis/rest/trataPeticionREST"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _verified(self, fields: dict) -> dict:
        if fields.get("Ds_SignatureVersion") != "HMAC_SHA256_V1":
            raise RedsysRefused("SIS0041: wrong signature version")
        try:
            encoded = fields["Ds_MerchantParameters"]
            parameters = json.loads(base64.b64decode(encoded))
            order = parameters["DS_MERCHANT_ORDER"]
        except (KeyError, ValueError, TypeError):
            raise RedsysRefused("SIS0431: the merchant parameters are not valid") from None
        expected = _sign(self.secret, order, encoded)
        if not hmac.compare_digest(expected, fields["Ds_Signature"]):
            raise RedsysRefused("SIS0042: the signature does not match")
        if parameters["DS_MERCHANT_MERCHANTCODE"] != self.merchant_code or parameters["DS_MERCHANT_CURRENCY"] != "978":
            raise RedsysRefused("SIS0026: unknown merchant or currency")
        if not (4 <= len(order) <= 12 and order[:4].isdigit()):
            raise RedsysRefused("SIS0074: the order number is not valid")
        return parameters

    def receive(self, fields: dict) -> str:
        """The customer's browser posts the shop's form to the payment page: checked, remembered."""
        parameters = self._verified(fields)
        order = parameters["DS_MERCHANT_ORDER"]
        if order in self.payments:
            raise RedsysRefused("SIS0051: order number repeated")
        self.payments[order] = parameters
        return order

    def notification(self, order: str, response: str = "0000", *, amount_cents: int | None = None,
                     secret: str | None = None) -> dict[str, str]:
        """What Redsys posts to DS_MERCHANT_MERCHANTURL: its parameters, signed in URL-safe Base64
        (`secret`: sign with another key, as a forger would)."""
        asked = self.payments[order]
        parameters = {"Ds_Date": "07%2F12%2F2026", "Ds_Hour": "17:05", "Ds_SecurePayment": "1",
                      "Ds_Amount": str(amount_cents if amount_cents is not None else asked["DS_MERCHANT_AMOUNT"]),
                      "Ds_Currency": "978", "Ds_Order": order, "Ds_MerchantCode": self.merchant_code,
                      "Ds_Terminal": asked["DS_MERCHANT_TERMINAL"], "Ds_Response": response,
                      "Ds_TransactionType": "0", "Ds_AuthorisationCode": "123456" if response < "0100" else ""}
        encoded = base64.urlsafe_b64encode(json.dumps(parameters).encode()).decode()
        return {"Ds_SignatureVersion": "HMAC_SHA256_V1", "Ds_MerchantParameters": encoded,
                "Ds_Signature": _sign(secret or self.secret, order, encoded, urlsafe=True)}

    def _refund(self, fields: dict) -> dict:
        parameters = self._verified(fields)
        order = parameters["DS_MERCHANT_ORDER"]
        if parameters["DS_MERCHANT_TRANSACTIONTYPE"] != "3" or order not in self.payments:
            return {"errorCode": "SIS0057"}
        amount = Decimal(parameters["DS_MERCHANT_AMOUNT"]) / 100
        refunded = sum((money for o, money in self.refunds if o == order), Decimal(0))
        if refunded + amount > Decimal(self.payments[order]["DS_MERCHANT_AMOUNT"]) / 100:
            return {"errorCode": "SIS0057"}  # more than was paid
        self.refunds.append((order, amount))
        reply = {"Ds_Amount": parameters["DS_MERCHANT_AMOUNT"], "Ds_Order": order, "Ds_Response": "0900",
                 "Ds_MerchantCode": self.merchant_code, "Ds_AuthorisationCode": "654321", "Ds_TransactionType": "3"}
        encoded = base64.b64encode(json.dumps(reply).encode()).decode()
        return {"Ds_SignatureVersion": "HMAC_SHA256_V1", "Ds_MerchantParameters": encoded,
                "Ds_Signature": _sign(self.secret, order, encoded)}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    reply = fake._refund(body)
                except (RedsysRefused, KeyError, ValueError) as refused:
                    reply = {"errorCode": str(refused)[:7] or "SIS0000"}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
