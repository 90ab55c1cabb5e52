"""Catalog pages any HTTP cache may keep and share (docs/http-caching.md).

A visitor without a session — no session cookie, no remember-me cookie — sees the same home page,
listing, search or product page as every other visitor, in the language of the address
(shop.web.languages). Such a page:
- starts no session (no Set-Cookie) and does not vary on a cookie;
- says `Cache-Control: public, max-age=0, s-maxage=HTTP_CACHE_SECONDS,
  stale-while-revalidate=HTTP_CACHE_STALE_SECONDS`: a shared cache (nginx, a CDN) keeps it that
  long, a browser asks again each time with its validator;
- carries an ETag (a hash of its bytes) and answers a matching If-None-Match with 304.

Within CATALOG_CACHE_SECONDS the page itself is kept in the page cache, so a repeated or
conditional request is answered without rendering anything.

Anyone with a session gets their own page, `no-store` (shop.web.security): caches in front must
pass requests carrying the session or remember-me cookie straight to the shop, as
deploy/nginx/shop.conf does."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from shop.web.extensions import cache, count_lookup, csrf, shop_settings
from shop.web.languages import SUPPORTED_LOCALES, has_session_cookie, in_language

# The pages every visitor sees alike (images and static files have their own, longer rules).
SHARED_ENDPOINTS = frozenset({"catalog.index", "catalog.product"})


def init_app(app: Flask) -> None:
    app.session_interface = _NoSessionForVisitors()

    @app.before_request
    def answer_from_the_page_cache():
        if not is_shared_request() or shop_settings().catalog_cache_seconds <= 0:
            return None
        key = _page_key()
        kept = cache.get(key)
        count_lookup(key, kept is not None)
        if kept is None:
            return None
        body, etag, mimetype = kept
        g.shared_page_kept = True
        response = Response(body, mimetype=mimetype)
        response.set_etag(etag)
        return response

    @app.after_request
    def mark_shared_pages(response: Response) -> Response:
        if not (is_shared_request() and response.status_code == 200 and not session.modified
                and not current_user.is_authenticated):
            return response
        settings = shop_settings()
        response.headers["Cache-Control"] = (
            f"public, max-age=0, s-maxage={settings.http_cache_seconds}, "
            f"stale-while-revalidate={settings.http_cache_stale_seconds}")
        if not g.get("shared_page_kept"):
            body = response.get_data()
            etag = hashlib.sha256(body).hexdigest()[:32]
            response.set_etag(etag)
            if settings.catalog_cache_seconds > 0:
                cache.set(_page_key(), (body, etag, response.mimetype))
        response.make_conditional(request)  # a matching If-None-Match: 304, no body
        return response


def is_shared_request() -> bool:
    """A GET of a shared page by someone the shop knows nothing about: its page may be kept for
    every visitor, so it renders no form that needs a CSRF token (a token would start a session),
    only token-less forms that `protect_token_less_form` checks instead."""
    return (request.method in ("GET", "HEAD") and request.endpoint in SHARED_ENDPOINTS
            and not _carries_a_login())


def protect_token_less_form() -> None:
    """The CSRF check of a form a shared page shows every visitor without a token (Add to cart).
    Someone with a session sends its token as with any form. Someone without one must send it from
    this shop's own page, as browsers say: `Sec-Fetch-Site: same-origin`, or an `Origin` of this
    host. A request with neither header comes from no browser a forged form could drive."""
    if has_session_cookie():
        csrf.protect()
        return
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if (fetch_site is not None and fetch_site != "same-origin") or \
            (origin is not None and urlsplit(origin).netloc != request.host):
        raise CSRFError("The form did not come from this shop.")


def _carries_a_login() -> bool:
    return has_session_cookie() or current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def _page_key(address: str | None = None) -> str:
    """The whole page, per address (language prefix, path and query, as sent)."""
    raw = address if address is not None else request.script_root + request.full_path
    return "shared-page:" + hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def forget_shared_page(url: str) -> None:
    """The page at `url` (as url_for builds it, no query) changed: its kept copies, in every
    language, are dropped (copies with a query string expire within CATALOG_CACHE_SECONDS)."""
    for code in SUPPORTED_LOCALES:
        cache.delete(_page_key(in_language(url, code) + "?"))


class _NoSessionForVisitors(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except that a request that came without a session cookie and
    wrote nothing into one is answered without `Vary: Cookie`: reading an empty session (is anyone
    logged in? any message to show?) does not make a visitor's page depend on a cookie."""

    def save_session(self, app, session, response) -> None:
        if not session and not session.modified and self.get_cookie_name(app) not in request.cookies:
            return
        super().save_session(app, session, response)
