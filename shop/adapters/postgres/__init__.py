"""PostgreSQL access: the connection pool, explicit transactions, migrations and queries.

Users, orders, order items and payments live here (financial consistency: constraints, NUMERIC
money, row locks). Every statement is parameterized; no SQL is ever built from input.

This class is the pool, transactions, migrations and advisory locks. What is stored lives in modules
beside it, one per aggregate, reached as attributes so call sites read like the model: `db.users`,
`db.orders` (with the unit of work `db.orders.locked(order_id)`), `db.carts`, `db.reports`,
`db.catalog`, `db.lists`, `db.outbox`, `db.discounts`, `db.refunds`, `db.shipping`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extras
import psycopg2.pool
import psycopg2.sql

from shop import metrics
from shop.adapters.errors import DatabaseError as DatabaseError  # the shop's own errors, re-exported
from shop.adapters.errors import DatabaseUnavailable as DatabaseUnavailable
from shop.adapters.errors import UniqueViolation as UniqueViolation
from shop.adapters.postgres.api_credentials import ApiCredentials
from shop.adapters.postgres.carts import Carts
from shop.adapters.postgres.catalog_index import CatalogIndex
from shop.adapters.postgres.discounts import Discounts
from shop.adapters.postgres.errors import DRIVER_UNAVAILABLE as DRIVER_UNAVAILABLE
from shop.adapters.postgres.errors import shop_error, translating
from shop.adapters.postgres.invoice_book import InvoiceBook
from shop.adapters.postgres.invoice_records import InvoiceRecords
from shop.adapters.postgres.locks import BACKUP_FENCE_KEY as BACKUP_FENCE_KEY  # the backup's fence
from shop.adapters.postgres.mail_outbox import MailOutbox
from shop.adapters.postgres.orders import Orders
from shop.adapters.postgres.refunds import Refunds
from shop.adapters.postgres.reports import Reports
from shop.adapters.postgres.shipping import Shipping
from shop.adapters.postgres.staff_lists import StaffLists
from shop.adapters.postgres.users import Users
from shop.adapters.postgres.webhooks import Webhooks
from shop.config import PROJECT_ROOT

log = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_ROOT / "database" / "postgres"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# A pooled connection unused this long is checked before use (PostgresDatabase._alive).
IDLE_CHECK_SECONDS = 1.0
# Any constant will do; it only has to be the same in every process applying migrations.
_MIGRATION_LOCK_KEY = 7_201_001




class _CountingCursor(psycopg2.extras.RealDictCursor):
    """Counts statements sent, for the benchmark's "round trips per checkout" figure."""

    owner: PostgresDatabase | None = None

    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's signature
        if self.owner is not None:
            self.owner.statements += 1
        return super().execute(query, vars)


