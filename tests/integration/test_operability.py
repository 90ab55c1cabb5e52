"""Health and readiness, request ids, error pages, CLI commands."""

import dataclasses
import logging

from shop.config import Settings
from shop.domain.accounts import Role
from shop.embedded import free_port
from shop.web.extensions import close_stores
from shop.web.factory import create_app


def test_healthz_answers_while_the_process_is_up(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_is_ready_when_both_databases_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"postgres": "ok", "mongodb": "ok"}}


def test_readyz_is_503_with_a_reason_when_a_database_is_unreachable(settings):
    closed = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true&serverSelectionTimeoutMS=300"
    app = create_app({"TESTING": True}, settings=dataclasses.replace(settings, mongodb_url=closed))
    try:
        app.extensions["shop.stores"]["mongo"] = None
        from shop.adapters.mongo import MongoStore

        app.extensions["shop.stores"]["mongo"] = MongoStore(closed, "x", timeout_ms=300)
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.json["status"] == "unavailable"
        assert response.json["checks"]["postgres"] == "ok"
        assert response.json["checks"]["mongodb"].startswith("unavailable")
        assert "127.0.0.1" not in response.get_data(as_text=True)  # no connection details leak
    finally:
        close_stores(app)


def test_every_response_has_a_request_id_and_keeps_a_sane_incoming_one(client):
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123-def"}).headers["X-Request-ID"] == "abc-123-def"
    forged = client.get("/healthz", headers={"X-Request-ID": "x FAKE <LOG> LINE"}).headers["X-Request-ID"]
    assert "FAKE" not in forged


def test_an_unexpected_error_is_a_friendly_500_with_the_request_id_logged(app, caplog):
    from shop.web.access import public

    @app.get("/boom")
    @public
    def boom():
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Algo ha fallado por nuestra parte" in body
    assert "secret internals" not in body and "Traceback" not in body
    assert response.headers["X-Request-ID"] in body
    assert "secret internals" in caplog.text


def test_cli_create_user_makes_a_user_with_any_role(app, db):
    result = app.test_cli_runner().invoke(args=[
        "create-user", "--email", "Boss@Example.com", "--name", "La Jefa", "--role", "admin"],
        input="a strong password\na strong password\n")
    assert result.exit_code == 0, result.output
    user, _ = db.users.credentials("boss@example.com")
    assert user.role is Role.ADMIN


def test_cli_create_user_explains_a_refusal(app, make_user):
    make_user(email="boss@example.com")
    result = app.test_cli_runner().invoke(args=[
        "create-user", "--email", "boss@example.com", "--name", "X", "--role", "auditor"],
        input="a strong password\na strong password\n")
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_cli_init_db_applies_both_schemas_and_the_demo_data(app, db, store):
    result = app.test_cli_runner().invoke(args=["init-db", "--demo"])
    assert result.exit_code == 0, result.output
    assert store.catalog.count() == 60
    assert db.users.count() == 3
    again = app.test_cli_runner().invoke(args=["init-db", "--demo"])
    assert again.exit_code == 0 and store.catalog.count() == 60 and db.users.count() == 3


def test_settings_are_read_only_in_the_config_module():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    reads = re.compile(r"os\.environ(\.get\(|\[)|os\.getenv\(")  # reading one variable = reading config
    offenders = [str(p.relative_to(root)) for p in [*root.glob("shop/**/*.py"), *root.glob("ops/*.py")]
                 if reads.search(p.read_text()) and p.name not in ("config.py", "runner.py")]
    assert offenders == [], "configuration is read only in shop/config.py (the runner passes URLs to workers)"


def test_unused_settings_type_is_the_one_from_config():
    assert Settings().env == "development"


def test_each_request_is_logged_once_with_its_fields_and_never_a_link_token(client, caplog):
    import json
    import logging

    from shop.web.requestlog import JsonFormatter

    with caplog.at_level(logging.INFO, logger="shop.access"):
        client.get("/healthz", headers={"X-Request-ID": "req-12345678"})
        client.get("/auth/password-reset/SECRET-TOKEN-VALUE")
    (health, reset) = [r for r in caplog.records if r.name == "shop.access"]
    line = json.loads(JsonFormatter().format(health))
    assert {k: line[k] for k in ("endpoint", "method", "path", "status", "request_id", "user_id")} == {
        "endpoint": "health.healthz", "method": "GET", "path": "/healthz", "status": 200,
        "request_id": "req-12345678", "user_id": None}
    assert line["duration_ms"] >= 0 and line["level"] == "INFO"
    assert "SECRET-TOKEN-VALUE" not in reset.getMessage() and reset.path == "/auth/password-reset/<token>"


def test_a_draining_instance_is_not_ready_so_the_load_balancer_takes_it_out(app, client):
    draining = app.config["SHOP_SETTINGS"].data_dir / "draining"
    assert client.get("/readyz").status_code == 200
    draining.touch()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["status"] == "draining"
    assert client.get("/healthz").status_code == 200 and client.get("/").status_code == 200  # still serving
    draining.unlink()
    assert client.get("/readyz").status_code == 200


def test_a_request_stuck_past_its_bound_is_logged_with_its_stack_and_healthz_says_so(settings, db, store, caplog):
    import dataclasses
    import threading
    import time

    from shop.web import watchdog
    from shop.web.access import public
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    app = create_app({"TESTING": True}, settings=dataclasses.replace(settings, request_stuck_seconds=0.3))
    release = threading.Event()

    @public
    def wait_for_a_lock_nobody_releases():
        release.wait(20)
        return "done"

    app.add_url_rule("/stuck-for-the-test", "stuck_for_the_test", wait_for_a_lock_nobody_releases)
    try:
        stuck = threading.Thread(target=lambda: app.test_client().get("/stuck-for-the-test"))
        stuck.start()
        time.sleep(0.6)
        client = app.test_client()
        response = client.get("/healthz")
        assert response.status_code == 503 and response.json["status"] == "wedged"
        assert watchdog.report_stuck(0.3) == 1 and watchdog.report_stuck(0.3) == 1
        reports = [r.getMessage() for r in caplog.records if "REQUEST_STUCK_SECONDS" in r.getMessage()]
        assert len(reports) == 1  # once per stuck request, however often the watchdog looks
        assert "/stuck-for-the-test" in reports[0] and "wait_for_a_lock_nobody_releases" in reports[0]
        release.set()
        stuck.join(10)
        assert client.get("/healthz").status_code == 200
    finally:
        release.set()
        close_stores(app)
