"""Security at the edge of every request: a body larger than its endpoint allows is refused
before anything reads it (1 MB unless the view says otherwise); text with a NUL character is refused
before any view sees it; every response gets a strict Content-Security-Policy (no inline script or style), no MIME
sniffing, no framing, a referrer that stays on this site; private pages are never stored by a
browser or a proxy; production adds HSTS."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request
from flask_login import current_user
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_host

from shop.domain.errors import N_, InvalidInput

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",  # Bootstrap draws a few icons as data: SVG in its CSS
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "object-src 'none'",
])


HSTS = "max-age=31536000; includeSubDomains"
View = TypeVar("View", bound=Callable)


def allows_body(size: int) -> Callable[[View], View]:
    """Marks a view that takes a body of up to `size` bytes (an image, a catalog file) instead of the
    shop's MAX_CONTENT_LENGTH. Applied when the request is routed, before any check reads the body."""
    def mark(view: View) -> View:
        view.body_limit = size  # type: ignore[attr-defined]  # read by apply_body_limits
        return view
    return mark


def apply_body_limits(app: Flask) -> None:
    """Registers the check that gives each request its view's body limit: register it before every
    other before_request function, since the first one that reads a form fixes the limit."""
    @app.before_request
    def use_the_views_body_limit() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        limit = getattr(view, "body_limit", None)
        if limit is not None:
            request.max_content_length = limit
# Pages that belong to one person (or to staff) whoever is asking: never stored by a cache.
_PRIVATE_PREFIXES = ("/admin", "/orders", "/cart", "/auth", "/api", "/account")
_SHARED_FILES = ("/imagenes/",)  # the same bytes for everyone (content-addressed): cached whoever asks


def init_app(app: Flask) -> None:
    production = app.config["SHOP_SETTINGS"].is_production

    @app.before_request
    def refuse_nul_characters() -> None:
        # PostgreSQL cannot store U+0000 in text and drivers fail on it deep inside a request (one
        # saved product name made every later purchase of it fail): refuse it once, here, for every
        # query parameter and form field, names included.
        for values in (request.args, request.form):
            for key, value in values.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    raise InvalidInput(N_("The text sent contains a NUL character (\\0), which cannot be saved; "
                                          "remove it and try again."))

    @app.after_request
    def add_security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if (current_user.is_authenticated or request.path.startswith(_PRIVATE_PREFIXES)) \
                and not request.path.startswith(_SHARED_FILES):
            response.headers["Cache-Control"] = "no-store"
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response


def refuse_unknown_hosts(app: Flask, allowed_hosts: tuple[str, ...]) -> None:
    """A request whose Host is not one the shop serves (PUBLIC_URL's host, or TRUSTED_HOSTS) is
    answered 400 before Flask sees it, so nothing can build a link or redirect from a forged Host.
    Nothing to check when no host is configured (development without PUBLIC_URL)."""
    if not allowed_hosts:
        return
    inner = app.wsgi_app
    trusted = list(allowed_hosts)

    def checked(environ, start_response):
        try:
            get_host(environ, trusted)
        except SecurityError:
            refused = Response("Unknown host: this server does not serve that address.\n", status=400,
                               content_type="text/plain; charset=utf-8")
            return refused(environ, start_response)
        return inner(environ, start_response)

    app.wsgi_app = checked  # type: ignore[method-assign]  # Flask's documented way to wrap the WSGI app


def behind_proxies(wsgi_app, hops: int, proxy_addresses: tuple[str, ...]):
    """Take the client's address and scheme from `hops` load balancers' X-Forwarded-For/-Proto.
    With `proxy_addresses`, only on a connection from one of them: anyone else is who they are."""
    fixed = ProxyFix(wsgi_app, x_for=hops, x_proto=hops)
    if not proxy_addresses:
        return fixed
    networks = [ipaddress.ip_network(network) for network in proxy_addresses]

    def from_a_proxy(environ, start_response):
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
        except ValueError:
            peer = None
        trusted = peer is not None and any(peer in network for network in networks)
        return (fixed if trusted else wsgi_app)(environ, start_response)

    return from_a_proxy
