"""Rate-limit counters in PostgreSQL: a `limits` storage (fixed windows) for Flask-Limiter.

The default store of the shop's rate limits (shop.config.Settings.rate_limit_store): shared by
every worker and every instance like the database itself, one upsert per counted request on the
`rate_limit_counters` table (database/postgres/0005). Measured against limits' own MongoDB storage
on the embedded MongoDB stand-in, which is also the stock's database: that one took a third of the
checkout throughput (bench/results/checkout.md); Redis (RATELIMIT_STORAGE_URI=redis://…) remains
an option. Registered for `shop+postgresql://` URIs by importing this module (shop.web.extensions).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time

import psycopg2
from limits.storage import Storage

from shop.adapters.errors import DatabaseError
from shop.adapters.postgres import PostgresDatabase
from shop.metrics import RATE_LIMIT_STORE_ERRORS

log = logging.getLogger(__name__)

SCHEME = "shop+postgresql"


def _counted(method):
    """A failing call is logged and counted (shop_rate_limit_store_errors_total) before Flask-Limiter
    falls back to counting in each process's memory, so an operator sees that limits are looser."""
    @functools.wraps(method)
    def counted(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            RATE_LIMIT_STORE_ERRORS.inc()
            log.warning("rate-limit store in PostgreSQL failed (%s: %s): limits are counted per process "
                        "until it answers again", type(error).__name__, str(error).splitlines()[0][:200])
            raise

    return counted


class PostgresRateLimitStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._url = uri.removeprefix("shop+")
        self._db = None
        self._pid = None
        self._lock = threading.Lock()

    @property
    def base_exceptions(self):
        return psycopg2.Error, DatabaseError

    def _database(self):
        """This process's pool, made on first use (after a worker fork, never before)."""
        with self._lock:
            if self._db is None or self._pid != os.getpid():
                self._db, self._pid = PostgresDatabase(self._url, min_connections=0, max_connections=4), os.getpid()
            return self._db

    @_counted
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        with self._database().statement() as cur:
            cur.execute(
                """INSERT INTO rate_limit_counters AS c (key, count, expires_at)
                   VALUES (%(key)s, %(amount)s, clock_timestamp() + make_interval(secs => %(expiry)s))
                   ON CONFLICT (key) DO UPDATE SET
                       count = CASE WHEN c.expires_at <= clock_timestamp() THEN EXCLUDED.count
                                    ELSE c.count + EXCLUDED.count END,
                       expires_at = CASE WHEN c.expires_at <= clock_timestamp() THEN EXCLUDED.expires_at
                                         ELSE c.expires_at END
                   RETURNING count""", {"key": key, "amount": amount, "expiry": expiry})
            return cur.fetchone()["count"]

    @_counted
    def get(self, key: str) -> int:
        with self._database().statement() as cur:
            cur.execute("SELECT count FROM rate_limit_counters WHERE key = %s AND expires_at > clock_timestamp()",
                        (key,))
            row = cur.fetchone()
        return row["count"] if row else 0

    @_counted
    def get_expiry(self, key: str) -> float:
        with self._database().statement() as cur:
            cur.execute("SELECT extract(epoch FROM expires_at) AS at FROM rate_limit_counters WHERE key = %s", (key,))
            row = cur.fetchone()
        return float(row["at"]) if row else time.time()

    def check(self) -> bool:
        try:
            self._database().ping()
        except Exception:
            return False
        return True

    def reset(self) -> int | None:
        with self._database().statement() as cur:
            cur.execute("DELETE FROM rate_limit_counters")
            return cur.rowcount

    @_counted
    def clear(self, key: str) -> None:
        with self._database().statement() as cur:
            cur.execute("DELETE FROM rate_limit_counters WHERE key = %s", (key,))
