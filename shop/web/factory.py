"""The application factory: configuration, extensions, blueprints, error pages. No work at import."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask_bootstrap import Bootstrap5

from shop import failpoints
from shop.config import Settings, development_secret_key, load_settings
from shop.web import (
    access,
    account,
    addresses,
    api,
    api_keys,
    api_v1,
    attribute_labels,
    audit_log,
    auth,
    cart,
    catalog,
    cli,
    dashboard,
    errors,
    formatting,
    health,
    images,
    imports,
    invoice_book,
    links,
    monitoring,
    orders,
    payments,
    requestlog,
    reviews,
    security,
    shared_pages,
    simulated_provider,
    staff_discounts,
    staff_images,
    staff_orders,
    staff_products,
    staff_shipping,
    staff_users,
    staff_variants,
    watchdog,
    webhooks,
)
from shop.web.extensions import babel, cache, csrf, limiter, login_manager
from shop.web.languages import ShopFlask, languages_from_path, select_locale, this_page_in

_HERE = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None, settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = ShopFlask("shop", template_folder=str(_HERE / "templates"), static_folder=str(_HERE / "static"))
    secret_key = settings.secret_key
    if not secret_key:  # production refuses to start without one (config.check_production_settings)
        secret_key = development_secret_key(settings.data_dir)
    # app.config holds what Flask and its extensions read; the shop's own code reads SHOP_SETTINGS
    # (shop.web.extensions.shop_settings).
    app.config.from_mapping(
        SECRET_KEY=secret_key,
        SHOP_SETTINGS=settings,
        # Only for a few seconds (docs/catalog.md, "What is cached"): in Redis, shared by every
        # instance, when REDIS_URL is set; otherwise in-process and bounded.
        CACHE_TYPE=("NullCache" if settings.catalog_cache_seconds <= 0
                    else "RedisCache" if settings.redis_url else "SimpleCache"),
        CACHE_REDIS_URL=settings.redis_url,
        CACHE_KEY_PREFIX=f"shop:{settings.mongodb_db}:catalog:",
        CACHE_DEFAULT_TIMEOUT=settings.catalog_cache_seconds,
        CACHE_THRESHOLD=1000,
        CACHE_NO_NULL_WARNING=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        MAX_CONTENT_LENGTH=1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead: no "expired" forms after lunch
        BABEL_DEFAULT_LOCALE="es",
        BABEL_DEFAULT_TIMEZONE=settings.time_zone,
        BABEL_TRANSLATION_DIRECTORIES=str(_HERE / "translations"),
        BOOTSTRAP_SERVE_LOCAL=True,  # the shop works with no internet
        RATELIMIT_STORAGE_URI=settings.rate_limit_store[0],
        RATELIMIT_STORAGE_OPTIONS=settings.rate_limit_store[1],
        # The store unreachable (MongoDB or Redis down): count in this process meanwhile, never a 500.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_HEADERS_ENABLED=True,
    )
    if test_config:
        app.config.update(test_config)
    # Inside the proxy fix: a prefix the load balancer forwards (X-Forwarded-Prefix) comes first.
    app.wsgi_app = languages_from_path(app.wsgi_app)  # type: ignore[method-assign]  # Flask's way to wrap the app
    if settings.trusted_proxies:  # the client's address as the load balancer saw it (rate limits, audit)
        app.wsgi_app = security.behind_proxies(  # type: ignore[method-assign]  # Flask's way to wrap the app
            app.wsgi_app, settings.trusted_proxies, settings.trusted_proxy_addresses)
    security.refuse_unknown_hosts(app, settings.allowed_hosts)
    if settings.failpoints:
        failpoints.configure(settings.failpoints)
    app.extensions["shop.stores"] = {}
    app.jinja_env.globals["public_url_for"] = links.public_url_for
    app.jinja_env.globals["this_page_in"] = this_page_in
    app.jinja_env.globals["is_shared_request"] = shared_pages.is_shared_request
    app.jinja_env.globals["this_page_in_language"] = links.this_page_in_language

    logging.getLogger().setLevel(settings.log_level)
    babel.init_app(app, locale_selector=select_locale)
    security.apply_body_limits(app)  # before anything reads a body
    # First: a request refused by a check registered after these (CSRF, rate limits) still gets its
    # request id, its access-log line and its latency in the metrics.
    requestlog.init_app(app)
    watchdog.init_app(app)
    monitoring.init_app(app)
    csrf.init_app(app)
    cache.init_app(app)
    # The module's Limiter outlives one app where a process builds several (the tests, the CLI):
    # it merges each app's storage options into the last ones, and keeps an earlier app's store
    # marked dead. Each app starts from its own configuration.
    limiter._storage_options = {}
    limiter._storage_dead = False
    limiter.init_app(app)
    login_manager.init_app(app)
    Bootstrap5(app)

    access.init_app(app)
    security.init_app(app)
    shared_pages.init_app(app)
    formatting.init_app(app)
    errors.init_app(app)
    app.register_blueprint(catalog.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(orders.bp)
    app.register_blueprint(cart.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_v1.bp)
    app.register_blueprint(api_keys.bp)
    app.register_blueprint(payments.bp)
    app.register_blueprint(simulated_provider.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(reviews.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(monitoring.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(staff_products.bp)
    app.register_blueprint(staff_images.bp)
    app.register_blueprint(staff_variants.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(images.bp)
    app.register_blueprint(staff_orders.bp)
    app.register_blueprint(staff_discounts.bp)
    app.register_blueprint(staff_shipping.bp)
    app.register_blueprint(attribute_labels.bp)
    app.add_template_filter(attribute_labels.attribute_label)  # written by staff, per language
    app.register_blueprint(addresses.bp)
    app.register_blueprint(staff_users.bp)
    app.register_blueprint(audit_log.bp)
    app.register_blueprint(invoice_book.bp)


    cli.init_app(app)
    return app
