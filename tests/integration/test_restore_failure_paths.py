"""Restore and the backup script's failure paths: every check before the
target is touched, all or nothing, one clear line, a fail ping, damaged sets listed as bad."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from shop import backup, failpoints
from tests.conftest import ROOT
from tests.integration.test_backup import no_failpoints, populate, table_checksums  # noqa: F401 - autouse fixture


@pytest.fixture
def source(migrated, servers, mongo_db_name, db, store) -> backup.Source:
    return backup.Source(migrated, servers.mongodb_url, mongo_db_name)


@pytest.fixture
def pings():
    """A monitoring endpoint on loopback that records the paths it is pinged at."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/ping", seen
    server.shutdown()


def run_script(args, source, tmp_path, **extra):
    env = {**os.environ, "DATABASE_URL": source.postgres_url, "MONGODB_URL": source.mongodb_url,
           "MONGODB_DB": source.mongodb_db, "BACKUP_DIR": str(tmp_path), **extra}
    return subprocess.run([sys.executable, "ops/backup_script.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def one_set(source, tmp_path):
    archive = backup.create_backup(source, tmp_path)
    name = archive.name.split(".")[0]
    return name, tmp_path / f"{name}.manifest.json"


def edit_manifest(path, change):
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def shop_state(source, store):
    return table_checksums(source.postgres_url), sorted(store.products.find({}, {"_id": 1, "stock": 1}),
                                                        key=lambda d: str(d["_id"]))


def _one_line_failure(run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.startswith("backup: ")]
    assert run.returncode != 0 and len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert "Start the shop now" not in run.stdout
    return lines[0]


def test_an_edited_row_count_is_refused_before_a_forced_restore_touches_the_target(
        source, db, store, make_user, tmp_path, pings):
    populate(db, store, make_user)
    name, manifest = one_set(source, tmp_path)
    edit_manifest(manifest, lambda m: m["postgres"]["row_counts"].update(orders=999))
    store.products.update_many({}, {"$inc": {"stock": 1}})  # the live shop moved on since the backup
    before = shop_state(source, store)
    url, seen = pings
    run = run_script(["restore", name, "--force"], source, tmp_path, BACKUP_PING_URL=url)
    assert "differs from the one inside it (postgres)" in _one_line_failure(run)
    assert shop_state(source, store) == before
    assert seen == ["/ping/fail"]


def test_an_edited_collection_checksum_is_refused_the_same_way(source, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    name, manifest = one_set(source, tmp_path)
    edit_manifest(manifest, lambda m: m["mongodb"]["collections"]["products"].update(content_sha256="0" * 64))
    before = shop_state(source, store)
    with pytest.raises(backup.BackupError, match="differs from the one inside it"):
        backup.restore(*backup.summary_for(tmp_path, name), source, key=None, force=True)
    assert shop_state(source, store) == before


def test_a_renamed_mongodb_database_restores_nothing_at_all(source, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    name, manifest = one_set(source, tmp_path)
    edit_manifest(manifest, lambda m: m["mongodb"].update(database="another"))
    before = shop_state(source, store)
    with pytest.raises(backup.BackupError):
        backup.restore(*backup.summary_for(tmp_path, name), source, key=None, force=True)
    assert shop_state(source, store) == before


def test_a_failure_after_mongodb_is_staged_leaves_both_databases_as_they_were(
        source, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    name, _ = one_set(source, tmp_path)
    store.products.update_many({}, {"$inc": {"stock": 1}})
    before = shop_state(source, store)
    failpoints.install("restore.after_mongo_staged", "raise")
    with pytest.raises(failpoints.FailpointError):
        backup.restore(*backup.summary_for(tmp_path, name), source, key=None, force=True)
    assert shop_state(source, store) == before
    assert f"{source.mongodb_db}_restore_staging" not in store.client.list_database_names()


def test_a_forced_restore_that_succeeds_replaces_both_sides(source, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    name, _ = one_set(source, tmp_path)
    expected = shop_state(source, store)
    store.products.update_many({}, {"$inc": {"stock": 1}})
    store.db.create_collection("left_over")
    result = backup.restore(*backup.summary_for(tmp_path, name), source, key=None, force=True)
    assert result["ok"], result
    assert shop_state(source, store) == expected
    assert "left_over" not in store.db.list_collection_names()


def test_a_missing_key_file_is_one_line_exit_1_and_a_fail_ping(source, tmp_path, pings):
    url, seen = pings
    run = run_script(["backup"], source, tmp_path, BACKUP_ENCRYPTION_KEY_FILE=str(tmp_path / "no-such-key"),
                     BACKUP_PING_URL=url)
    assert "key file" in _one_line_failure(run) and run.returncode == 1
    assert seen == ["/ping/fail"]


def test_an_unreachable_mongodb_is_one_line_and_a_fail_ping(source, tmp_path, pings):
    url, seen = pings
    run = run_script(["backup"], source, tmp_path, BACKUP_PING_URL=url,
                     MONGODB_URL="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500")
    assert run.returncode == 1
    _one_line_failure(run)
    assert seen == ["/ping/fail"]


def test_a_manifest_that_is_not_json_is_listed_as_bad_and_refused_in_one_line(
        source, db, store, make_user, tmp_path, pings):
    populate(db, store, make_user)
    good, _ = one_set(source, tmp_path)
    (tmp_path / "shop-20200101T000000Z.manifest.json").write_text("{not json")
    url, seen = pings
    listing = run_script(["list"], source, tmp_path, BACKUP_PING_URL=url)
    assert "shop-20200101T000000Z  BAD" in listing.stdout and good in listing.stdout
    assert "1 damaged set" in _one_line_failure(listing)
    restore = run_script(["restore", "shop-20200101T000000Z"], source, tmp_path, BACKUP_PING_URL=url)
    assert "not a valid manifest" in _one_line_failure(restore)
    assert seen == ["/ping/fail", "/ping/fail"]
