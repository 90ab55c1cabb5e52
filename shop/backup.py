"""Backups of both databases: one run makes one verified, checksummed, optionally encrypted set.

A set is `shop-<UTC time>.tar.gz[.enc]` plus `shop-<UTC time>.manifest.json` beside it (readable
without the key). Inside the archive:

    manifest.json                 versions, positions, per-file SHA-256 and size, counts, checksums
    postgres.dump                 pg_dump custom format, taken in the exported snapshot of the cut
    mongo/<db>/<coll>.bson        concatenated BSON documents (mongodump's layout)
    mongo/<db>/<coll>.metadata.json  options (validator), indexes, collection name; canonical Extended JSON

How the two dumps form one consistent cut is in docs/backup.md.

(Over 600 lines, and known to be: archive format, dumping, restore, retention and checks in one
module; issue 9 makes it a `shop/backup/` package, not done yet.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.extensions
import psycopg2.sql
import pymongo.errors
from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

from shop import failpoints
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import BACKUP_FENCE_KEY, PostgresDatabase
from shop.embedded import postgres_bin_dir
from shop.services.catalog import REBUILD_TIMEOUT_MS, rebuild_catalog_index

FORMAT_VERSION = 1
_SET_NAME = re.compile(r"^shop-\d{8}T\d{6}Z$")
_MAGIC = b"SHOPENC1"


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says what failed and what to do."""


class AlreadyRunning(BackupError):
    pass


@dataclass(frozen=True)
class Source:
    postgres_url: str
    mongodb_url: str
    mongodb_db: str


# --- tools ---------------------------------------------------------------------------------------

def _major(version_num: int) -> int:
    return version_num // 10000


def find_pg_tool(name: str, server_version_num: int) -> Path:
    """The pg_dump / pg_restore for this server: same major version, else the nearest newer one.

    pg_dump can read servers older than itself but refuses newer ones, so an older tool never fits.
    """
    candidates: dict[int, Path] = {}
    dirs = [postgres_bin_dir(), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
    if shutil.which(name):
        dirs.append(Path(shutil.which(name)).parent)
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
def _pgpass_env(url: str) -> Iterator[dict]:
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


def _run(argv: list, env: dict, what: str) -> str:
    result = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-800:]}")
    return result.stdout


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- encryption ----------------------------------------------------------------------------------

def load_key(key_file: str | None, key_b64: str | None) -> bytes | None:
    """A 32-byte AES key from a file or an environment variable (urlsafe base64); never an argument."""
    import base64

    try:
        raw = Path(key_file).read_text().strip() if key_file else key_b64
    except OSError as error:
        raise BackupError(f"the key file {key_file} cannot be read: {error.strerror or error}") from None
    if not raw:
        return None
    try:
        key = base64.urlsafe_b64decode(raw)
    except ValueError:
        raise BackupError("the backup encryption key is not urlsafe base64") from None
    if len(key) != 32:
        raise BackupError("the backup encryption key must be 32 bytes (python -c \"import base64,os; "
                          "print(base64.urlsafe_b64encode(os.urandom(32)).decode())\")")
    return key


def _encrypt(plain: Path, target: Path, key: bytes) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    target.write_bytes(_MAGIC + nonce + AESGCM(key).encrypt(nonce, plain.read_bytes(), _MAGIC))


def _decrypt(encrypted: Path, target: Path, key: bytes | None) -> None:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if key is None:
        raise BackupError(f"{encrypted.name} is encrypted: set BACKUP_ENCRYPTION_KEY_FILE")
    data = encrypted.read_bytes()
    if not data.startswith(_MAGIC):
        raise BackupError(f"{encrypted.name} is not an encrypted backup")
    try:
        target.write_bytes(AESGCM(key).decrypt(data[8:20], data[20:], _MAGIC))
    except InvalidTag:
        raise BackupError(f"{encrypted.name}: wrong key, or the file was altered") from None


# --- backup ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """One backup at a time per backup directory."""
    from filelock import FileLock, Timeout

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
    now = now or dt.datetime.now(dt.timezone.utc)
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
                _encrypt(archive, work / f"{name}.tar.gz.enc", key)
                archive.unlink()
                final_name += ".enc"
            published = work / final_name
            summary = {**manifest, "archive": final_name, "archive_sha256": sha256_of(published),
                       "archive_size": published.stat().st_size}
            verify_archive(published, summary, key)  # read back before anything counts as a backup
            (work / f"{name}.manifest.json").write_text(json.dumps(summary, indent=2, default=str))
            # Publish: archive first, then its manifest — a set exists only once its manifest does.
            os.replace(published, directory / final_name)
            os.replace(work / f"{name}.manifest.json", directory / f"{name}.manifest.json")
            return directory / final_name
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _connect(url: str):
    try:
        return psycopg2.connect(url, connect_timeout=10)
    except psycopg2.OperationalError as error:
        raise BackupError(f"cannot connect to PostgreSQL: {str(error).strip().splitlines()[0]}") from None


