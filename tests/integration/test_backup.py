"""Backups that restore: round trip on the real databases, refusals, failures, retention, consistency."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from shop import backup, failpoints
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import BACKUP_FENCE_KEY, PostgresDatabase
from shop.backup.remote import LocalDirectory
from shop.domain.accounts import Role
from shop.services import checkout, orders
from shop.services import images as image_service
from shop.services.catalog import load_demo_catalog
from shop.services.checkout import CheckoutRequest
from shop.services.recovery import recover
from tests.conftest import ROOT
from tests.integration.invariant import units_in_live_orders
from tests.payments import pay

KEY = "6zFc2Y1m0Qy6o8B7y3cQvQq7n0o5oVQn3a1bYk4n7zE="


@pytest.fixture(autouse=True)
def no_failpoints():
    yield
    failpoints.clear()


@pytest.fixture
def source(migrated, servers, mongo_db_name, db, store) -> backup.Source:
    return backup.Source(migrated, servers.mongodb_url, mongo_db_name)


def scratch_target(servers):
    return backup.scratch_databases(backup.Source(servers.postgres_url, servers.mongodb_url, "unused"), "shop_target")


def populate(db, store, make_user) -> dict[str, int]:
    """A shop with history: orders paid, cancelled, pending, one in flight, and a review."""
    load_demo_catalog(db, store)
    initial = store.stock.levels()
    buyer = make_user(role=Role.CUSTOMER)
    ids = sorted(p for p, units in initial.items() if units >= 5)
    placed = [checkout.place_order(db, store, CheckoutRequest(buyer.user_id, [(ids[i], 1)], str(uuid.uuid4()))).order_id
              for i in (1, 2, 3)]
    pay(db, buyer, placed[0])
    orders.cancel_order(db, store, buyer, placed[1])
    in_flight = db.orders.create_placing(buyer.user_id, str(uuid.uuid4()), "0" * 64, lease_seconds=1).order
    store.stock.reserve(ids[4], in_flight.order_id, 1)
    from bson import ObjectId

    store.reviews.collection.insert_one({"product_id": ObjectId(ids[1]), "user_id": buyer.user_id, "rating": 5,
                              "text": "¡Genial! <b>sin HTML</b>", "created_at": dt.datetime.now(dt.UTC)})
    return initial


def table_checksums(url: str) -> dict[str, str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            sums = {}
            for table in ("users", "orders", "order_items", "payments", "order_status_history", "cart_items"):
                cur.execute(psycopg2.sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t")
                            .format(psycopg2.sql.Identifier(table)))
                sums[table] = cur.fetchone()[0]
            return sums
    finally:
        conn.close()


def test_a_backup_restores_identical_data_indexes_validators_and_images(source, servers, db, store, make_user,
                                                                         tmp_path):
    populate(db, store, make_user)
    with_image = sorted(store.stock.levels())[0]
    image = image_service.add_image(store, with_image, _jpeg(), "Frente del producto")
    archive = backup.create_backup(source, tmp_path)
    (summary,) = backup.list_sets(tmp_path)
    assert summary["postgres"]["row_counts"]["orders"] == 4
    assert summary["mongodb"]["collections"]["products"]["documents"] == 60
    # GridFS (the demo's illustrations and this image: an original and four sizes each) is counted
    # and hashed like every collection
    assert summary["mongodb"]["collections"]["images.files"]["documents"] == len(store.images.names()) == 40
    assert summary["mongodb"]["collections"]["images.chunks"]["documents"] == \
        store.db["images.chunks"].count_documents({}) >= 40
    assert summary["schema_version"] and summary["postgres"]["wal_lsn"] and summary["postgres"]["snapshot"]
    assert archive.name == summary["archive"] and not list(tmp_path.glob(".tmp-*"))
    with scratch_target(servers) as target:
        result = backup.restore(archive, summary, target, key=None)
        assert result == {"ok": True, "problems": []}
        assert table_checksums(target.postgres_url) == table_checksums(source.postgres_url)
        restored = MongoStore(target.mongodb_url, target.mongodb_db)
        try:
            assert "$jsonSchema" in restored.validators()["products"]
            indexes = restored.products.index_information()
            assert indexes["catalog_pending"].get("sparse") and indexes["marked"].get("sparse")
            assert restored.reviews.collection.index_information()["one_review_per_customer"]["unique"]
            assert restored.stock.levels() == store.stock.levels()
            assert restored.catalog.get(with_image).images == store.catalog.get(with_image).images
            assert restored.catalog.get(with_image).images[-1] == image
            assert restored.images.names() == store.images.names()
            for name in store.images.names():
                assert restored.images.read(name) == store.images.read(name)
        finally:
            restored.close()
        _the_shop_works_on(target, tmp_path, image_url=f"/imagenes/{image.image_id}-320.webp")  # last: its
        # start-up recovery settles the order in flight


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (120, 160, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def _the_shop_works_on(target: backup.Source, tmp_path: Path, image_url: str | None = None) -> None:
    """The shop starts on the restored databases (its start-up applies both schemas, which refused
    indexes restored without their options) and serves them."""
    from shop.bootstrap import prepare_databases
    from shop.config import Settings
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    settings = Settings(env="testing", secret_key="r" * 48, database_url=target.postgres_url,
                        mongodb_url=target.mongodb_url, mongodb_db=target.mongodb_db, data_dir=tmp_path,
                        catalog_cache_seconds=0)
    prepare_databases(settings, demo=False)
    app = create_app({"TESTING": True}, settings=settings)
    try:
        client = app.test_client()
        assert "60 productos" in client.get("/").get_data(as_text=True)
        assert client.get("/readyz").status_code == 200
        if image_url:
            assert client.get(image_url).mimetype == "image/webp"
    finally:
        close_stores(app)


def test_after_a_restore_recovery_settles_the_order_that_was_in_flight(source, servers, db, store, make_user,
                                                                       tmp_path):
    initial = populate(db, store, make_user)
    archive = backup.create_backup(source, tmp_path)
    (summary,) = backup.list_sets(tmp_path)
    with scratch_target(servers) as target:
        backup.restore(archive, summary, target, key=None)
        restored_db = PostgresDatabase(target.postgres_url, max_connections=2)
        restored = MongoStore(target.mongodb_url, target.mongodb_db)
        try:
            time.sleep(1.1)  # the in-flight order's lease
            assert recover(restored_db, restored).aborted
            stock, sold = restored.stock.levels(), units_in_live_orders(restored_db)
            assert all(initial[p] == stock[p] + sold.get(p, 0) for p in initial)
            assert restored.stock.with_markers("holds") == []
        finally:
            restored_db.close()
            restored.close()


def test_an_encrypted_set_needs_its_key(source, servers, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    key = backup.load_key(None, KEY)
    archive = backup.create_backup(source, tmp_path, key=key)
    (summary,) = backup.list_sets(tmp_path)
    assert archive.name.endswith(".tar.gz.enc") and summary["encrypted"]
    assert b"Cafetera" not in archive.read_bytes()
    with scratch_target(servers) as target:
        with pytest.raises(backup.BackupError, match="encrypted"):
            backup.restore(archive, summary, target, key=None)
        with pytest.raises(backup.BackupError, match="wrong key"):
            backup.restore(archive, summary, target, key=os.urandom(32))
        assert backup.restore(archive, summary, target, key=key)["ok"]


def test_a_corrupted_archive_is_refused_before_anything_is_touched(source, servers, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    archive = backup.create_backup(source, tmp_path)
    (summary,) = backup.list_sets(tmp_path)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with scratch_target(servers) as target:
        with pytest.raises(backup.BackupError, match="corrupted"):
            backup.restore(archive, summary, target, key=None)
        conn = psycopg2.connect(target.postgres_url)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            assert cur.fetchone()[0] == 0
        conn.close()


def test_restore_refuses_databases_that_are_not_empty(source, servers, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    archive = backup.create_backup(source, tmp_path)
    (summary,) = backup.list_sets(tmp_path)
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(archive, summary, source, key=None)


def test_a_second_run_while_one_runs_exits_cleanly(source, tmp_path):
    with backup.exclusive(tmp_path), pytest.raises(backup.AlreadyRunning):
        backup.create_backup(source, tmp_path)
    env = {**os.environ, "DATABASE_URL": source.postgres_url, "MONGODB_URL": source.mongodb_url,
           "MONGODB_DB": source.mongodb_db, "BACKUP_DIR": str(tmp_path)}
    with backup.exclusive(tmp_path):
        run = subprocess.run([sys.executable, "ops/backup_script.py"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert run.returncode == 3 and "another backup is running" in run.stderr
    assert backup.list_sets(tmp_path) == []


def test_wrong_credentials_record_no_set_and_say_so_in_one_line(source, tmp_path):
    parts = urlsplit(source.postgres_url)
    wrong = urlunsplit(parts._replace(netloc=f"no_such_role:x@{parts.hostname}:{parts.port or 5432}"))
    env = {**os.environ, "DATABASE_URL": wrong, "MONGODB_URL": source.mongodb_url,
           "MONGODB_DB": source.mongodb_db, "BACKUP_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "ops/backup_script.py"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.startswith("backup: FAILED: cannot connect to PostgreSQL") and "Traceback" not in run.stderr
    assert "x@" not in run.stderr  # the password is not echoed
    assert backup.list_sets(tmp_path) == [] and not list(tmp_path.glob(".tmp-*"))


def test_pg_dump_failing_midway_records_no_set(source, db, store, make_user, tmp_path):
    populate(db, store, make_user)

    def the_snapshot_session_dies():  # pg_dump then cannot import the exported snapshot
        conn = psycopg2.connect(source.postgres_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            # With a timeout, pg_terminate_backend waits until the session has really ended (PostgreSQL 14+).
            cur.execute("""SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
                           WHERE datname = current_database() AND state = 'idle in transaction'
                             AND query NOT LIKE '%%advisory%%' AND pid <> pg_backend_pid()""")
        conn.close()

    failpoints.install("backup.before_fence_release", the_snapshot_session_dies)
    with pytest.raises(backup.BackupError, match="pg_dump failed"):
        backup.create_backup(source, tmp_path)
    failpoints.clear()
    assert backup.list_sets(tmp_path) == [] and not list(tmp_path.glob(".tmp-*"))
    assert backup.create_backup(source, tmp_path).exists()  # and the next run works


def test_a_set_from_a_newer_shop_is_refused(source, servers, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    archive = backup.create_backup(source, tmp_path)
    (summary,) = backup.list_sets(tmp_path)
    with scratch_target(servers) as target, pytest.raises(backup.BackupError, match="newer than this shop"):
        backup.restore(archive, {**summary, "schema_version": "9999"}, target, key=None)


def test_a_backup_killed_before_publishing_leaves_no_set_and_the_next_run_works(source, db, store, make_user,
                                                                                 tmp_path):
    populate(db, store, make_user)
    env = {**os.environ, "DATABASE_URL": source.postgres_url, "MONGODB_URL": source.mongodb_url,
           "MONGODB_DB": source.mongodb_db, "BACKUP_DIR": str(tmp_path),
           "SHOP_FAILPOINTS": "backup.before_publish=exit"}
    killed = subprocess.run([sys.executable, "ops/backup_script.py"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == failpoints.EXIT_CODE, killed.stderr
    assert backup.list_sets(tmp_path) == [] and not list(tmp_path.glob("shop-*"))
    env.pop("SHOP_FAILPOINTS")
    again = subprocess.run([sys.executable, "ops/backup_script.py"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert len(backup.list_sets(tmp_path)) == 1 and not list(tmp_path.glob(".tmp-*"))
    drill = subprocess.run([sys.executable, "ops/backup_script.py", "verify"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert drill.returncode == 0 and "PASS" in drill.stdout, drill.stdout + drill.stderr


def _fake_set(directory: Path, when: dt.datetime) -> str:
    name = when.strftime("shop-%Y%m%dT%H%M%SZ")
    (directory / f"{name}.tar.gz").write_bytes(b"x")
    (directory / f"{name}.manifest.json").write_text(json.dumps(
        {"name": name, "archive": f"{name}.tar.gz", "created_at": when.isoformat()}))
    return name


def test_retention_keeps_the_newest_and_one_per_day_week_and_month(tmp_path):
    start = dt.datetime(2026, 1, 1, 3, tzinfo=dt.UTC)
    names = [_fake_set(tmp_path, start + dt.timedelta(hours=12 * i)) for i in range(120)]  # two a day
    deleted = backup.apply_retention(LocalDirectory(tmp_path), keep_last=3, keep_daily=7, keep_weekly=4, keep_monthly=3)
    kept = [s["name"] for s in backup.list_sets(tmp_path)]
    assert names[-1] in kept and set(names[-3:]) <= set(kept)
    assert len(kept) + len(deleted) == 120
    assert len(kept) <= 3 + 7 + 4 + 3
    days = {n[5:13] for n in kept}
    assert len(days) >= 7


def test_retention_never_deletes_the_only_set(tmp_path):
    name = _fake_set(tmp_path, dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    nothing_kept = {"keep_last": 0, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0}
    assert backup.apply_retention(LocalDirectory(tmp_path), **nothing_kept) == []
    assert [s["name"] for s in backup.list_sets(tmp_path)] == [name]


def test_order_decisions_wait_while_a_backup_fixes_its_cut(db, store, make_user, make_product):
    buyer = make_user()
    product = make_product(stock=5)
    fence = psycopg2.connect(db.url)
    fence.autocommit = True
    with fence.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (BACKUP_FENCE_KEY,))
    done = threading.Event()
    wanted = CheckoutRequest(buyer.user_id, [(str(product["_id"]), 1)], str(uuid.uuid4()))
    thread = threading.Thread(target=lambda: (checkout.place_order(db, store, wanted), done.set()))
    thread.start()
    assert not done.wait(0.7)  # blocked at the decision while the cut is being taken
    with fence.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", (BACKUP_FENCE_KEY,))
    assert done.wait(10)
    thread.join()
    fence.close()


def test_a_backup_taken_while_customers_buy_restores_to_a_consistent_shop(source, servers, db, store, make_user,
                                                                          make_product, tmp_path):
    products = [str(make_product(name=f"P{i}", stock=500)["_id"]) for i in range(3)]
    initial = {p: 500 for p in products}
    buyers = [make_user() for _ in range(3)]
    stop = threading.Event()

    def keep_buying(user):
        while not stop.is_set():
            with contextlib.suppress(Exception):
                checkout.place_order(db, store,
                                     CheckoutRequest(user.user_id, [(p, 1) for p in products], str(uuid.uuid4())),
                                     settlements=settlements)

    settlements = checkout.SettlementQueue()
    threads = [threading.Thread(target=keep_buying, args=(u,)) for u in buyers]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        archive = backup.create_backup(source, tmp_path)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    (summary,) = backup.list_sets(tmp_path)
    assert summary["postgres"]["row_counts"]["orders"] > 0
    with scratch_target(servers) as target:
        assert backup.restore(archive, summary, target, key=None)["ok"]
        restored_db = PostgresDatabase(target.postgres_url, max_connections=2)
        restored = MongoStore(target.mongodb_url, target.mongodb_db)
        try:
            with restored_db.transaction() as cur:
                cur.execute("UPDATE orders SET lease_until = now() - interval '1 second' WHERE status = 'placing'")
            recover(restored_db, restored)
            stock, sold = restored.stock.levels(), units_in_live_orders(restored_db)
            assert {p: stock[p] + sold.get(p, 0) for p in products} == initial
            assert restored.stock.with_markers("holds") == []
        finally:
            restored_db.close()
            restored.close()


def test_the_dump_is_made_by_a_pg_dump_that_fits_the_server(source):
    conn = psycopg2.connect(source.postgres_url)
    with conn.cursor() as cur:
        cur.execute("SELECT current_setting('server_version_num')::int")
        version = cur.fetchone()[0]
    conn.close()
    tool = backup.find_pg_tool("pg_dump", version)
    out = subprocess.run([str(tool), "--version"], capture_output=True, text=True).stdout
    assert int(out.split()[-1].split(".")[0]) >= version // 10000
    with pytest.raises(backup.BackupError, match="no pg_dump for PostgreSQL 99"):
        backup.find_pg_tool("pg_dump", 990000)


def test_the_archive_never_contains_the_database_password(source, db, store, make_user, tmp_path):
    populate(db, store, make_user)
    archive = backup.create_backup(source, tmp_path)
    password = psycopg2.extensions.parse_dsn(source.postgres_url).get("password")
    if password:
        assert password.encode() not in archive.read_bytes()
        assert password not in (tmp_path / archive.name.replace(".tar.gz", ".manifest.json")).read_text()
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == backup.list_sets(tmp_path)[0]["archive_sha256"]


def test_a_restore_the_shop_could_not_start_on_is_reported_as_failed(source, servers, db, store, make_user,
                                                                        tmp_path):
    """The drill's last check: the shop's own start-up schema step on the restored databases. A set
    whose products index differs from the one the shop declares (as restores used to make) fails."""
    populate(db, store, make_user)
    store.products.drop_index("marked")
    store.products.create_index([("marked", 1)], name="marked")  # the option the shop needs, lost
    archive = backup.create_backup(source, tmp_path)
    (summary,) = backup.list_sets(tmp_path)
    with scratch_target(servers) as target:
        result = backup.restore(archive, summary, target, key=None)
    assert not result["ok"] and "would not start" in result["problems"][0]
