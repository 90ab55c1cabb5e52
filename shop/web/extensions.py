"""Flask extensions, and per-process access to the two stores."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import TypeVar, cast

from flask import current_app, has_request_context, request
from flask_babel import Babel, get_locale
from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from shop import bootstrap
from shop.adapters.mail import mailer_for
from shop.adapters.mongo import MongoStore
from shop.adapters.mongo import rate_limits as _rate_limits  # noqa: F401 - registers the mongodb:// store
from shop.adapters.payments import SimulatedPaymentProvider
from shop.adapters.postgres import PostgresDatabase
from shop.adapters.postgres import rate_limits as _pg_rate_limits  # noqa: F401 - registers shop+postgresql://
from shop.adapters.redsys import RedsysProvider
from shop.adapters.stripe import StripeProvider
from shop.config import ConfigError, Settings
from shop.metrics import PAGE_CACHE
from shop.services.audit import AuditLog
from shop.services.checkout import SettlementQueue

T = TypeVar("T")

babel = Babel()
cache = Cache()  # what pages reuse for CATALOG_CACHE_SECONDS (see `reused`)
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def reused(key: str, read: Callable[[], T], keep: Callable[[T], bool] | None = None) -> T:
    """What `read()` returns, kept under `key` for CATALOG_CACHE_SECONDS (in Redis when configured,
    shared by every instance; in-process otherwise) and read anew after that. With the cache off,
    read every time. `read` must not return None (the cache's "not there"). `keep`: whether a value
    read may be kept (when it says no, the next request reads again).

    When the entry is missing, one thread of this process reads it and the others asking for the
    same key wait for that reading (for at most FLIGHT_WAIT_SECONDS) instead of each doing it: a
    page that expires under load is rendered once, not by every worker thread (the cache stampede).
    No lock is held while `read` runs, so a reading may itself call `reused` for any key, its own
    included, without waiting on itself."""
    if shop_settings().catalog_cache_seconds <= 0:
        return read()
    value = cache.get(key)
    count_lookup(key, value is not None)
    if value is not None:
        return value
    me = threading.get_ident()
    with _FLIGHTS_LOCK:  # held only to look up or register a reading, never across one
        flight = _FLIGHTS.get(key)
        if flight is None:
            flight = _FLIGHTS[key] = _Flight(me)
            leading = True
        else:
            leading = False
    if not leading:
        if flight.reader != me and flight.done.wait(FLIGHT_WAIT_SECONDS) and flight.failed is None:
            return cast(T, flight.value)
        # This thread's own reading asked for its key again, or the reading failed or is stuck:
        # this request does not depend on it.
        return read()
    try:
        value = read()
        if keep is None or keep(value):
            cache.set(key, value)
        flight.value = value
    except BaseException as error:
        flight.failed = error
        raise
    finally:
        with _FLIGHTS_LOCK:
            _FLIGHTS.pop(key, None)
        flight.done.set()
    return value


def count_lookup(key: str, hit: bool) -> None:
    """One page cache lookup in the metrics, by the kind of entry its key names ("kind:…")."""
    PAGE_CACHE.labels(key.split(":", 1)[0], "hit" if hit else "miss").inc()


class _Flight:
    """One thread's reading of a missing entry, for the threads that ask for the same key meanwhile."""

    __slots__ = ("reader", "done", "value", "failed")

    def __init__(self, reader: int):
        self.reader = reader
        self.done = threading.Event()
        self.value: object = None
        self.failed: BaseException | None = None


def url_key(kind: str, *extra) -> str:
    """A `reused` key for this request's page: `kind`, the URL's parameters (all of them, in a fixed
    order), the language and `extra` (whatever else the page depends on)."""
    args = sorted(request.args.items(multi=True))
    raw = json.dumps([str(get_locale()), args, *extra], ensure_ascii=False)
    return f"{kind}:" + hashlib.sha256(raw.encode()).hexdigest()


# Readings in progress, by key. An entry lives only while its reading runs; a waiter gives up after
# FLIGHT_WAIT_SECONDS and reads for itself, so a stuck reading never holds up anyone else for long.
_FLIGHTS: dict[str, _Flight] = {}
_FLIGHTS_LOCK = threading.Lock()
FLIGHT_WAIT_SECONDS = 5.0


def shop_settings() -> Settings:
    """This app's settings: what the views read (app.config keeps only what Flask and its extensions read)."""
    settings: Settings = current_app.config["SHOP_SETTINGS"]
    return settings


# One lock per store: two request threads asking for a store at once create it once (the other one
# would be left open, never closed). Making one store may ask for another (the audit log needs
# MongoDB and PostgreSQL), never for itself, so no lock is taken twice by one thread.
_CREATING = {name: threading.Lock() for name in ("postgres", "postgres_read", "mongo", "settlements", "audit")}


def _created(name: str, make: Callable[[], T]) -> T:
    """This process's store `name`, made by `make` the first time it is asked for."""
    stores = current_app.extensions["shop.stores"]
    if stores.get(name) is None:
        with _CREATING[name]:
            if stores.get(name) is None:
                stores[name] = make()
    return cast(T, stores[name])


def _postgres(url: str) -> PostgresDatabase:
    settings = shop_settings()
    return PostgresDatabase(url, max_connections=settings.db_pool_size, time_zone=settings.time_zone,
                            issuer_tax_id=settings.seller_tax_id)


def get_db() -> PostgresDatabase:
    """This process's PostgreSQL pool, created on first use (after a worker fork, never before)."""
    url = shop_settings().database_url
    if not url:
        raise ConfigError("DATABASE_URL is not set: run `make run` (embedded databases) or set it")
    return _created("postgres", lambda: _postgres(url))


def get_report_db() -> PostgresDatabase:
    """Where staff reports and lists read: DATABASE_READ_URL (a streaming replica) when set, else the
    primary. Never for anything a checkout or a state change reads (those use get_db)."""
    url = shop_settings().database_read_url
    if not url:
        return get_db()
    return _created("postgres_read", lambda: _postgres(url))


def get_store() -> MongoStore:
    """This process's MongoDB client, created on first use."""
    url = shop_settings().mongodb_url
    if not url:
        raise ConfigError("MONGODB_URL is not set: run `make run` (embedded databases) or set it")
    return _created("mongo", lambda: MongoStore(url, shop_settings().mongodb_db))


def get_settlements():
    """This process's queue of holds to drop on the next reservation (shop.services.checkout)."""
    return _created("settlements", SettlementQueue)


def get_audit_log():
    """This process's audit log writer (MongoDB chain, spool file under the data directory)."""
    return _created("audit", lambda: AuditLog(get_store(), shop_settings().audit_spool_path, index=get_db().lists))


def get_mailer():
    """SMTP when SMTP_HOST is set; otherwise the outbox directory under the data directory."""
    return mailer_for(shop_settings())


def get_payment_provider() -> SimulatedPaymentProvider | RedsysProvider | StripeProvider:
    """The provider customers pay through (PAYMENT_PROVIDER): cheap to make, made per request."""
    # The simulated provider's page is part of this shop (shop.web.simulated_provider): its links
    # are the shop's own paths.
    root = request.script_root if has_request_context() else ""
    return bootstrap.payment_provider(shop_settings(), current_app.config["SECRET_KEY"],
                                      simulated_page_url=root + "/pasarela-simulada")


def close_stores(app) -> None:
    stores = app.extensions.get("shop.stores", {})
    stores.pop("audit", None)
    for key in ("postgres", "postgres_read", "mongo"):
        if stores.get(key) is not None:
            stores.pop(key).close()
