"""Shared test helpers: real database servers, started once per test session."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from shop.embedded import EmbeddedMongo, EmbeddedPostgres

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Servers:
    postgres_url: str
    mongodb_url: str


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def servers(tmp_path_factory) -> Iterator[Servers]:
    """PostgreSQL and MongoDB for the whole run: TEST_DATABASE_URL / TEST_MONGODB_URL, else embedded.

    On a configured PostgreSQL a fresh database is created for the run and dropped afterwards.
    """
    # Not under pytest's base temporary directory: another pytest run on this machine resets that
    # tree to mode 0700, and the embedded PostgreSQL (running as another user) would lose its data
    # directory mid-run and PANIC.
    base = Path(tempfile.mkdtemp(prefix="shop-test-servers-"))
    base.chmod(0o755)
    started = []
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        pg = EmbeddedPostgres(base / "postgres")
        admin_url = pg.start()
        started.append(pg)
    mongo_url = os.environ.get("TEST_MONGODB_URL")
    if not mongo_url:
        mongo = EmbeddedMongo(base / "mongo", enable_test_commands=True)
        mongo_url = mongo.start()
        started.append(mongo)
    db_name = f"shop_test_{uuid.uuid4().hex[:10]}"
    _admin(admin_url, f'CREATE DATABASE "{db_name}"')
    try:
        yield Servers(postgres_url=_with_database(admin_url, db_name), mongodb_url=mongo_url)
    finally:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        for server in reversed(started):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _admin(url: str, statement: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)  # identifiers generated above, never from input
    finally:
        conn.close()


def csrf_token_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


ROOT = Path(__file__).resolve().parent.parent
