"""PostgreSQL access: the connection pool, explicit transactions, migrations and queries.

Users, orders, order items and payments live here (financial consistency: constraints, NUMERIC
money, row locks). Every statement is parameterized; no SQL is ever built from input.

(Over 700 lines, and known to be: the pool, migrations, users, the checkout protocol's statements,
order transitions and recovery queries still live in this one class; issue 9 splits them by
aggregate with a unit of work, not done yet. Everything newer lives in modules beside it, reached
as attributes: `db.catalog`, `db.lists`, `db.outbox`, `db.discounts`, `db.refunds`.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extras
import psycopg2.pool
import psycopg2.sql

from shop import metrics
from shop.adapters.postgres.catalog_index import CatalogIndex
from shop.adapters.postgres.discounts import Discounts, take_discount_use
from shop.adapters.postgres.mail_outbox import MailOutbox
from shop.adapters.postgres.refunds import Refunds
from shop.adapters.postgres.shipping import Shipping
from shop.adapters.postgres.staff_lists import StaffLists
from shop.config import PROJECT_ROOT
from shop.domain.accounts import Role, User
from shop.domain.orders import HeldUnpaid, OrderLine, OrderStatus

log = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_ROOT / "database" / "postgres"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# A pooled connection unused this long is checked before use (PostgresDatabase._alive).
IDLE_CHECK_SECONDS = 1.0
# Any constant will do; it only has to be the same in every process applying migrations.
_MIGRATION_LOCK_KEY = 7_201_001

# Every order status change takes this advisory lock in shared mode; a backup takes it exclusively
# for the moment it fixes its cut across both databases (docs/backup.md). Shared holders never wait
# for one another, so checkouts are unaffected unless a backup is cutting.
BACKUP_FENCE_KEY = 7_201_003
# Two-key advisory locks of this class serialise the checkouts from one client address.
_ADDRESS_LOCK_CLASS = 7_201_010

UniqueViolation = psycopg2.errors.UniqueViolation
# The server is unreachable or the connection broke: the caller cannot know more than that.
DatabaseUnavailable = (psycopg2.OperationalError, psycopg2.InterfaceError)
DatabaseError = psycopg2.Error


class _CountingCursor(psycopg2.extras.RealDictCursor):
    """Counts statements sent, for the benchmark's "round trips per checkout" figure."""

    owner: PostgresDatabase | None = None

    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's signature
        if self.owner is not None:
            self.owner.statements += 1
        return super().execute(query, vars)


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database."""

    statements = 0  # statements sent through transaction() by this process (approximate under threads)
    transactions = 0

    def __init__(self, url: str, *, min_connections: int = 1, max_connections: int = 10,
                 acquire_timeout: float = 10.0):
        self.url = url
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
        self.catalog = CatalogIndex(self)
        self.lists = StaffLists(self)
        self.outbox = MailOutbox(self)
        self.discounts = Discounts(self)
        self.refunds = Refunds(self)
        self.shipping = Shipping(self)

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
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
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

    # --- users --------------------------------------------------------------------------------

    def insert_user(self, email: str, full_name: str, password_hash: str, role: Role, *,
                    email_verified: bool = True) -> User:
        """Insert a user; raises UniqueViolation when the e-mail is taken."""
        with self.transaction() as cur:
            cur.execute(
                f"""INSERT INTO users (email, full_name, password_hash, role, email_verified)
                   VALUES (%s, %s, %s, %s, %s) RETURNING {_USER_COLUMNS}""",  # noqa: S608  # nosec B608 - constant
                (email, full_name, password_hash, role.value, email_verified),
            )
            return _user(cur.fetchone())

    def mark_email_verified(self, user_id: int, email: str) -> User | None:
        """The activation link was followed: the account (still with that e-mail) may log in. The
        first time, the welcome mail is written to the outbox in the same transaction."""
        with self.transaction() as cur:
            cur.execute(f"""UPDATE users SET email_verified = TRUE
                            WHERE user_id = %s AND email = %s AND NOT email_verified
                            RETURNING {_USER_COLUMNS}""",  # noqa: S608  # nosec B608 - constant
                        (user_id, email))
            row = cur.fetchone()
            if row is not None:
                cur.execute("""INSERT INTO mail_outbox (kind, user_id, to_address, language)
                               SELECT 'account.welcome', user_id, email, language FROM users WHERE user_id = %s""",
                            (user_id,))
            else:  # followed again: already active, nothing more to send
                cur.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = %s AND email = %s "  # noqa: S608  # nosec B608 - constant
                            "AND email_verified", (user_id, email))
                row = cur.fetchone()
        return _user(row) if row else None

    def find_user_credentials(self, email: str) -> tuple[User, str] | None:
        with self.transaction() as cur:
            cur.execute(
                f"""SELECT {_USER_COLUMNS}, password_hash
                   FROM users WHERE email = %s""",  # noqa: S608  # nosec B608 - constant
                (email,),
            )
            row = cur.fetchone()
        return (_user(row), row["password_hash"]) if row else None

    def find_user_credentials_by_id(self, user_id: int) -> tuple[User, str] | None:
        with self.transaction() as cur:
            cur.execute(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE user_id = %s",  # noqa: S608  # nosec B608
                        (user_id,))
            row = cur.fetchone()
        return (_user(row), row["password_hash"]) if row else None

    def set_password(self, user_id: int, password_hash: str, expected_hash: str) -> User | None:
        """A password reset: only if the password is still the one the reset link was made for (so a
        link works once); verifies the e-mail (the link came through it) and ends every session."""
        with self.transaction() as cur:
            cur.execute(f"""UPDATE users SET password_hash = %s, email_verified = TRUE,
                                   session_epoch = session_epoch + 1
                            WHERE user_id = %s AND password_hash = %s AND is_active
                            RETURNING {_USER_COLUMNS}""",  # noqa: S608  # nosec B608 - constant
                        (password_hash, user_id, expected_hash))
            row = cur.fetchone()
        return _user(row) if row else None

    def get_user(self, user_id: int) -> User | None:
        with self.transaction() as cur:
            cur.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = %s",  # noqa: S608  # nosec B608 - constant
                (user_id,),
            )
            row = cur.fetchone()
        return _user(row) if row else None

    def update_password_hash(self, user_id: int, password_hash: str, *, end_sessions: bool = False) -> int:
        """Store a new hash (a rehash at login keeps the sessions; a password change ends them all).
        Returns the user's session epoch after the update."""
        with self.transaction() as cur:
            cur.execute("""UPDATE users SET password_hash = %s,
                                  session_epoch = session_epoch + CASE WHEN %s THEN 1 ELSE 0 END
                           WHERE user_id = %s RETURNING session_epoch""", (password_hash, end_sessions, user_id))
            return cur.fetchone()["session_epoch"]

    def update_profile(self, user_id: int, full_name: str, language: str) -> User:
        with self.transaction() as cur:
            cur.execute(f"UPDATE users SET full_name = %s, language = %s WHERE user_id = %s "  # noqa: S608  # nosec B608
                        f"RETURNING {_USER_COLUMNS}", (full_name, language, user_id))
            return _user(cur.fetchone())

    def language_of(self, user_id: int) -> str:
        with self.transaction() as cur:
            cur.execute("SELECT language FROM users WHERE user_id = %s", (user_id,))
            row = cur.fetchone()
            return row["language"] if row else "es"

    def set_language(self, user_id: int, language: str) -> None:
        """The language the shop's mails to this user are written in ('es' or 'en')."""
        with self.transaction() as cur:
            cur.execute("UPDATE users SET language = %s WHERE user_id = %s", (language, user_id))

    def end_sessions(self, user_id: int) -> None:
        """Every session of this user stops being valid on its next request (logout everywhere)."""
        with self.transaction() as cur:
            cur.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE user_id = %s", (user_id,))

    def count_users(self) -> int:
        with self.transaction() as cur:
            cur.execute("SELECT count(*) AS n FROM users")
            return cur.fetchone()["n"]

    def find_users(self, role: Role | None = None, email: str | None = None, limit: int = 50, *,
                   after_id: int | None = None, before_id: int | None = None) -> tuple[list[User], int]:
        """Users for the staff console in account order (exact role and e-mail filters): those after
        `after_id`, or the nearest before `before_id` (read backwards); and how many match, counted
        up to 1,001. The password hash is never selected."""
        params = {"role": role.value if role else None, "email": email, "after": after_id, "before": before_id,
                  "limit": limit}
        filters = """(%(role)s::text IS NULL OR role = %(role)s) AND (%(email)s::text IS NULL OR email = %(email)s)"""
        with self.transaction() as cur:
            cur.execute(
                f"""SELECT {_USER_COLUMNS} FROM users
                    WHERE {filters} AND (%(after)s::int IS NULL OR user_id > %(after)s)
                      AND (%(before)s::int IS NULL OR user_id < %(before)s)
                    ORDER BY user_id {"DESC" if before_id is not None else "ASC"} LIMIT %(limit)s""",  # noqa: S608  # nosec B608 - fixed fragments
                params)
            users = [_user(row) for row in cur.fetchall()]
            cur.execute(f"SELECT count(*) AS n FROM (SELECT 1 FROM users WHERE {filters} LIMIT 1001) AS matching",  # noqa: S608  # nosec B608 - a fixed fragment
                        params)
            return users, cur.fetchone()["n"]

    @contextlib.contextmanager
    def locked_user(self, user_id: int) -> Iterator[tuple[psycopg2.extensions.cursor, User | None, list[int]]]:
        """A user row under FOR UPDATE, with the ids of the active admins, also locked.

        Every role or activation change takes the active admins' rows first, in id order, so two
        admins demoting each other at once are serialised and the second sees only one admin left.
        """
        with self.transaction() as cur:
            cur.execute("""SELECT user_id FROM users WHERE role = 'admin' AND is_active
                           ORDER BY user_id FOR UPDATE""")
            admins = [row["user_id"] for row in cur.fetchall()]
            cur.execute(f"""SELECT {_USER_COLUMNS} FROM users
                           WHERE user_id = %s FOR UPDATE""",  # noqa: S608  # nosec B608 - constant
                        (user_id,))
            row = cur.fetchone()
            yield cur, (_user(row) if row else None), admins

    @staticmethod
    def update_user(cur, user_id: int, role: Role, is_active: bool) -> User:
        """Within locked_user. A change of role or activation ends the user's sessions."""
        cur.execute("""UPDATE users SET role = %(role)s, is_active = %(active)s,
                              session_epoch = session_epoch
                                  + CASE WHEN role <> %(role)s OR is_active <> %(active)s THEN 1 ELSE 0 END
                       WHERE user_id = %(user_id)s
                       RETURNING user_id, email, full_name, role, is_active, session_epoch, email_verified""",
                    {"role": role.value, "active": is_active, "user_id": user_id})
        return _user(cur.fetchone())

    # --- staff views: the dashboard (the lists are in staff_lists.py) ---------------------------

    def is_product_ordered(self, product_id: str) -> bool:
        with self.transaction() as cur:
            cur.execute("SELECT EXISTS (SELECT FROM order_items WHERE product_id = %s) AS ordered", (product_id,))
            return cur.fetchone()["ordered"]

    def sales_per_day(self, days: int) -> list[dict]:
        """Every one of the last `days` days (UTC), with the paid or shipped orders placed that day
        (from the daily totals kept as orders are paid: database/postgres/0010_sales_rollups.sql)."""
        with self.transaction() as cur:
            cur.execute(
                """SELECT d::date AS day, coalesce(s.orders, 0) AS orders, coalesce(s.revenue, 0) AS revenue
                   FROM generate_series((now() AT TIME ZONE 'UTC')::date - (%(days)s - 1),
                                        (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d
                   LEFT JOIN sales_daily s ON s.day = d::date
                   ORDER BY d""", {"days": days})
            return list(cur.fetchall())

    def order_status_counts(self, days: int) -> dict[str, int]:
        with self.transaction() as cur:
            cur.execute("""SELECT status, count(*) AS n FROM orders
                           WHERE created_at >= now() - make_interval(days => %s) GROUP BY status""", (days,))
            return {row["status"]: row["n"] for row in cur.fetchall()}

    def top_products(self, days: int, limit: int = 10) -> list[dict]:
        """Best sellers by units in paid or shipped orders placed in the last `days` days (from the
        daily totals), with the name each was last sold under."""
        with self.transaction() as cur:
            cur.execute(
                """WITH top AS (
                       SELECT product_id, sum(units) AS units, sum(revenue) AS revenue FROM product_sales_daily
                       WHERE day > (now() AT TIME ZONE 'UTC')::date - %s
                       GROUP BY product_id ORDER BY units DESC, revenue DESC LIMIT %s)
                   SELECT top.product_id, top.units, top.revenue,
                          (SELECT product_name FROM order_items i WHERE i.product_id = top.product_id
                           ORDER BY order_item_id DESC LIMIT 1) AS name
                   FROM top ORDER BY units DESC, revenue DESC""", (days, limit))
            return list(cur.fetchall())

    # --- orders: the checkout protocol's PostgreSQL side (docs/checkout.md) --------------------

    def create_placing_order(self, user_id: int, idempotency_key: str, request_hash: str,
                             lease_seconds: int, *, units: int = 0, placed_from: str | None = None,
                             admit: Callable[[HeldUnpaid], None] | None = None,
                             lock_address: bool = True, discount_code: str | None = None) -> tuple[dict, bool]:
        """Step 1: the order in its in-flight state (its lines are written with the decision).

        Returns (order row, created); when this user already used the idempotency key nothing is
        written and the earlier order returns. Without `admit`, one statement (one round trip). With
        it, the account's row (and the client address) is locked first, what they already hold
        unpaid is counted and handed to `admit`, which raises to refuse: two checkouts of one
        account or address are counted one after the other, never both against the same total.
        `lock_address=False` (no per-address limit) skips the address lock, which serialises every
        checkout from one address — all of them, behind a proxy that is not declared (TRUSTED_PROXIES).
        """
        insert = """WITH new_order AS (
                       INSERT INTO orders (user_id, total_amount, status, idempotency_key, request_hash,
                                           lease_until, units, placed_from)
                       VALUES (%s, 0, 'placing', %s, %s, clock_timestamp() + make_interval(secs => %s), %s, %s)
                       ON CONFLICT (user_id, idempotency_key) DO NOTHING
                       RETURNING *),
                   history AS (
                       INSERT INTO order_status_history (order_id, from_status, to_status, reason)
                       SELECT order_id, NULL, 'placing', 'checkout started' FROM new_order)
                   SELECT * FROM new_order"""
        values = (user_id, idempotency_key, request_hash, lease_seconds, units, placed_from)
        if admit is None and discount_code is None:
            with self.statement() as cur:
                cur.execute(insert, values)
                order = cur.fetchone()
        else:
            with self.transaction() as cur:
                replay = False
                if admit is not None:
                    # The address lock (when there is one) comes before the account row in every
                    # checkout, so two checkouts never wait for each other in opposite orders.
                    if placed_from is not None and lock_address:
                        cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                                    (_ADDRESS_LOCK_CLASS, placed_from))
                    cur.execute("SELECT FROM users WHERE user_id = %s FOR NO KEY UPDATE", (user_id,))
                    cur.execute(
                        """SELECT EXISTS (SELECT FROM orders WHERE user_id = %(user)s AND idempotency_key = %(key)s)
                                      AS replay,
                                  count(*) FILTER (WHERE user_id = %(user)s) AS account_orders,
                                  coalesce(sum(units) FILTER (WHERE user_id = %(user)s), 0) AS account_units,
                                  count(*) FILTER (WHERE placed_from = %(address)s) AS address_orders,
                                  coalesce(sum(units) FILTER (WHERE placed_from = %(address)s), 0) AS address_units
                           FROM orders
                           WHERE status IN ('placing', 'pending')
                             AND (user_id = %(user)s OR placed_from = %(address)s)""",
                        {"user": user_id, "key": idempotency_key, "address": placed_from})
                    held = cur.fetchone()
                    replay = held["replay"]
                    if not replay:
                        admit(HeldUnpaid(held["account_orders"], int(held["account_units"]),
                                         held["address_orders"], int(held["address_units"])))
                order = None
                if not replay:
                    cur.execute(insert, values)
                    order = cur.fetchone()
                if order is not None and discount_code is not None:
                    # The code's use belongs to this order from the start (docs/money.md): taken in
                    # the transaction that creates it, or refused and nothing is created.
                    order["discount"] = take_discount_use(cur, discount_code, order["order_id"], user_id)
                    order["discount_code"] = discount_code
        if order is not None:
            return order, True
        return self.order_by_idempotency_key(user_id, idempotency_key), False

    def decide_placing_order(self, order_id: int, outcome: OrderStatus, reason: str | None = None,
                             lines: list[OrderLine] | None = None, pending_ttl_minutes: int = 30,
                             changed_by: int | None = None, shipping: dict | None = None) -> bool:
        """The decision point: move an order out of `placing`, if nobody else has yet.

        True means this caller decided the order; False means it had already been decided (by the
        checkout or by recovery). A commit writes the lines as sold, the total and the history, and
        removes the ordered products from the customer's cart — all in one atomic statement.
        """
        lines = lines or []
        shipping = shipping or {}
        total = sum((line.subtotal for line in lines), Decimal("0.00")) + shipping.get("amount", Decimal("0.00"))
        with self.statement() as cur:
            cur.execute(
                """WITH fence AS (SELECT pg_advisory_xact_lock_shared(%(fence)s)),
                   decided AS (
                       UPDATE orders
                       SET status = %(outcome)s, lease_until = NULL, failure_reason = %(reason)s,
                           total_amount = %(total)s, shipping_address = %(ship_to)s::jsonb,
                           shipping_method = %(ship_by)s, shipping_amount = %(ship_amount)s,
                           shipping_tax = %(ship_tax)s, shipping_tax_rate = %(ship_rate)s,
                           expires_at = CASE WHEN %(outcome)s = 'pending'
                                             THEN now() + make_interval(mins => %(ttl)s) END
                       WHERE order_id = %(order_id)s AND status = 'placing' AND EXISTS (SELECT FROM fence)
                       RETURNING order_id, user_id),
                   items AS (
                       INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity,
                                                tax_rate, tax_amount, discount_amount)
                       SELECT d.order_id, l.product_id, l.product_name, l.unit_price, l.quantity, l.rate, l.tax,
                              l.discount
                       FROM decided d,
                            unnest(%(ids)s::text[], %(names)s::text[], %(prices)s::numeric[], %(qtys)s::int[],
                                   %(rates)s::numeric[], %(taxes)s::numeric[], %(discounts)s::numeric[])
                              AS l(product_id, product_name, unit_price, quantity, rate, tax, discount)),
                   history AS (
                       INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, reason)
                       SELECT order_id, 'placing', %(outcome)s, %(changed_by)s, %(reason)s FROM decided),
                   cart AS (
                       DELETE FROM cart_items c USING decided d
                       WHERE %(outcome)s = 'pending' AND c.user_id = d.user_id AND c.product_id = ANY(%(ids)s))
                   SELECT user_id FROM decided""",
                {"fence": BACKUP_FENCE_KEY, "outcome": outcome.value, "reason": reason, "total": total,
                 "ship_to": json.dumps(shipping["address"]) if shipping else None,
                 "ship_by": shipping.get("method"), "ship_amount": shipping.get("amount", 0),
                 "ship_tax": shipping.get("tax", 0), "ship_rate": shipping.get("rate"),
                 "ttl": pending_ttl_minutes,
                 "order_id": order_id, "changed_by": changed_by,
                 "ids": [ln.product_id for ln in lines], "names": [ln.product_name for ln in lines],
                 "prices": [ln.unit_price for ln in lines], "qtys": [ln.quantity for ln in lines],
                 "rates": [ln.tax_rate for ln in lines], "taxes": [ln.tax_amount for ln in lines],
                 "discounts": [ln.discount_amount for ln in lines]},
            )
            return cur.fetchone() is not None

    def has_bought(self, user_id: int, product_id: str) -> bool:
        """Whether the user has a paid (or shipped) order with this product."""
        with self.transaction() as cur:
            cur.execute(
                """SELECT EXISTS (SELECT FROM order_items i JOIN orders o USING (order_id)
                                  WHERE o.user_id = %s AND i.product_id = %s AND o.status IN ('paid', 'shipped'))
                   AS bought""", (user_id, product_id))
            return cur.fetchone()["bought"]

    def order_by_idempotency_key(self, user_id: int, idempotency_key: str) -> dict | None:
        with self.transaction() as cur:
            cur.execute("SELECT * FROM orders WHERE user_id = %s AND idempotency_key = %s", (user_id, idempotency_key))
            return cur.fetchone()

    def order_items(self, order_id: int) -> list[dict]:
        with self.transaction() as cur:
            cur.execute("SELECT * FROM order_items WHERE order_id = %s ORDER BY product_id", (order_id,))
            return list(cur.fetchall())

    def get_order(self, order_id: int) -> dict | None:
        """An order with its items and status history."""
        with self.transaction() as cur:
            cur.execute("SELECT * FROM orders WHERE order_id = %s", (order_id,))
            order = cur.fetchone()
            if order is None:
                return None
            cur.execute("SELECT * FROM order_items WHERE order_id = %s ORDER BY order_item_id", (order_id,))
            order["items"] = list(cur.fetchall())
            cur.execute(
                """SELECT h.*, u.full_name AS changed_by_name FROM order_status_history h
                   LEFT JOIN users u ON u.user_id = h.changed_by
                   WHERE h.order_id = %s ORDER BY h.history_id""", (order_id,))
            order["history"] = list(cur.fetchall())
            cur.execute("SELECT * FROM payments WHERE order_id = %s ORDER BY payment_id", (order_id,))
            order["payments"] = list(cur.fetchall())
            cur.execute("SELECT series_year, number, issued_at FROM invoices WHERE order_id = %s", (order_id,))
            order["invoice"] = cur.fetchone()
            return order

    def orders_of_user(self, user_id: int, limit: int = 100, include_failed: bool = False) -> list[dict]:
        """The user's orders, newest first, each with its items (failed attempts only if asked)."""
        with self.transaction() as cur:
            cur.execute(
                """SELECT * FROM orders WHERE user_id = %s AND (%s OR status <> 'failed')
                   ORDER BY created_at DESC, order_id DESC LIMIT %s""",
                (user_id, include_failed, limit),
            )
            orders = list(cur.fetchall())
            if orders:
                cur.execute("SELECT * FROM order_items WHERE order_id = ANY(%s) ORDER BY order_item_id",
                            ([o["order_id"] for o in orders],))
                items: dict[int, list] = {}
                for item in cur.fetchall():
                    items.setdefault(item["order_id"], []).append(item)
                for order in orders:
                    order["items"] = items.get(order["order_id"], [])
            return orders

    @contextlib.contextmanager
    def locked_order(self, order_id: int, *, account: int | None = None,
                     ) -> Iterator[tuple[psycopg2.extensions.cursor, dict | None]]:
        """The order row under SELECT … FOR UPDATE: concurrent pay/cancel/ship/expire queue here.

        With `account`, that user's row is locked first (payments count attempts per account). The
        order is always: account, then order — nothing locks an order and then an account.
        """
        with self.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (BACKUP_FENCE_KEY,))
            if account is not None:
                cur.execute("SELECT FROM users WHERE user_id = %s FOR NO KEY UPDATE", (account,))
            cur.execute("SELECT * FROM orders WHERE order_id = %s FOR UPDATE", (order_id,))
            yield cur, cur.fetchone()

    @staticmethod
    def declined_payments(cur, order_id: int, user_id: int, window_minutes: int) -> tuple[int, int]:
        """Within locked_order(account=…): declined attempts in the window, for the order and for the account."""
        cur.execute(
            """SELECT count(*) FILTER (WHERE p.order_id = %(order)s) AS for_order, count(*) AS for_account
               FROM payments p JOIN orders o USING (order_id)
               WHERE o.user_id = %(user)s AND p.status = 'declined'
                 AND p.created_at > now() - make_interval(mins => %(window)s)""",
            {"order": order_id, "user": user_id, "window": window_minutes})
        row = cur.fetchone()
        return row["for_order"], row["for_account"]

    @staticmethod
    def set_status(cur, order: dict, target: OrderStatus, changed_by: int | None, reason: str | None) -> None:
        """Within locked_order: the transition, recorded in the history."""
        cur.execute(
            """UPDATE orders SET status = %s, expires_at = NULL,
                      stock_returned = CASE WHEN %s = 'cancelled' THEN FALSE ELSE stock_returned END
               WHERE order_id = %s""",
            (target.value, target.value, order["order_id"]),
        )
        _record_status(cur, order["order_id"], OrderStatus(order["status"]), target, changed_by, reason)

    @staticmethod
    def record_shipment(cur, order_id: int, carrier: str | None, tracking_number: str | None) -> None:
        """Within locked_order: how the order travels (before its status becomes shipped, so the
        shipped mail written by the history trigger can name them)."""
        cur.execute("UPDATE orders SET carrier = %s, tracking_number = %s, shipped_at = now() WHERE order_id = %s",
                    (carrier, tracking_number, order_id))

    @staticmethod
    def record_payment(cur, order_id: int, amount: Decimal, status: str, method: str, reference: str | None,
                       card_last4: str | None, decline_reason: str | None) -> int:
        cur.execute(
            """INSERT INTO payments (order_id, amount, status, method, provider_reference, card_last4,
                                     decline_reason)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING payment_id""",
            (order_id, amount, status, method, reference, card_last4, decline_reason),
        )
        return cur.fetchone()["payment_id"]

    def delete_expired_rate_limits(self) -> int:
        """Rate-limit counters whose window is over (shop.adapters.postgres.rate_limits)."""
        with self.statement() as cur:
            cur.execute("DELETE FROM rate_limit_counters WHERE expires_at < clock_timestamp()")
            return cur.rowcount

    def mark_stock_returned(self, order_id: int) -> None:
        with self.transaction() as cur:
            cur.execute("UPDATE orders SET stock_returned = TRUE WHERE order_id = %s AND status = 'cancelled'",
                        (order_id,))

    # --- recovery -----------------------------------------------------------------------------

    def orders_with_expired_lease(self, limit: int = 100) -> list[int]:
        with self.transaction() as cur:
            cur.execute(
                """SELECT order_id FROM orders WHERE status = 'placing' AND lease_until < clock_timestamp()
                   ORDER BY order_id LIMIT %s""", (limit,))
            return [row["order_id"] for row in cur.fetchall()]

    def unpaid_expired_orders(self, limit: int = 100) -> list[int]:
        with self.transaction() as cur:
            cur.execute(
                """SELECT order_id FROM orders WHERE status = 'pending' AND expires_at < now()
                   ORDER BY order_id LIMIT %s""", (limit,))
            return [row["order_id"] for row in cur.fetchall()]

    def cancelled_orders_awaiting_stock(self, limit: int = 100) -> list[int]:
        with self.transaction() as cur:
            cur.execute(
                """SELECT order_id FROM orders WHERE status = 'cancelled' AND NOT stock_returned
                   ORDER BY order_id LIMIT %s""", (limit,))
            return [row["order_id"] for row in cur.fetchall()]

    def order_states(self, order_ids: list[int]) -> dict[int, tuple[OrderStatus, bool]]:
        """Status and stock_returned of each order (missing orders are absent)."""
        if not order_ids:
            return {}
        with self.transaction() as cur:
            cur.execute("SELECT order_id, status, stock_returned FROM orders WHERE order_id = ANY(%s)",
                        (list(order_ids),))
            return {r["order_id"]: (OrderStatus(r["status"]), r["stock_returned"]) for r in cur.fetchall()}

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

    # --- cart ---------------------------------------------------------------------------------

    def cart_lines(self, user_id: int) -> list[tuple[str, int]]:
        with self.transaction() as cur:
            cur.execute("SELECT product_id, quantity FROM cart_items WHERE user_id = %s ORDER BY added_at, product_id",
                        (user_id,))
            return [(r["product_id"], r["quantity"]) for r in cur.fetchall()]

    def add_to_cart(self, user_id: int, product_id: str, quantity: int, max_quantity: int) -> None:
        with self.transaction() as cur:
            cur.execute(
                """INSERT INTO cart_items (user_id, product_id, quantity) VALUES (%s, %s, %s)
                   ON CONFLICT (user_id, product_id)
                   DO UPDATE SET quantity = LEAST(cart_items.quantity + EXCLUDED.quantity, %s)""",
                (user_id, product_id, quantity, max_quantity),
            )

    def set_cart_quantity(self, user_id: int, product_id: str, quantity: int) -> None:
        with self.transaction() as cur:
            if quantity <= 0:
                cur.execute("DELETE FROM cart_items WHERE user_id = %s AND product_id = %s", (user_id, product_id))
            else:
                cur.execute("UPDATE cart_items SET quantity = %s WHERE user_id = %s AND product_id = %s",
                            (quantity, user_id, product_id))


def _record_status(cur, order_id: int, from_status: OrderStatus | None, to_status: OrderStatus,
                   changed_by: int | None, reason: str | None) -> None:
    cur.execute(
        """INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, reason)
           VALUES (%s, %s, %s, %s, %s)""",
        (order_id, from_status.value if from_status else None, to_status.value, changed_by, reason),
    )


_USER_COLUMNS = "user_id, email, full_name, role, is_active, session_epoch, email_verified"


def _user(row: dict) -> User:
    return User(user_id=row["user_id"], email=row["email"], full_name=row["full_name"],
                role=Role(row["role"]), is_active=row["is_active"], session_epoch=row.get("session_epoch", 0),
                email_verified=row.get("email_verified", True))
