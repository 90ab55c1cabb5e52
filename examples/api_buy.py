"""A purchase through the shop's REST API, as a program would make it (docs/api.md).

    python examples/api_buy.py http://localhost:5000 cliente@tienda.local 'the password'

Logs in for a token pair, searches the catalog, puts the first product in stock into the cart,
buys one unit of it with an Idempotency-Key (sent twice, to show the replay), reads the order back,
and cancels it so the units go back to stock. Uses only the standard library.
Prints one line per step; exits non-zero with the problem's `code` and `detail` if a step is refused.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid


class ApiError(Exception):
    def __init__(self, status: int, problem: dict):
        super().__init__(f"{status} {problem.get('code')}: {problem.get('detail')}")
        self.status, self.problem = status, problem


class Shop:
    def __init__(self, base_url: str):
        if not base_url.startswith(("http://", "https://")):
            raise SystemExit("the shop's address starts with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.access_token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> dict:
        request = urllib.request.Request(self.base_url + path, method=method, headers={  # noqa: S310 - http(s) URL
            "Accept": "application/json", **({"Content-Type": "application/json"} if body is not None else {}),
            **({"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}), **(headers or {})},
            data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the URL the user gave
                return json.load(answer) if answer.status != 204 else {}
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, json.load(error)) from None

    def log_in(self, email: str, password: str) -> None:
        self.access_token = self.call("POST", "/api/v1/auth/token", {"email": email, "password": password})[
            "access_token"]


def buy(base_url: str, email: str, password: str, search: str = "") -> int:
    shop = Shop(base_url)
    shop.log_in(email, password)
    print("logged in")
    page = shop.call("GET", "/api/v1/products?" + urllib.parse.urlencode({"q": search, "limit": 50}))
    product = next(item for item in page["items"] if item["stock"] > 0)
    detail = shop.call("GET", f"/api/v1/products/{product['id']}")
    ref = next((v["ref"] for v in detail["variants"] if v["stock"] > 0), product["id"])
    print(f"found {product['name']} ({ref}) at {product['price']} €")
    cart = shop.call("PUT", f"/api/v1/cart/items/{urllib.parse.quote(ref)}", {"quantity": 1})
    print(f"cart subtotal {cart['subtotal']} €")
    key, wanted = str(uuid.uuid4()), {"items": [{"product_id": ref, "quantity": 1}]}  # {} buys the whole cart
    order = shop.call("POST", "/api/v1/checkout", wanted, headers={"Idempotency-Key": key})
    again = shop.call("POST", "/api/v1/checkout", wanted, headers={"Idempotency-Key": key})
    assert again["id"] == order["id"] and again["replayed"], "a replay must return the same order"
    print(f"order {order['id']} {order['status']}, total {order['total']} € (replayed once: same order)")
    order = shop.call("GET", f"/api/v1/orders/{order['id']}")
    cancelled = shop.call("POST", f"/api/v1/orders/{order['id']}/cancel")
    print(f"order {cancelled['id']} {cancelled['status']}")
    return order["id"]


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    try:
        buy(*sys.argv[1:4])
    except ApiError as refused:
        sys.exit(f"refused: {refused}")