def _dump_both(source: Source, work: Path) -> dict:
    fence = _connect(source.postgres_url)  # its transaction holds the fence (transaction-level lock)
    try:
        snapshot_conn = _connect(source.postgres_url)
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
            counts = _table_counts(cur)
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
        with _pgpass_env(source.postgres_url) as env:
            _run([pg_dump, "--format=custom", "--compress=6", f"--snapshot={snapshot_id}", "--no-owner",
                  "--file", work / "postgres.dump"], env, "pg_dump")
            failpoints.hit("backup.after_pg_dump")
            _run([find_pg_tool("pg_restore", version_num), "--list", work / "postgres.dump"], env,
                 "pg_restore --list (checking the dump)")
        pg_dump_version = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True).stdout.strip()
    finally:
        snapshot_conn.close()
        fence.close()
    return {"schema_version": schema_version,
            "postgres": {"server_version": version, "pg_dump": pg_dump_version, "snapshot": txid_snapshot,
                         "wal_lsn": lsn, "row_counts": counts},
            "mongodb": mongo}


def _table_counts(cur) -> dict[str, int]:
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    counts = {}
    for (table,) in cur.fetchall():
        cur.execute(psycopg2.sql.SQL("SELECT count(*) FROM {}").format(psycopg2.sql.Identifier(table)))
        counts[table] = cur.fetchone()[0]
    return counts


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


# --- listing, verifying, retention ---------------------------------------------------------------

def list_sets(directory: Path) -> list[dict]:
    """The complete sets in a directory, oldest first (a set without its manifest does not count)."""
    return [info for info in inspect_sets(directory) if "problem" not in info]


def inspect_sets(directory: Path) -> list[dict]:
    """Every set a manifest announces, oldest first; a damaged one is {"name", "problem"} instead of its summary."""
    sets = []
    for manifest in sorted(directory.glob("shop-*.manifest.json")):
        name = manifest.name.removesuffix(".manifest.json")
        try:
            info = json.loads(manifest.read_text())
        except (ValueError, OSError) as error:
            sets.append({"name": name, "problem": f"its manifest cannot be read ({type(error).__name__})"})
            continue
        if not isinstance(info, dict) or not _SET_NAME.match(str(info.get("name", ""))):
            sets.append({"name": name, "problem": "its manifest does not describe a backup set"})
        elif not (directory / str(info.get("archive", ""))).is_file() or "/" in str(info.get("archive")):
            sets.append({"name": name, "problem": f"its archive {info.get('archive')!r} is missing"})
        else:
            sets.append(info)
    return sets


def verify_archive(archive: Path, summary: dict, key: bytes | None) -> None:
    """Checksum, decryptability, tar member paths and per-file checksums; raises BackupError."""
    if summary.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{archive.name}: unknown backup format {summary.get('format_version')!r}")
    if sha256_of(archive) != summary.get("archive_sha256", sha256_of(archive)):
        raise BackupError(f"{archive.name}: checksum mismatch — the archive is corrupted")
    with tempfile.TemporaryDirectory(prefix="shop-verify-") as tmp:
        extracted = extract(archive, Path(tmp), key)
        _check_files(extracted, summary["files"])


def extract(archive: Path, target: Path, key: bytes | None) -> Path:
    """Unpack into `target`, refusing absolute paths, `..`, links and devices."""
    plain = archive
    if archive.name.endswith(".enc"):
        plain = target / "archive.tar.gz"
        _decrypt(archive, plain, key)
    out = target / "set"
    out.mkdir()
    try:
        with tarfile.open(plain, "r:gz") as tar:
            for member in tar.getmembers():
                path = Path(member.name)
                if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
                    raise BackupError(f"{archive.name}: unsafe entry {member.name!r} in the archive")
            tar.extractall(out, filter="data")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BackupError(f"{archive.name}: the archive cannot be read ({error})") from None
    return out


def _check_files(extracted: Path, files: dict) -> None:
    for rel, info in files.items():
        path = extracted / rel
        if not path.is_file() or path.stat().st_size != info["size"] or sha256_of(path) != info["sha256"]:
            raise BackupError(f"{rel} does not match the manifest — the set is corrupted")


