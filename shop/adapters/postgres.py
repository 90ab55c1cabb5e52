"""PostgreSQL access: the connection pool, explicit transactions, migrations and queries.

Users, orders, order items and payments live here (financial consistency: constraints, NUMERIC
money, row locks). Every statement is parameterized; no SQL is ever built from input.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extras
import psycopg2.pool

from shop.config import PROJECT_ROOT
from shop.domain.accounts import Role, User

log = logging.getLogger(__name__)

MIGRATIONS_DIR = PROJECT_ROOT / "database" / "postgres"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant will do; it only has to be the same in every process applying migrations.
_MIGRATION_LOCK_KEY = 7_201_001

UniqueViolation = psycopg2.errors.UniqueViolation


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database."""

    def __init__(self, url: str, *, min_connections: int = 1, max_connections: int = 10):
        self.url = url
        self._pool = psycopg2.pool.ThreadedConnectionPool(
            min_connections, max_connections, url, connect_timeout=5,
            application_name="shop",
        )

    def close(self) -> None:
        self._pool.closeall()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor in one transaction: commits when the block ends, rolls back on any exception."""
        conn = self._pool.getconn()
        broken = False
        try:
            # psycopg2: `with conn` commits on success and rolls back on an exception
            with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True
            raise
        finally:
            self._pool.putconn(conn, close=broken or conn.closed != 0)

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
                cur.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
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

    def insert_user(self, email: str, full_name: str, password_hash: str, role: Role) -> User:
        """Insert a user; raises UniqueViolation when the e-mail is taken."""
        with self.transaction() as cur:
            cur.execute(
                """INSERT INTO users (email, full_name, password_hash, role)
                   VALUES (%s, %s, %s, %s)
                   RETURNING user_id, email, full_name, role, is_active""",
                (email, full_name, password_hash, role.value),
            )
            return _user(cur.fetchone())

    def find_user_credentials(self, email: str) -> tuple[User, str] | None:
        with self.transaction() as cur:
            cur.execute(
                """SELECT user_id, email, full_name, role, is_active, password_hash
                   FROM users WHERE email = %s""",
                (email,),
            )
            row = cur.fetchone()
        return (_user(row), row["password_hash"]) if row else None

    def get_user(self, user_id: int) -> User | None:
        with self.transaction() as cur:
            cur.execute(
                "SELECT user_id, email, full_name, role, is_active FROM users WHERE user_id = %s",
                (user_id,),
            )
            row = cur.fetchone()
        return _user(row) if row else None

    def update_password_hash(self, user_id: int, password_hash: str) -> None:
        with self.transaction() as cur:
            cur.execute("UPDATE users SET password_hash = %s WHERE user_id = %s", (password_hash, user_id))

    def count_users(self) -> int:
        with self.transaction() as cur:
            cur.execute("SELECT count(*) AS n FROM users")
            return cur.fetchone()["n"]

    # --- orders (read side; placing orders is the checkout's job) -----------------------------

    def orders_of_user(self, user_id: int, limit: int = 100) -> list[dict]:
        with self.transaction() as cur:
            cur.execute(
                """SELECT order_id, total_amount, status, created_at
                   FROM orders WHERE user_id = %s
                   ORDER BY created_at DESC, order_id DESC LIMIT %s""",
                (user_id, limit),
            )
            return list(cur.fetchall())


def _user(row: dict) -> User:
    return User(user_id=row["user_id"], email=row["email"], full_name=row["full_name"],
                role=Role(row["role"]), is_active=row["is_active"])
