"""The audit log on the real database: a hash chain that survives concurrent writers and outages."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from shop.adapters.mongo import MongoStore
from shop.domain.accounts import Role
from shop.domain.audit import AuditEvent
from shop.domain.filters import AuditFilter, RowPosition
from shop.embedded import EmbeddedMongo
from shop.services import staff_lists
from shop.services.audit import AuditLog
from tests.conftest import csrf_token_from


@pytest.fixture
def audit_log(store, tmp_path):
    return AuditLog(store, tmp_path / "audit-spool.jsonl")


def test_events_form_a_chain_that_verifies(audit_log, store):
    for i in range(5):
        audit_log.record(AuditEvent("order.placed", f"order:{i}", actor_id=1, actor_role="customer",
                                    details={"total": "9.99"}))
    assert audit_log.verify() == (0, None)  # recorded in the spool, not yet chained
    assert audit_log.flush_spool() == 5
    assert audit_log.verify() == (5, None)
    assert [e["seq"] for e in store.audit.entries()] == [1, 2, 3, 4, 5]


def test_an_entry_altered_in_the_database_is_named_by_verification(audit_log, store, app):
    for i in range(5):
        audit_log.record(AuditEvent("order.placed", f"order:{i}"))
    audit_log.flush_spool()
    store.audit_logs.update_one({"seq": 3}, {"$set": {"target": "order:999"}})
    assert audit_log.verify() == (5, 3)
    result = app.test_cli_runner().invoke(args=["audit-verify"])
    assert result.exit_code == 1 and "se rompe en la entrada 3" in result.output


def test_deleting_the_newest_entries_is_caught_by_the_anchor_kept_in_postgresql(store, db, app, tmp_path):
    """Someone with write access to MongoDB alone removes the newest entries and moves the head back:
    the chain left is intact, but PostgreSQL remembers how far it reached and with which hash."""
    audit_log = AuditLog(store, tmp_path / "audit-spool.jsonl", index=db.lists)
    for i in range(5):
        audit_log.record(AuditEvent("order.placed", f"order:{i}"))
    audit_log.flush_spool()
    assert audit_log.verify() == (5, None)
    store.audit_logs.delete_many({"seq": {"$gte": 4}})
    store.audit.head.update_one({"_id": "chain"}, {"$set": {"seq": 3, "hash": store.audit_logs.find_one(
        {"seq": 3})["hash"]}})
    assert audit_log.verify() == (3, 5)
    result = app.test_cli_runner().invoke(args=["audit-verify"])
    assert result.exit_code == 1 and "entrada 5" in result.output


def test_the_cli_reports_an_intact_chain(audit_log, app):
    audit_log.record(AuditEvent("login.succeeded", "user:1"))
    audit_log.flush_spool()
    result = app.test_cli_runner().invoke(args=["audit-verify"])
    assert result.exit_code == 0 and "íntegro: 1 entradas" in result.output


def _write_events(args) -> None:
    """Hosts of their own (each its own spool), appending and flushing as fast as they can."""
    url, db_name, writer, count, spool = args
    store = MongoStore(url, db_name)
    log = AuditLog(store, __import__("pathlib").Path(spool))
    for i in range(count):
        log.record(AuditEvent("test.concurrent", f"writer:{writer}:{i}"))
        log.flush_spool()
    store.close()


def test_concurrent_writers_in_several_processes_keep_one_gapless_chain(servers, mongo_db_name, store, audit_log,
                                                                        tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_write_events, [(servers.mongodb_url, mongo_db_name, w, 15, str(tmp_path / f"spool{w}"))
                                 for w in range(4)])

    def thread_writer(w):
        for i in range(10):
            audit_log.record(AuditEvent("test.thread", f"t{w}:{i}"))
            audit_log.flush_spool()

    threads = [threading.Thread(target=thread_writer, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    count, broken = audit_log.verify()
    assert (count, broken) == (90, None)
    assert sorted(e["target"] for e in store.audit.entries() if e["action"] == "test.concurrent") == sorted(
        f"writer:{w}:{i}" for w in range(4) for i in range(15))


def test_events_during_a_mongodb_outage_are_spooled_then_chained(tmp_path):
    server = EmbeddedMongo(tmp_path / "mongo")
    server.start()
    store = MongoStore(server.url, "audit", timeout_ms=800)
    store.apply_schema()
    log = AuditLog(store, tmp_path / "spool.jsonl")
    try:
        log.record(AuditEvent("before.outage"))
        assert log.flush_spool() == 1
        server.stop()
        log.record(AuditEvent("during.outage", "order:1", details={"total": "5.00"}))  # must not raise
        log.record(AuditEvent("during.outage", "order:2"))
        assert log.flush_spool() == 0  # MongoDB is down: the events wait in the spool
        log.record(AuditEvent("during.outage", "order:3"))
        server.start()
        assert log.flush_spool() == 2  # the two older events first (they were being flushed) …
        assert log.flush_spool() == 1  # … then the one spooled after them
        assert not (tmp_path / "spool.jsonl").exists() or (tmp_path / "spool.jsonl").read_text() == ""
        assert log.verify() == (4, None)
        assert [e["target"] for e in store.audit.entries()] == [None, "order:1", "order:2", "order:3"]
    finally:
        store.close()
        server.stop()


def test_the_web_records_logins_denials_and_orders_with_ip_and_user_agent(client, auth, make_user, make_product,
                                                                         store):
    make_user(role=Role.CUSTOMER, email="ana@example.com")
    auth.login("ana@example.com", "not the password")
    auth.login("ana@example.com")
    product = make_product(stock=3)
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    import re

    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    client.post("/orders/buy", data={"csrf_token": csrf_token_from(html), "product_id": str(product["_id"]),
                                     "quantity": "1", "idempotency_key": key})
    make_user(role=Role.AUDITOR, email="auditora@example.com")
    auth.logout()
    auth.login("auditora@example.com")
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post("/cart/add", data={"csrf_token": token, "product_id": str(product["_id"]),
                                          "quantity": "1"}).status_code == 403
    from shop.web.extensions import get_audit_log

    with client.application.app_context():
        get_audit_log().flush_spool()
    entries = list(store.audit.entries())
    actions = [e["action"] for e in entries]
    assert actions == ["login.failed", "login.succeeded", "order.placed", "logout", "login.succeeded",
                       "access.denied"]
    failed = entries[0]
    assert failed["details"] == {"email": "ana@example.com"} and failed["ip"] == "127.0.0.1"
    assert entries[2]["user_agent"].startswith("Werkzeug/") and entries[2]["actor_role"] == "customer"
    assert entries[5]["actor_role"] == "auditor" and entries[5]["target"] == "/cart/add"
    assert "not the password" not in str(entries)


def first_page(store, audit_filter):
    """A page of the whole log as the viewer reads it: the head document, then the page at that head."""
    return staff_lists.read_audit_page(None, None, store, audit_filter, store.audit.head_mark())[0]


@pytest.mark.parametrize("written", [3, 130])  # 130: more than two windows of the tail's read
def test_a_head_left_behind_by_a_stopped_writer_is_caught_up_without_a_gap(audit_log, store, written):
    for i in range(written):
        audit_log.record(AuditEvent("test.head", f"x:{i}"))
    audit_log.flush_spool()
    # A writer stopped between inserting its entries and moving the head: the head says 1.
    first = store.audit_logs.find_one({"seq": 1})
    store.audit_head.update_one({"_id": "chain"}, {"$set": {"seq": 1, "hash": first["hash"]}})
    assert store.audit.head_seq() == written
    newest = first_page(store, AuditFilter(per_page=2))  # unfiltered: MongoDB alone
    assert newest.total == written and [e.seq for e in newest.items] == [written, written - 1]
    audit_log.record(AuditEvent("test.head", "x:last"))
    audit_log.flush_spool()
    assert audit_log.verify() == (written + 1, None)
    assert store.audit_head.find_one({"_id": "chain"})["seq"] == written + 1


def test_a_head_ahead_of_its_chain_is_rebuilt_from_the_log(audit_log, store):
    audit_log.record(AuditEvent("test.head", "y:0"))
    audit_log.flush_spool()
    # As after restoring a head dumped later than its log: it names an entry that is not there.
    store.audit_head.update_one({"_id": "chain"}, {"$set": {"seq": 7, "hash": "f" * 64}})
    newest = first_page(store, AuditFilter(per_page=5))
    assert newest.total == 1 and [e.seq for e in newest.items] == [1]
    audit_log.record(AuditEvent("test.head", "y:1"))
    audit_log.flush_spool()
    assert audit_log.verify() == (2, None)


def test_appending_and_the_newest_page_read_only_bounded_ranges_of_the_log(servers, mongo_db_name, audit_log, tmp_path):
    """SecantusDB reads a whole index range whatever the limit: every read of the log must name both
    ends of a short range of seq (or its points), so its cost never grows with the log."""
    from pymongo import monitoring

    class Recorder(monitoring.CommandListener):
        commands: list = []

        def started(self, event):
            if event.command_name in ("find", "aggregate", "count", "distinct"):
                self.commands.append(event.command)

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    for i in range(5):
        audit_log.record(AuditEvent("test.points", f"z:{i}"))
    audit_log.flush_spool()
    recorder = Recorder()
    watched = MongoStore(servers.mongodb_url, mongo_db_name, event_listeners=[recorder])
    try:
        log = AuditLog(watched, tmp_path / "spool")
        log.record(AuditEvent("test.points", "z:5"))
        log.flush_spool()
        newest = AuditFilter(after=RowPosition("audit", 6), per_page=3)
        page = first_page(watched, newest)  # unfiltered: MongoDB alone
        assert page.total == 6 and [e.seq for e in page.items] == [5, 4, 3]
        for command in recorder.commands:
            assert "skip" not in command and set(command.get("sort", {})) <= {"seq"}, command
            assert command.get("find") in ("audit_head", "audit_logs"), command
            assert set(command["filter"]) <= {"_id", "seq"}, command
            seq = command["filter"].get("seq")
            if isinstance(seq, dict) and "$in" not in seq:
                assert set(seq) == {"$gte", "$lte"} and seq["$lte"] - seq["$gte"] < 64 + 3, command
    finally:
        watched.close()


@pytest.mark.parametrize("forged", [
    {"seq": None}, {"target": "x"}, {"seq": "4"}, {"seq": 2.5}, {"seq": 99}, {"seq": True},
], ids=["null-seq", "no-seq", "text-seq", "float-seq", "out-of-range", "bool-seq"])
def test_verification_fails_closed_on_an_entry_it_cannot_place(audit_log, store, app, forged):
    for i in range(3):
        audit_log.record(AuditEvent("order.placed", f"order:{i}"))
    audit_log.flush_spool()
    store.audit_logs.update_one({"seq": 2}, {"$set": {"target": "order:999"}})  # the edit to hide
    store.audit_logs.insert_one({"action": "x", "hash": "0" * 64, "prev_hash": "0" * 64, **forged},
                                bypass_document_validation=True)
    _, broken = audit_log.verify()
    assert broken is not None and broken <= 2
    result = app.test_cli_runner().invoke(args=["audit-verify"])
    assert result.exit_code == 1


def test_an_entry_with_a_field_no_entry_has_breaks_the_chain(audit_log, store):
    for i in range(3):
        audit_log.record(AuditEvent("order.placed", f"order:{i}"))
    audit_log.flush_spool()
    store.audit_logs.update_one({"seq": 3}, {"$set": {"note": "added later"}})
    assert audit_log.verify() == (3, 3)