def sets_to_delete(sets: list[dict], *, keep_last: int, keep_daily: int, keep_weekly: int,
                   keep_monthly: int) -> list[dict]:
    """Grandfather-father-son over sets sorted oldest first: keep the last N, and the newest set of
    each of the last D days, W ISO weeks and M months. The newest set is always kept."""
    if not sets:
        return []
    keep = {s["name"] for s in sets[-max(keep_last, 1):]}
    for period, count in ((lambda d: d.date(), keep_daily), (lambda d: d.isocalendar()[:2], keep_weekly),
                          (lambda d: (d.year, d.month), keep_monthly)):
        seen: list = []
        for info in reversed(sets):
            bucket = period(dt.datetime.fromisoformat(info["created_at"]))
            if bucket not in seen:
                seen.append(bucket)
                if len(seen) <= count:
                    keep.add(info["name"])
    return [info for info in sets if info["name"] not in keep]


def apply_retention(directory: Path, **policy: int) -> list[str]:
    """Retention in a local directory; returns the deleted set names."""
    deleted = []
    for info in sets_to_delete(list_sets(directory), **policy):
        (directory / f"{info['name']}.manifest.json").unlink(missing_ok=True)  # the set stops counting first
        (directory / info["archive"]).unlink(missing_ok=True)
        deleted.append(info["name"])
    return deleted


# --- restore ---------------------------------------------------------------------------------------

def _pg_value(url: str, query: str):
    """One value from a constant query (no parameters, never input)."""
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchone()[0]
    finally:
        conn.close()


@contextlib.contextmanager
def scratch_databases(source: Source, prefix: str = "shop_scratch") -> Iterator[Source]:
    """Empty databases on the same servers as `source` (a restore drill's target), dropped afterwards."""
    import uuid

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = _connect(source.postgres_url)
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
            client = MongoClient(source.mongodb_url, serverSelectionTimeoutMS=5000)
            try:
                client.drop_database(name)
            finally:
                client.close()
    finally:
        admin.close()


def check_schema_version(summary: dict) -> None:
    """A set made by a newer version of the shop (more migrations) cannot be restored by this one."""
    from shop.adapters.postgres import MIGRATIONS_DIR

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
    verify_archive(archive, summary, key)
    with tempfile.TemporaryDirectory(prefix="shop-restore-") as tmp:
        extracted = extract(archive, Path(tmp), key)
        _check_files(extracted, summary["files"])
        _check_inner_manifest(extracted, summary)
        dump_dir = _mongo_dump_dir(extracted, summary)
        version_num = _pg_value(target.postgres_url, "SELECT current_setting('server_version_num')::int")
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
            with _pgpass_env(target.postgres_url) as env:
                _run([pg_restore, "--no-owner", "--exit-on-error", "--single-transaction",
                      *(["--clean", "--if-exists"] if force else []), "--dbname", env["PGDATABASE"],
                      extracted / "postgres.dump"], env, "pg_restore")
            failpoints.hit("restore.after_postgres")
            _switch_mongo(staging, target, summary, dump_dir)
        finally:
            with _mongo(staging) as client:
                client.drop_database(staging.mongodb_db)
    result = check_restored(target, summary)
    if result["ok"]:
        _rebuild_catalog_index(target)
    return result


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
        raise BackupError(f"MongoDB at {_host_of(target.mongodb_url)}: {str(error).splitlines()[0][:200]}") from None
    finally:
        client.close()


def _host_of(url: str) -> str:
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
    tables = _pg_value(target.postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    with _mongo(target) as client:
        collections = client[target.mongodb_db].list_collection_names()
    if (tables or collections) and not force:
        raise BackupError("the target databases are not empty; restore into empty ones or pass --force "
                          "(which replaces what is there)")


def _restore_mongo(dump_dir: Path, target: Source) -> None:
    from bson import decode_file_iter

    with _mongo(target) as client:
        db = client[target.mongodb_db]
        for metadata_path in sorted(dump_dir.glob("*.metadata.json")):
            metadata = json_util.loads(metadata_path.read_text())
            name = metadata["collectionName"]
            db.create_collection(name, **_validation_options(metadata))
            for index in metadata.get("indexes", []):
                if index["name"] == "_id_":
                    continue
                db[name].create_index(list(index["key"].items()), name=index["name"],
                                      unique=index.get("unique", False))
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
    conn = _connect(target.postgres_url)
    try:
        with conn.cursor() as cur:
            counts = _table_counts(cur)
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


def summary_for(directory: Path, name: str) -> tuple[Path, dict]:
    if not _SET_NAME.match(name):
        raise BackupError(f"{name!r} is not a backup set name (shop-YYYYMMDDTHHMMSSZ)")
    manifest = directory / f"{name}.manifest.json"
    if not manifest.is_file():
        raise BackupError(f"no backup set {name} in {directory}")
    try:
        summary = json.loads(manifest.read_text())
        archive = directory / Path(summary["archive"]).name
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{manifest.name} is not a valid manifest — the set is damaged; "
                          "restore another set") from None
    if not archive.is_file():
        raise BackupError(f"the archive of {name} is missing from {directory}")
    return archive, summary


