"""Making a set: both databases dumped at one consistent cut (docs/backup.md), packed, checked by
reading it back, and published archive first, manifest last."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from bson.raw_bson import RawBSONDocument
from filelock import FileLock, Timeout
from pymongo import MongoClient

from shop import failpoints
from shop.adapters.postgres import BACKUP_FENCE_KEY
from shop.backup.archive import FORMAT_VERSION, AlreadyRunning, BackupError, Source, encrypt, sha256_of, verify_contents
from shop.backup.tools import connect, find_pg_tool, pgpass_env, run, table_counts


@contextlib.contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """One backup at a time per backup directory."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / ".backup.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AlreadyRunning(f"another backup is running in {directory}; this run does nothing") from None
    try:
        yield
    finally:
        lock.release()


def create_backup(source: Source, directory: Path, *, key: bytes | None = None,
                  now: dt.datetime | None = None) -> Path:
    """Make one backup set in `directory`; returns the archive. Nothing is left half-written."""
    now = now or dt.datetime.now(dt.UTC)
    name = now.strftime("shop-%Y%m%dT%H%M%SZ")
    with exclusive(directory):
        for stale in directory.glob(".tmp-shop-*"):  # left by a killed run; no other run is going
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=directory))
        try:
            manifest = _dump_both(source, work)
            manifest.update({"format_version": FORMAT_VERSION, "name": name, "created_at": now.isoformat(),
                             "encrypted": key is not None})
            manifest["files"] = {str(p.relative_to(work)): {"sha256": sha256_of(p), "size": p.stat().st_size}
                                 for p in sorted(work.rglob("*")) if p.is_file()}
            for rel, info in manifest["files"].items():
                if info["size"] == 0 and rel.endswith(".dump"):
                    raise BackupError(f"{rel} is empty: refusing to record a 0-byte backup")
            (work / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
            archive = work / f"{name}.tar.gz"
            with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
                for path in sorted(work.rglob("*")):
                    if path.is_file() and path != archive:
                        tar.add(path, arcname=str(path.relative_to(work)))
            failpoints.hit("backup.before_publish")
            final_name = archive.name
            if key is not None:
                encrypt(archive, work / f"{name}.tar.gz.enc", key)
                archive.unlink()
                final_name += ".enc"
            published = work / final_name
            summary = {**manifest, "archive": final_name, "archive_sha256": sha256_of(published),
                       "archive_size": published.stat().st_size}
            verify_contents(published, summary, key)  # read back before anything counts as a backup
            (work / f"{name}.manifest.json").write_text(json.dumps(summary, indent=2, default=str))
            # Publish: archive first, then its manifest — a set exists only once its manifest does.
            os.replace(published, directory / final_name)
            os.replace(work / f"{name}.manifest.json", directory / f"{name}.manifest.json")
            return directory / final_name
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _dump_both(source: Source, work: Path) -> dict:
    fence = connect(source.postgres_url)  # its transaction holds the fence (transaction-level lock)
    try:
        snapshot_conn = connect(source.postgres_url)
    except BackupError:
        fence.close()
        raise
    try:
        with fence.cursor() as cur:
            # The cut: no order changes status while the PostgreSQL snapshot is taken and MongoDB dumped.
            # Held by this open transaction, released by its commit (safe behind PgBouncer too).
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (BACKUP_FENCE_KEY,))
        snapshot_conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with snapshot_conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot(), pg_current_snapshot()::text, pg_current_wal_lsn()::text, "
                        "current_setting('server_version_num')::int, current_setting('server_version')")
            snapshot_id, txid_snapshot, lsn, version_num, version = cur.fetchone()
            counts = table_counts(cur)
            cur.execute("SELECT max(version) FROM schema_migrations")
            schema_version = cur.fetchone()[0]
        mongo = _dump_mongo(source, work / "mongo")
        failpoints.hit("backup.before_fence_release")
        try:
            fence.commit()
        except psycopg2.Error as error:  # the lock went with the connection: the cut cannot be vouched for
            raise BackupError(f"the backup fence's connection was lost ({str(error).strip().splitlines()[0]}); "
                              "no set recorded") from None
        pg_dump = find_pg_tool("pg_dump", version_num)
        with pgpass_env(source.postgres_url) as env:
            run([pg_dump, "--format=custom", "--compress=6", f"--snapshot={snapshot_id}", "--no-owner",
                  "--file", work / "postgres.dump"], env, "pg_dump")
            failpoints.hit("backup.after_pg_dump")
            run([find_pg_tool("pg_restore", version_num), "--list", work / "postgres.dump"], env,
                 "pg_restore --list (checking the dump)")
        pg_dump_version = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True).stdout.strip()
    finally:
        snapshot_conn.close()
        fence.close()
    return {"schema_version": schema_version,
            "postgres": {"server_version": version, "pg_dump": pg_dump_version, "snapshot": txid_snapshot,
                         "wal_lsn": lsn, "row_counts": counts},
            "mongodb": mongo}


def _dump_mongo(source: Source, target: Path) -> dict:
    """mongodump's directory layout, written by pymongo (mongodump is not installable here)."""
    client = MongoClient(source.mongodb_url, document_class=RawBSONDocument, serverSelectionTimeoutMS=5000)
    try:
        db = client[source.mongodb_db]
        hello = db.command("ping")
        out = target / source.mongodb_db
        out.mkdir(parents=True, exist_ok=True)
        collections = {}
        for info in db.list_collections():
            name = info["name"]
            if info.get("type", "collection") != "collection" or name.startswith("system."):
                continue
            digest, count = hashlib.sha256(), 0
            with open(out / f"{name}.bson", "wb") as handle:
                for doc in db[name].find({}).sort("_id", 1):
                    raw = doc.raw
                    handle.write(raw)
                    digest.update(raw)
                    count += 1
            indexes = [json.loads(json_util.dumps(ix, json_options=CANONICAL_JSON_OPTIONS))
                       for ix in db[name].list_indexes()]
            metadata = {"options": json.loads(json_util.dumps(info.get("options", {}),
                                                              json_options=CANONICAL_JSON_OPTIONS)),
                        "indexes": indexes, "uuid": "", "collectionName": name, "type": "collection"}
            (out / f"{name}.metadata.json").write_text(json.dumps(metadata))
            collections[name] = {"documents": count, "content_sha256": digest.hexdigest()}
        operation_time = hello.get("operationTime")
        return {"database": source.mongodb_db, "collections": collections,
                "operation_time": str(operation_time) if operation_time is not None else None,
                "dumper": "built-in (pymongo), mongodump layout"}
    finally:
        client.close()
