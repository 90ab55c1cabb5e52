"""The links a shop e-mails to an account (activation, password reset, "you already have an
account"): they point at PUBLIC_URL whatever Host a request carried, and work once, for the password
they were made with."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import psutil
import pytest

from shop.domain.accounts import Role
from shop.web.extensions import close_stores
from shop.web.factory import create_app
from tests.conftest import csrf_token_from
from tests.integration.conftest import PASSWORD
from tests.integration.test_accounts import outbox, register

EVIL = "http://evil.example"


@pytest.fixture
def public_app(settings, db, store):
    """An app whose customers reach it at https://tienda.example (PUBLIC_URL)."""
    application = create_app({"TESTING": True, "RATELIMIT_ENABLED": False},
                             settings=dataclasses.replace(settings, public_url="https://tienda.example"))
    yield application
    close_stores(application)


def _links(message) -> list[str]:
    return re.findall(r"https?://[^\s\"<>]+", message.get_body(("plain",)).get_content())


def _link_path(message, prefix: str) -> str:
    return next(re.sub(r"^https?://[^/]+", "", link) for link in _links(message) if prefix in link)


def test_a_request_for_a_host_the_shop_does_not_serve_is_refused(public_app):
    client = public_app.test_client()
    assert client.get("/auth/password-reset", base_url=EVIL).status_code == 400
    assert client.get("/auth/password-reset", base_url="https://tienda.example").status_code == 200
    assert client.get("/healthz", base_url="http://127.0.0.1:5000").status_code == 200


def test_mailed_links_start_with_the_public_url_whatever_host_the_request_named(app, make_user):
    """Development without a host list: a forged Host is answered, but the links ignore it."""
    make_user(email="ana@example.com", name="Ana")
    client = app.test_client()
    token = csrf_token_from(client.get("/auth/password-reset", base_url=EVIL).get_data(as_text=True))
    client.post("/auth/password-reset", data={"email": "ana@example.com", "csrf_token": token}, base_url=EVIL)
    register(app.test_client(), email="nueva@example.com")
    register(app.test_client(), email="ana@example.com")  # "you already have an account"
    messages = outbox(app)
    assert len(messages) == 3
    for message in messages:
        links = _links(message)
        assert links and all(link.startswith("http://localhost:5000/") for link in links), links


def test_a_second_registration_of_an_unactivated_address_replaces_the_first_ones_password(app, auth, db):
    register(app.test_client(), email="victima@example.com", full_name="Atacante", password="clave del atacante",
             confirm="clave del atacante")
    register(app.test_client(), email="victima@example.com", full_name="Víctima", password=PASSWORD)
    first_link, second_link = (_link_path(m, "/auth/activate/") for m in outbox(app))
    assert app.test_client().get(first_link).status_code == 400  # made for the attacker's password
    owner = app.test_client()
    assert owner.get(second_link).status_code == 302
    assert db.users.credentials("victima@example.com")[0].full_name == "Víctima"
    assert auth.login("victima@example.com", "clave del atacante").status_code == 401
    assert auth.login("victima@example.com", PASSWORD).status_code == 302


def test_an_activation_link_works_once(app, db):
    register(app.test_client(), email="nueva@example.com")
    link = _link_path(outbox(app)[0], "/auth/activate/")
    assert app.test_client().get(link).status_code == 302
    again = app.test_client()
    response = again.get(link)
    assert response.status_code == 400 and "ya no es válido" in response.get_data(as_text=True)
    assert again.get("/orders/").status_code == 302  # not logged in by it


def test_an_activation_link_stops_working_when_the_password_changes(app, db):
    register(app.test_client(), email="nueva@example.com")
    link = _link_path(outbox(app)[0], "/auth/activate/")
    user = db.users.credentials("nueva@example.com")[0]
    db.users.update_password_hash(user.user_id, "$argon2id$v=19$m=65536,t=3,p=4$otra$otra", end_sessions=True)
    assert app.test_client().get(link).status_code == 400
    assert not db.users.credentials("nueva@example.com")[0].email_verified


def test_a_taken_address_never_puts_the_typed_passwords_hash_in_a_failing_statement(app, db, make_user):
    """The server logs a failed statement with its text: registering or creating an account for a
    taken address must not fail in the database at all."""
    from shop.domain.errors import Conflict
    from shop.services import accounts

    make_user(email="ana@example.com", role=Role.CUSTOMER)
    with db.transaction() as cur:
        cur.execute("SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()")
    with db.transaction() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
    before = _rollbacks(db)
    accounts.register_customer(db, "ana@example.com", "Otra Ana", "una clave cualquiera")
    with pytest.raises(Conflict):
        accounts.create_user(db, "ana@example.com", "Otra Ana", "una clave cualquiera", Role.AUDITOR)
    assert _rollbacks(db) == before


def _rollbacks(db) -> int:
    """Transactions that ended in an error on this database (statistics are flushed on demand)."""
    with db.transaction() as cur:
        cur.execute("SELECT pg_stat_force_next_flush()")
    with db.transaction() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        return cur.fetchone()["xact_rollback"]


def test_the_embedded_servers_data_and_logs_are_readable_by_their_owner_only(servers):
    """What the test run started (the same classes `make run` uses): data directories 0700, logs 0600."""
    found = 0
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        for flag in ("-D", "--storage-path"):
            if flag in cmdline and "shop-test-servers-" in cmdline[cmdline.index(flag) + 1]:
                data_dir = Path(cmdline[cmdline.index(flag) + 1])
                assert data_dir.stat().st_mode & 0o077 == 0, data_dir
                log = data_dir.parent / f"{data_dir.name}.log"
                assert log.stat().st_mode & 0o077 == 0, log
                found += 1
    assert found >= 2 - bool(os.environ.get("TEST_DATABASE_URL")) - bool(os.environ.get("TEST_MONGODB_URL"))


def test_an_account_mail_waiting_in_the_outbox_holds_no_link_it_is_signed_when_written(app, db):
    client = app.test_client()
    token = csrf_token_from(client.get("/auth/register").get_data(as_text=True))
    client.post("/auth/register", data={"full_name": "Nueva", "email": "nueva@example.com", "password": PASSWORD,
                                        "confirm": PASSWORD, "csrf_token": token})
    with db.transaction() as cur:
        cur.execute("SELECT * FROM mail_outbox WHERE to_address = 'nueva@example.com'")
        [row] = cur.fetchall()
    assert row["kind"] == "account.activation" and row["status"] == "pending"
    assert not any("activate" in str(value) for value in row.values())  # no token, no link
    [message] = outbox(app)
    assert app.test_client().get(_link_path(message, "/auth/activate/")).status_code == 302


def test_an_activation_mail_for_an_account_already_active_when_it_is_written_is_not_sent(app, db):
    from shop.domain.order_effects import MailKind
    from shop.services import accounts

    register(app.test_client(), email="nueva@example.com")
    assert app.test_client().get(_link_path(outbox(app)[0], "/auth/activate/")).status_code == 302
    user = db.users.credentials("nueva@example.com")[0]
    accounts.queue_account_mail(db, MailKind.ACCOUNT_ACTIVATION, user, "es")  # e.g. a second form sent earlier
    with_links = [m for m in outbox(app) if "/auth/activate/" in m.get_body(("plain",)).get_content()]
    assert len(with_links) == 1  # the first one only
    with db.transaction() as cur:
        cur.execute("SELECT status, last_error FROM mail_outbox WHERE kind = 'account.activation' ORDER BY mail_id")
        statuses = [(r["status"], r["last_error"]) for r in cur.fetchall()]
    assert statuses == [("sent", None), ("failed", "not needed: the account is already active")]
