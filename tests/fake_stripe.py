"""A stand-in for Stripe's API, written in the test suite from Stripe's published API reference,
independently of shop/adapters/stripe.py: Checkout Sessions and Refunds over real HTTP (form-encoded,
a Bearer secret key, Idempotency-Key honoured), and webhook events signed as Stripe signs them
(`Stripe-Signature: t=…,v1=HMAC-SHA256(whsec, "t.body")`).

    fake = FakeStripe()                                    # started on a free loopback port
    session = fake.sessions[session_id]                    # what the shop asked for
    body, headers = fake.event(session_id, "checkout.session.completed")
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

SECRET_KEY = "sk_test_51FakeShopKey0000000000000000"
WEBHOOK_SECRET = "whsec_fake0000000000000000000000000000"


class FakeStripe:
    def __init__(self, secret_key: str = SECRET_KEY, webhook_secret: str = WEBHOOK_SECRET):
        self.secret_key, self.webhook_secret = secret_key, webhook_secret
        self.sessions: dict[str, dict] = {}
        self.refunds: list[tuple[str, Decimal]] = []  # (payment intent, euros), once per idempotency key
        self._answers: dict[str, dict] = {}  # Idempotency-Key → the first answer
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.api_base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the API ---------------------------------------------------------------------------------

    def _create_session(self, form: dict) -> tuple[int, dict]:
        required = ("mode", "success_url", "cancel_url", "line_items[0][price_data][currency]",
                    "line_items[0][price_data][unit_amount]", "line_items[0][quantity]")
        missing = [name for name in required if name not in form]
        if missing or form["mode"] != "payment":
            return 400, {"error": {"type": "invalid_request_error", "message": f"Missing: {missing}"}}
        number = next(self._ids)
        unit = int(form["line_items[0][price_data][unit_amount]"])
        session = {"id": f"cs_test_{number:06d}", "object": "checkout.session", "mode": "payment",
                   "client_reference_id": form.get("client_reference_id"),
                   "amount_total": unit * int(form["line_items[0][quantity]"]),
                   "currency": form["line_items[0][price_data][currency]"], "payment_intent": f"pi_test_{number:06d}",
                   "payment_status": "unpaid", "status": "open", "success_url": form["success_url"],
                   "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
                   "url": f"{self.api_base}/c/pay/cs_test_{number:06d}"}
        self.sessions[session["id"]] = session
        return 200, session

    def _refund(self, form: dict) -> tuple[int, dict]:
        intent, amount = form.get("payment_intent"), int(form.get("amount", "0"))
        session = next((s for s in self.sessions.values() if s["payment_intent"] == intent), None)
        if session is None or session["payment_status"] != "paid":
            return 400, {"error": {"type": "invalid_request_error", "message": f"No such payment_intent: '{intent}'"}}
        refunded = sum(euros for pi, euros in self.refunds if pi == intent)
        if amount <= 0 or Decimal(amount) / 100 + refunded > Decimal(session["amount_total"]) / 100:
            return 400, {"error": {"type": "invalid_request_error",
                                   "message": "Refund amount is greater than unrefunded amount on charge"}}
        self.refunds.append((intent, Decimal(amount) / 100))
        return 200, {"id": f"re_test_{next(self._ids):06d}", "object": "refund", "amount": amount,
                     "payment_intent": intent, "status": "succeeded"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()))
                if self.headers.get("Authorization") != f"Bearer {fake.secret_key}":
                    return self._answer(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
                key = self.headers.get("Idempotency-Key") or ""
                with fake._lock:
                    if key and key in fake._answers:
                        return self._answer(200, fake._answers[key])
                    if self.path == "/v1/checkout/sessions":
                        status, body = fake._create_session(form)
                    elif self.path == "/v1/refunds":
                        status, body = fake._refund(form)
                    else:
                        status, body = 404, {"error": {"message": f"Unrecognized request URL {self.path}"}}
                    if key and status == 200:
                        fake._answers[key] = body
                return self._answer(status, body)

            def _answer(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler

    # --- the customer on Stripe's page, and the events Stripe then sends --------------------------

    def pay(self, session_id: str) -> None:
        self.sessions[session_id].update(payment_status="paid", status="complete")

    def event(self, session_id: str, kind: str = "checkout.session.completed", *, secret: str | None = None,
              at: int | None = None) -> tuple[bytes, dict[str, str]]:
        """A webhook event about the session, as Stripe posts it: the raw body and its headers."""
        session = self.sessions[session_id]
        body = json.dumps({"id": f"evt_test_{next(self._ids):06d}", "object": "event", "type": kind,
                           "created": int(time.time()), "data": {"object": session}}).encode()
        timestamp = int(time.time()) if at is None else at
        mac = hmac.new((secret or self.webhook_secret).encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        return body, {"Stripe-Signature": f"t={timestamp},v1={mac.hexdigest()}", "Content-Type": "application/json"}
