"""The PostgreSQL client tools and connections a backup or restore needs: the right pg_dump /
pg_restore for the server, their environment (the password in a 0600 pgpass file, never on a
command line), and plain connections whose failures become BackupError."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.extensions
import psycopg2.sql

from shop.backup.archive import BackupError
from shop.embedded import postgres_bin_dir


def _major(version_num: int) -> int:
    return version_num // 10000


def find_pg_tool(name: str, server_version_num: int) -> Path:
    """The pg_dump / pg_restore for this server: same major version, else the nearest newer one.

    pg_dump can read servers older than itself but refuses newer ones, so an older tool never fits.
    """
    candidates: dict[int, Path] = {}
    dirs = [postgres_bin_dir(), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
    on_path = shutil.which(name)
    if on_path:
        dirs.append(Path(on_path).parent)
    for directory in dirs:
        tool = directory / name
        if not tool.exists():
            continue
        out = subprocess.run([str(tool), "--version"], capture_output=True, text=True).stdout
        match = re.search(r"(\d+)(?:\.\d+)?", out)
        if match:
            candidates.setdefault(int(match.group(1)), tool)
    server_major = _major(server_version_num)
    fitting = sorted(major for major in candidates if major >= server_major)
    if not fitting:
        have = ", ".join(str(m) for m in sorted(candidates)) or "none"
        raise BackupError(f"no {name} for PostgreSQL {server_major} (found versions: {have}); "
                          f"install postgresql-client-{server_major}")
    return candidates[fitting[0]]


@contextlib.contextmanager
def pgpass_env(url: str) -> Iterator[dict]:
    """Connection settings for pg_dump/pg_restore in the environment and a 0600 pgpass file:
    the password never appears on a command line (visible in `ps`)."""
    params = psycopg2.extensions.parse_dsn(url)
    with tempfile.TemporaryDirectory(prefix="shop-pg-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update({"PGHOST": params.get("host", "127.0.0.1"), "PGPORT": str(params.get("port", 5432)),
                    "PGUSER": params.get("user", "postgres"), "PGDATABASE": params.get("dbname", "postgres")})
        if params.get("password"):
            pgpass = Path(tmp) / "pgpass"
            fd = os.open(pgpass, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(f"*:*:*:*:{params['password'].replace(':', chr(92) + ':')}\n")
            env["PGPASSFILE"] = str(pgpass)
        yield env


def run(argv: list, env: dict, what: str) -> str:
    result = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-800:]}")
    return result.stdout


def connect(url: str):
    try:
        return psycopg2.connect(url, connect_timeout=10)
    except psycopg2.OperationalError as error:
        raise BackupError(f"cannot connect to PostgreSQL: {str(error).strip().splitlines()[0]}") from None


def pg_value(url: str, query: str):
    """One value from a constant query (no parameters, never input)."""
    conn = connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchone()[0]
    finally:
        conn.close()


def table_counts(cur) -> dict[str, int]:
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    counts = {}
    for (table,) in cur.fetchall():
        cur.execute(psycopg2.sql.SQL("SELECT count(*) FROM {}").format(psycopg2.sql.Identifier(table)))
        counts[table] = cur.fetchone()[0]
    return counts
