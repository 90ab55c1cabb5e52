"""Restoring a set, all or nothing (docs/backup.md, "Restore"), and the scratch databases a restore
drill uses."""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2.sql
import pymongo.errors
from bson import decode_file_iter, json_util
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from shop import failpoints
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import MIGRATIONS_DIR, PostgresDatabase
from shop.backup.archive import BackupError, Source, check_checksum, check_files, extract
from shop.backup.tools import connect, find_pg_tool, pg_value, pgpass_env, run, table_counts
from shop.services.catalog import REBUILD_TIMEOUT_MS, rebuild_catalog_index


@contextlib.contextmanager
def scratch_databases(source: Source, prefix: str = "shop_scratch") -> Iterator[Source]:
    """Empty databases on the same servers as `source` (a restore drill's target), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = connect(source.postgres_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(psycopg2.sql.SQL("CREATE DATABASE {}").format(psycopg2.sql.Identifier(name)))
        try:
            yield Source(source.postgres_url.rsplit("/", 1)[0] + f"/{name}", source.mongodb_url, name)
        finally:
            with admin.cursor() as cur:
                cur.execute(psycopg2.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                            .format(psycopg2.sql.Identifier(name)))
            client: MongoClient[dict] = MongoClient(source.mongodb_url, serverSelectionTimeoutMS=5000)
            try:
                client.drop_database(name)
            finally:
                client.close()
    finally:
        admin.close()


def check_schema_version(summary: dict) -> None:
    """A set made by a newer version of the shop (more migrations) cannot be restored by this one."""
    ours = max(p.name[:4] for p in MIGRATIONS_DIR.glob("*.sql"))
    theirs = summary.get("schema_version") or "0000"
    if theirs > ours:
        raise BackupError(f"the set has schema version {theirs}, newer than this shop's {ours}: "
                          "restore it with the shop version that made it")


def restore(archive: Path, summary: dict, target: Source, *, key: bytes | None, force: bool = False) -> dict:
    """Restore a set into `target`, all or nothing (docs/backup.md, "Restore").

    1. Every check that needs no write runs first: the archive's checksum and files, the manifest
       beside the archive against the one inside it, the schema version, the MongoDB dump named by
       the manifest, both target servers reachable and (without `force`) empty.
    2. MongoDB is loaded into a staging database and compared with the manifest; the target is
       still untouched if that fails.
    3. PostgreSQL is restored in one transaction (pg_restore --single-transaction).
    4. The staging collections replace the target's, one atomic rename each.
    A failure raises BackupError or returns {"ok": False, "problems": [...]}; only {"ok": True} is a restore.
    """
    check_schema_version(summary)
    check_checksum(archive, summary)
    with tempfile.TemporaryDirectory(prefix="shop-restore-") as tmp:
        extracted = extract(archive, Path(tmp), key)  # once: checked here and restored from here
        check_files(extracted, summary["files"])
        _check_inner_manifest(extracted, summary)
        dump_dir = _mongo_dump_dir(extracted, summary)
        version_num = pg_value(target.postgres_url, "SELECT current_setting('server_version_num')::int")
        pg_restore = find_pg_tool("pg_restore", version_num)
        _refuse_non_empty(target, force)

        staging = Source(target.postgres_url, target.mongodb_url, f"{target.mongodb_db}_restore_staging")
        with _mongo(staging) as client:
            client.drop_database(staging.mongodb_db)  # left by an interrupted restore
        try:
            _restore_mongo(dump_dir, staging)
            problems = _check_mongo(staging, summary)
            if problems:
                return {"ok": False, "problems": problems + ["nothing was restored: the target is unchanged"]}
            failpoints.hit("restore.after_mongo_staged")
            with pgpass_env(target.postgres_url) as env:
                run([pg_restore, "--no-owner", "--exit-on-error", "--single-transaction",
                      *(["--clean", "--if-exists"] if force else []), "--dbname", env["PGDATABASE"],
                      extracted / "postgres.dump"], env, "pg_restore")
            failpoints.hit("restore.after_postgres")
            _switch_mongo(staging, target, summary, dump_dir)
        finally:
            with _mongo(staging) as client:
                client.drop_database(staging.mongodb_db)
    result = check_restored(target, summary)
    if result["ok"]:
        result["problems"] = _check_the_shop_starts(target)
        result["ok"] = not result["problems"]
    if result["ok"]:
        _rebuild_catalog_index(target)
    return result


def _check_the_shop_starts(target: Source) -> list[str]:
    """What the shop does to its databases when it starts (apply both schemas) must succeed on the
    restored ones: matching the manifest is not enough if the shop then refuses to start on them."""
    db = PostgresDatabase(target.postgres_url, max_connections=1)
    store = MongoStore(target.mongodb_url, target.mongodb_db)
    try:
        db.migrate()
        store.apply_schema()
    except Exception as error:  # any refusal is the drill's finding, reported, never a traceback  # noqa: BLE001
        return [f"the shop would not start on the restored databases: {str(error).splitlines()[0][:300]}"]
    finally:
        db.close()
        store.close()
    return []


def _check_inner_manifest(extracted: Path, summary: dict) -> None:
    """The manifest beside the archive must say what the one sealed inside it says."""
    try:
        inner = json.loads((extracted / "manifest.json").read_text())
    except (OSError, ValueError):
        raise BackupError("the archive holds no readable manifest — the set is damaged") from None
    differing = sorted(k for k in inner if summary.get(k) != inner[k])
    if differing:
        raise BackupError(f"the manifest beside the archive differs from the one inside it ({', '.join(differing)}): "
                          "it was edited or damaged; nothing was restored")


def _mongo_dump_dir(extracted: Path, summary: dict) -> Path:
    name = str(summary.get("mongodb", {}).get("database", ""))
    dump_dir = extracted / "mongo" / name
    if not name or Path(name).name != name or not dump_dir.is_dir():
        raise BackupError(f"the set has no MongoDB dump named {name!r}; nothing was restored")
    dumped = {p.name.removesuffix(".metadata.json") for p in dump_dir.glob("*.metadata.json")}
    if dumped != set(summary["mongodb"]["collections"]):
        raise BackupError("the MongoDB collections in the archive are not those in the manifest; nothing was restored")
    return dump_dir


@contextlib.contextmanager
def _mongo(target: Source, **options) -> Iterator[MongoClient]:
    client = MongoClient(target.mongodb_url, serverSelectionTimeoutMS=5000, **options)
    try:
        yield client
    except pymongo.errors.PyMongoError as error:
        raise BackupError(f"MongoDB at {host_of(target.mongodb_url)}: {str(error).splitlines()[0][:200]}") from None
    finally:
        client.close()


def host_of(url: str) -> str:
    return url.split("@")[-1].split("/")[0].split("?")[0]


def _switch_mongo(staging: Source, target: Source, summary: dict, dump_dir: Path) -> None:
    """Each restored collection replaces the target's in one atomic rename (dropTarget). The
    validators are set again afterwards: a rename across databases may not carry them (SecantusDB)."""
    with _mongo(target) as client:
        restored = set(summary["mongodb"]["collections"])
        for name in sorted(set(client[target.mongodb_db].list_collection_names()) - restored):
            client[target.mongodb_db].drop_collection(name)  # --force: what the set does not have goes
        for name in sorted(restored):
            client.admin.command("renameCollection", f"{staging.mongodb_db}.{name}",
                                 to=f"{target.mongodb_db}.{name}", dropTarget=True)
            options = _validation_options(json_util.loads((dump_dir / f"{name}.metadata.json").read_text()))
            if options:
                client[target.mongodb_db].command("collMod", name, **options)


def _rebuild_catalog_index(target: Source) -> None:
    """The catalog index (PostgreSQL) is derived from the products (MongoDB), and the two were dumped
    at slightly different moments: rebuild it from the restored products (docs/catalog.md)."""
    db = PostgresDatabase(target.postgres_url, max_connections=1)
    store = MongoStore(target.mongodb_url, target.mongodb_db, timeout_ms=REBUILD_TIMEOUT_MS)
    try:
        rebuild_catalog_index(db, store)
    finally:
        db.close()
        store.close()


def _refuse_non_empty(target: Source, force: bool) -> None:
    """Both servers must answer; without `force`, both databases must be empty."""
    tables = pg_value(target.postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    with _mongo(target) as client:
        collections = client[target.mongodb_db].list_collection_names()
    if (tables or collections) and not force:
        raise BackupError("the target databases are not empty; restore into empty ones or pass --force "
                          "(which replaces what is there)")


def _restore_mongo(dump_dir: Path, target: Source) -> None:
    with _mongo(target) as client:
        db = client[target.mongodb_db]
        for metadata_path in sorted(dump_dir.glob("*.metadata.json")):
            metadata = json_util.loads(metadata_path.read_text())
            name = metadata["collectionName"]
            db.create_collection(name, **_validation_options(metadata))
            for index in metadata.get("indexes", []):
                if index["name"] == "_id_":
                    continue
                # Every option the index had (sparse, unique, partialFilterExpression, collation,
                # expireAfterSeconds …): an index restored without one is another index to the shop,
                # whose start-up then refuses it (IndexKeySpecsConflict).
                options = {k: v for k, v in index.items() if k not in ("v", "key", "ns")}
                db[name].create_index(list(index["key"].items()), **options)
            batch = []
            with open(dump_dir / f"{name}.bson", "rb") as handle:
                for doc in decode_file_iter(handle):
                    batch.append(doc)
                    if len(batch) == 1000:
                        db[name].insert_many(batch, ordered=False, bypass_document_validation=True)
                        batch = []
            if batch:
                db[name].insert_many(batch, ordered=False, bypass_document_validation=True)


def check_restored(target: Source, summary: dict) -> dict:
    """Compare the restored databases with the manifest: row counts, document counts and checksums."""
    problems = []
    conn = connect(target.postgres_url)
    try:
        with conn.cursor() as cur:
            counts = table_counts(cur)
    finally:
        conn.close()
    for table, expected in summary["postgres"]["row_counts"].items():
        if counts.get(table) != expected:
            problems.append(f"PostgreSQL {table}: {counts.get(table)} rows, expected {expected}")
    problems += _check_mongo(target, summary)
    return {"ok": not problems, "problems": problems}


def _validation_options(metadata: dict) -> dict:
    return {k: v for k, v in metadata.get("options", {}).items()
            if k in ("validator", "validationLevel", "validationAction")}


def _check_mongo(target: Source, summary: dict) -> list[str]:
    problems = []
    with _mongo(target, document_class=RawBSONDocument) as client:
        db = client[target.mongodb_db]
        for name, expected in summary["mongodb"]["collections"].items():
            digest, count = hashlib.sha256(), 0
            for doc in db[name].find({}).sort("_id", 1):
                digest.update(doc.raw)
                count += 1
            if count != expected["documents"] or digest.hexdigest() != expected["content_sha256"]:
                problems.append(f"MongoDB {name}: {count} documents or content differ from the backup")
    return problems
