"""Webhooks: the rules for telling other systems what happened (docs/webhooks.md).

An event is written in the transaction of the change it reports, so it exists if and only if that
change committed; one delivery per subscribed endpoint is written with it. Deliveries are at least
once: a receiver deduplicates by the event's id. Each is signed over its timestamp and its body
(`Tienda-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), so a receiver can
refuse a forged or replayed one. A failed delivery is retried with exponential backoff and jitter
for 24 hours; then it is given up and its endpoint disabled, with the reason, for an admin to see.

The address an endpoint names is checked when it is registered and again at every delivery (a name
can resolve elsewhere later: DNS rebinding). Only public internet addresses are called, unless the
host is explicitly allowed (tests, a receiver on the shop's own network).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
from urllib.parse import urlsplit

from shop.domain.errors import N_, InvalidInput

EVENTS = ("order.placed", "order.paid", "order.shipped", "order.cancelled", "order.refunded",
          "product.updated", "stock.low", "import.finished")
SIGNATURE_HEADER = "Tienda-Signature"
REPLAY_WINDOW_SECONDS = 300  # what receivers should accept: the signature's timestamp within 5 minutes
RETRY_FOR_SECONDS = 24 * 3600
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT_SECONDS = 3 * 3600
MAX_URL_LENGTH = 500


def falls_to_low_stock(before: int, after: int, threshold: int) -> bool:
    """Whether going from `before` to `after` units is the change that makes the stock low (at most
    `threshold`, as the dashboard counts it): `stock.low` is sent once as the stock falls, not again
    for every sale below the threshold, and again only after a restock above it."""
    return before > threshold >= after


def stock_low_payload(product_id: str, name: str, sku: str | None, variant: str | None, stock: int,
                      threshold: int) -> dict[str, object]:
    return {"product_id": product_id, "name": name, "sku": sku, "variant": variant, "stock": stock,
            "threshold": threshold}


def parse_events(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, (list, tuple)) or not raw or not all(isinstance(item, str) for item in raw):
        raise InvalidInput(N_("Choose at least one event for the endpoint."))
    unknown = sorted(set(raw) - set(EVENTS))
    if unknown:
        raise InvalidInput(N_("Unknown event: %(event)s."), event=unknown[0][:40])
    return tuple(event for event in EVENTS if event in raw)


def parse_endpoint_url(raw: object, *, https_only: bool) -> str:
    """An absolute http(s) URL with a host and no credentials in it (https only, in production)."""
    url = raw.strip() if isinstance(raw, str) else ""
    parts = urlsplit(url)
    if (len(url) > MAX_URL_LENGTH or parts.scheme not in ("https", "http") or not parts.hostname
            or parts.username or parts.password or any(ord(ch) < 33 for ch in url)):
        raise InvalidInput(N_("Write the endpoint's full address, such as https://erp.example.com/hooks/shop."))
    if https_only and parts.scheme != "https":
        raise InvalidInput(N_("The endpoint must use https:// (the events carry customers' orders)."))
    try:
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        raise InvalidInput(N_("Write the endpoint's full address, such as https://erp.example.com/hooks/shop.")) \
            from None
    return url


def address_allowed(address: str) -> bool:
    """Whether the shop may call this IP address: a public internet address only — never loopback,
    private networks, link-local (cloud metadata services live at 169.254.169.254), carrier-grade
    NAT, multicast or reserved ranges."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: bytes, header: str, body: bytes, now: float, tolerance: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a receiver does (docs/webhooks.md has the same in a few lines): the timestamp within the
    replay window, and a v1 signature that matches, compared in constant time."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), fields.get("v1", ""))


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `attempts` failed ones: 30 s, 1 min, 2 min, … doubling up
    to 3 h, each spread by ±50 % so that endpoints that failed together do not retry together."""
    base = float(min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LONGEST_WAIT_SECONDS))
    spread: float = (rng or random.SystemRandom()).random()
    return base * (0.5 + spread)


def gives_up(event_age_seconds: float) -> bool:
    return event_age_seconds >= RETRY_FOR_SECONDS
