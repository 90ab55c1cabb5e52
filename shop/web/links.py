"""Links that leave the shop in e-mails: always under the configured PUBLIC_URL, never built from the
Host header of the request that caused the mail (a forged Host would otherwise mail a victim a valid
password link to someone else's site)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, url_for
from flask_babel import get_locale
from itsdangerous import URLSafeTimedSerializer

from shop.web.extensions import shop_settings
from shop.web.languages import in_language, this_page_in


def activation_tokens() -> URLSafeTimedSerializer:
    """Signs and reads activation links (their claims: shop.services.accounts.activation_claims)."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="account-activation")


def reset_tokens() -> URLSafeTimedSerializer:
    """Signs and reads password links (their claims: shop.services.accounts.password_reset_claims)."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def public_url_for(endpoint: str, **values) -> str:
    """The absolute address of `endpoint` as customers reach it: PUBLIC_URL's scheme and host, and the
    path the shop routes (which carries PUBLIC_URL's path when the shop is served under one), in
    the language being written (a mail's is its reader's)."""
    parts = urlsplit(shop_settings().base_url)
    path = in_language(url_for(endpoint, **values), str(get_locale() or "es"))
    return f"{parts.scheme}://{parts.netloc}{path}"


def this_page_in_language(code: str) -> str:
    """This page's absolute address in language `code` (its `hreflang` alternates), on PUBLIC_URL's
    host like every link that leaves the page."""
    parts = urlsplit(shop_settings().base_url)
    return f"{parts.scheme}://{parts.netloc}{this_page_in(code)}"
