"""A purchase through the shop's REST API, as a program would make it (docs/api.md).

    python examples/api_buy.py http://localhost:5000 cliente@tienda.local 'the password'

Logs in for a token pair, searches the catalog, puts the first product in stock into the cart,
buys one unit of it with an Idempotency-Key (sent twice, to show the replay), pays it on the payment
provider's page (the simulated provider of a development shop: the program plays the customer's
browser there), waits for the order to be paid, and downloads its invoice. With --cancel it cancels
the order instead of paying it. Uses only the standard library.
Prints one line per step; exits non-zero with the problem's `code` and `detail` if a step is refused.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import sys
import time
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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the provider's page sends the browser back to the shop: a program stops here


def pay_on_simulated_page(page_url: str) -> None:
    """What a person does on the simulated provider's page: press "Pagar" (it asks for no card)."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                          _NoRedirects())
    with browser.open(page_url, timeout=30) as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "outcome": "paid"}).encode()
    try:
        browser.open(urllib.request.Request(page_url, data=form, method="POST"), timeout=30)  # noqa: S310 - http(s)
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            raise


def buy(base_url: str, email: str, password: str, search: str = "", cancel: bool = False) -> int:
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
    if cancel:
        cancelled = shop.call("POST", f"/api/v1/orders/{order['id']}/cancel")
        print(f"order {cancelled['id']} {cancelled['status']}")
        return order["id"]
    start = shop.call("POST", f"/api/v1/orders/{order['id']}/payment")
    if start["redirect"] is not None:
        if "/pasarela-simulada/" not in start["redirect"]["url"]:
            sys.exit("this shop pays through a real provider: open the redirect in a browser")
        pay_on_simulated_page(urllib.parse.urljoin(shop.base_url + "/", start["redirect"]["url"]))
    for _ in range(50):  # the provider's notification decides; read the order until it has
        order = shop.call("GET", f"/api/v1/orders/{order['id']}")
        if order["status"] == "paid":
            break
        time.sleep(0.2)
    print(f"order {order['id']} {order['status']}, invoice {order['invoice']}")
    request = urllib.request.Request(f"{shop.base_url}/api/v1/orders/{order['id']}/invoice",  # noqa: S310 - http(s)
                                     headers={"Authorization": f"Bearer {shop.access_token}", "Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        invoice = answer.read().decode()
    print(f"invoice downloaded ({len(invoice)} characters, {order['invoice']} in it: {order['invoice'] in invoice})")
    return order["id"]


if __name__ == "__main__":
    arguments = [arg for arg in sys.argv[1:] if arg != "--cancel"]
    if len(arguments) < 3:
        sys.exit(__doc__)
    try:
        buy(*arguments[:3], cancel="--cancel" in sys.argv)
    except ApiError as refused:
        sys.exit(f"refused: {refused}")
