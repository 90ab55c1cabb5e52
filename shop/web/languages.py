"""The language of a page is in its address: Spanish at the shop's own paths (`/`, `/products/…`),
English under `/en/` (`/en/`, `/en/products/…`). A page that anyone may be served from a shared
cache therefore never depends on a cookie, and each language has its own address for search
engines (the `hreflang` alternates of every page).

The prefix is taken off before Flask routes the request and kept as part of the application's root
(SCRIPT_NAME), so every link a page builds with `url_for` stays in the page's language and no view
knows about it. A logged-in person's pages are never shared: without the prefix they follow the
language saved in their session (the one their account chose), with it they are in English."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_request_context, request, session

SUPPORTED_LOCALES = ("es", "en")
DEFAULT_LOCALE = "es"
# What a prefixed address carries in the WSGI environment: the language its prefix chose.
_URL_LANGUAGE = "shop.url_language"
_PREFIXES = {f"/{code}": code for code in SUPPORTED_LOCALES if code != DEFAULT_LOCALE}
# Files that are the same bytes in every language: their addresses never carry a language prefix,
# so a browser or a shared cache keeps one copy, whatever page linked to them.
LANGUAGE_FREE_ENDPOINTS = frozenset({"static", "bootstrap.static", "images.show"})


class ShopFlask(Flask):
    """Flask, with the addresses of LANGUAGE_FREE_ENDPOINTS built without the page's language prefix."""

    def url_for(self, /, endpoint: str, *, _anchor: str | None = None, _method: str | None = None,
                _scheme: str | None = None, _external: bool | None = None, **values: Any) -> str:
        url = super().url_for(endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external,
                              **values)
        if endpoint in LANGUAGE_FREE_ENDPOINTS and has_request_context() and url_language() and url.startswith("/"):
            return in_language(url, DEFAULT_LOCALE)
        return url


def languages_from_path(wsgi_app):
    """Wraps the WSGI app: `/en/products/p1` is routed as `/products/p1` under the root `…/en`."""
    def routed(environ, start_response):
        path = environ.get("PATH_INFO", "")
        prefix = path[:3]
        if prefix in _PREFIXES and (len(path) == 3 or path[3] == "/"):
            environ[_URL_LANGUAGE] = _PREFIXES[prefix]
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[3:] or "/"
        return wsgi_app(environ, start_response)
    return routed


def url_language() -> str | None:
    """The language this request's address names (None: an address without a language prefix)."""
    return request.environ.get(_URL_LANGUAGE)


def select_locale() -> str:
    """The address's language; else, for someone with a session (a logged-in person), the one the
    session holds; else Spanish (the seed's UI is Spanish). A visitor without a session cookie is
    never asked for one, so their page reads nothing that differs from one visitor to another."""
    chosen = url_language()
    if chosen:
        return chosen
    if has_session_cookie():
        saved = session.get("locale")
        if saved in SUPPORTED_LOCALES:
            return saved
    return DEFAULT_LOCALE


def has_session_cookie() -> bool:
    """Whether this request carries a session cookie (valid or not): a visitor has none."""
    return current_app.config.get("SESSION_COOKIE_NAME", "session") in request.cookies


def application_root() -> str:
    """The shop's root without the language prefix ('' when served at the host's root)."""
    root = request.script_root
    language = url_language()
    return root[: -len(language) - 1] if language else root


def path_in_language(path: str, code: str) -> str:
    """`path` (a path under the shop's root, with its query; with or without a language prefix)
    as the address of the same page in `code`."""
    for prefix in _PREFIXES:
        if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?"):
            path = path[len(prefix):] or "/"
            break
    if not path.startswith("/"):
        path = "/" + path
    return (f"/{code}" if code != DEFAULT_LOCALE else "") + path


def in_language(target: str, code: str) -> str:
    """`target`, a path as `url_for` builds it (under the shop's root, perhaps with a language
    prefix) or a path under the shop's root alone, as the address of that page in `code`."""
    root = application_root()
    if root and (target == root or target.startswith(root + "/")):
        target = target[len(root):]
    return root + path_in_language(target, code)


def this_page_in(code: str) -> str:
    """This request's page (path and query) in language `code`, under the shop's root."""
    query = request.query_string.decode("latin-1")
    return application_root() + path_in_language(request.path + (f"?{query}" if query else ""), code)