@translating(shop_error, skip=frozenset({"transaction", "statement"}))
class PostgresDatabase:
    """A pool of connections to one PostgreSQL database. Its methods raise the shop's own errors
    (shop.adapters.errors); `transaction()` and `statement()` hand out a raw cursor, for the modules
    beside this one and for schema tests, and keep psycopg2's."""

    statements = 0  # statements sent through transaction() by this process (approximate under threads)
    transactions = 0

    def __init__(self, url: str, *, min_connections: int = 1, max_connections: int = 10,
                 acquire_timeout: float = 10.0, time_zone: str = "Europe/Madrid",
                 issuer_tax_id: str = "B00000000"):
        self.url = url
        self.time_zone = time_zone  # the shop's (SHOP_TIME_ZONE): an invoice's series year is its year there
        self.clock: Callable[[], dt.datetime] | None = None  # None: the database's own (tests set one)
        self.issuer_tax_id = issuer_tax_id  # SELLER_TAX_ID: the issuer of the VERI*FACTU records
        self._pool = psycopg2.pool.ThreadedConnectionPool(
            min_connections, max_connections, url, connect_timeout=5,
            application_name="shop",
        )
        # psycopg2's pool keeps only `minconn` idle connections and closes every other one given
        # back: under concurrency most requests would open a new connection (~5 ms). Opened lazily,
        # kept up to the maximum.
        self._pool.minconn = max_connections
        # psycopg2's pool raises PoolError when every connection is in use; threads wait here instead.
        self._slots = threading.BoundedSemaphore(max_connections)
        self._acquire_timeout = acquire_timeout
        self._last_used: dict[int, float] = {}  # id(connection) → when it was last given back
        self.users = Users(self)
        self.orders = Orders(self)
        self.carts = Carts(self)
        self.reports = Reports(self)
        self.catalog = CatalogIndex(self)
        self.lists = StaffLists(self)
        self.outbox = MailOutbox(self)
        self.discounts = Discounts(self)
        self.refunds = Refunds(self)
        self.invoice_book = InvoiceBook(self)
        self.invoice_records = InvoiceRecords(self)
        self.shipping = Shipping(self)
        self.api = ApiCredentials(self)
        self.webhooks = Webhooks(self)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg2.extensions.connection]:
        metrics.POOL_WAITING.inc()
        try:
            acquired = self._slots.acquire(timeout=self._acquire_timeout)
        finally:
            metrics.POOL_WAITING.dec()
        if not acquired:
            raise psycopg2.OperationalError(f"no database connection free after {self._acquire_timeout}s")
        metrics.POOL_IN_USE.inc()
        try:
            conn = self._pool.getconn()
            if conn.closed or not self._alive(conn):  # died while idle (server restarted, backend
                self._pool.putconn(conn, close=True)  # terminated, failover): take a fresh one, once
                conn = self._pool.getconn()
        except BaseException:
            self._slots.release()
            metrics.POOL_IN_USE.dec()
            raise
        broken = False
        try:
            yield conn
        except (*DRIVER_UNAVAILABLE, DatabaseUnavailable):
            broken = True
            raise
        finally:
            discard = broken or conn.closed != 0
            if discard:
                self._last_used.pop(id(conn), None)
            else:
                self._last_used[id(conn)] = time.monotonic()
            try:
                self._pool.putconn(conn, close=discard)
            finally:
                self._slots.release()
                metrics.POOL_IN_USE.dec()

    def _alive(self, conn) -> bool:
        """A connection idle for more than IDLE_CHECK_SECONDS is asked `SELECT 1` before use (one round
        trip, outside any transaction). A busy pool never pays it; after a restart every idle
        connection is found dead here instead of failing the request that draws it."""
        if time.monotonic() - self._last_used.get(id(conn), 0.0) < IDLE_CHECK_SECONDS:
            return True
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
            conn.autocommit = False
            return True
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            return False

    def close(self) -> None:
        self._pool.closeall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor in one transaction: commits when the block ends, rolls back on any exception."""
        # psycopg2: `with conn` commits on success and rolls back on an exception
        with self._connection() as conn, conn, conn.cursor(cursor_factory=_CountingCursor) as cur:
            cur.owner = self
            self.transactions += 1
            yield cur

    @contextlib.contextmanager
    def statement(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor whose single statement commits on its own (autocommit): one round trip, atomic."""
        with self._connection() as conn:
            conn.autocommit = True
            try:
                with conn.cursor(cursor_factory=_CountingCursor) as cur:
                    cur.owner = self
                    self.transactions += 1
                    yield cur
            finally:
                if not conn.closed:
                    conn.autocommit = False

    def vacuum_analyze(self, table: str) -> None:
        """VACUUM (ANALYZE) one table: outside any transaction, as PostgreSQL requires."""
        with self.statement() as cur:
            cur.execute(psycopg2.sql.SQL("VACUUM (ANALYZE) {}").format(psycopg2.sql.Identifier(table)))

    def ping(self) -> None:
        with self.transaction() as cur:
            cur.execute("SELECT 1")

    # --- schema -------------------------------------------------------------------------------

    def migrate(self, migrations_dir: Path = MIGRATIONS_DIR) -> list[str]:
        """Apply the numbered SQL files not applied yet, each in its own transaction; idempotent.

        An advisory lock makes concurrent start-ups (several app processes) apply each file once.
        """
        files = sorted(p for p in migrations_dir.glob("*.sql") if _MIGRATION_NAME.match(p.name))
        applied_now: list[str] = []
        with self.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
            cur.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    VARCHAR(4) PRIMARY KEY,
                       name       TEXT NOT NULL,
                       applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
            )
            cur.execute("SELECT version FROM schema_migrations")
            done = {row["version"] for row in cur.fetchall()}
            for path in files:
                version = path.name[:4]
                if version in done:
                    continue
                log.info("applying migration %s", path.name)
                cur.execute(path.read_text())
                # The scripts record themselves (so they can be run by hand); this covers one that does not.
                cur.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                            (version, path.name))
                applied_now.append(path.name)
        return applied_now

    def schema_version(self) -> str | None:
        with self.transaction() as cur:
            cur.execute("SELECT to_regclass('schema_migrations') AS t")
            if cur.fetchone()["t"] is None:
                return None
            cur.execute("SELECT max(version) AS v FROM schema_migrations")
            return cur.fetchone()["v"]

    # --- locks and housekeeping ----------------------------------------------------------------

    def delete_expired_rate_limits(self) -> int:
        """Rate-limit counters whose window is over (shop.adapters.postgres.rate_limits)."""
        with self.statement() as cur:
            cur.execute("DELETE FROM rate_limit_counters WHERE expires_at < clock_timestamp()")
            return cur.rowcount

    @contextlib.contextmanager
    def advisory_lock(self, key: int) -> Iterator[bool]:
        """A cluster-wide try-lock (across all app processes); yields whether it was acquired.

        Transaction-level, held by a transaction left open for the block (the block's own work runs on
        other pooled connections): it ends with that transaction whatever happens, and it stays on
        one server connection even behind PgBouncer in transaction pooling, where a session-level
        lock could be taken on one server connection and "released" on another.
        """
        with self.transaction() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s) AS acquired", (key,))
            yield cur.fetchone()["acquired"]
