"""Sessions that end: logout, password change, role change and deactivation end
every session of the account, and a session has an idle and an absolute lifetime."""

from __future__ import annotations

import pytest
from flask import request

from shop.domain.accounts import Role
from tests.conftest import csrf_token_from
from tests.integration.conftest import PASSWORD


def _copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    return thief


def _logged_in(client) -> bool:
    return client.get("/orders/").status_code == 200


@pytest.fixture
def customer(client, auth, make_user):
    user = make_user(email="ana@example.com")
    assert auth.login("ana@example.com").status_code == 302
    return user


def test_a_copied_session_cookie_stops_working_at_logout(app, client, auth, customer):
    thief, api_thief = _copy_of(app, client), _copy_of(app, client)
    assert _logged_in(thief)
    auth.logout()
    assert not _logged_in(client)
    response = thief.get("/orders/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    api = api_thief.get("/orders/", headers={"Accept": "application/json"})
    assert api.status_code == 401 and "sesión ha terminado" in api.json["error"]["message"]


def test_a_password_change_ends_every_other_session_and_keeps_this_one(app, client, auth, customer):
    thief = _copy_of(app, client)
    page = client.get("/account/password").get_data(as_text=True)
    response = client.post("/account/password", data={
        "csrf_token": csrf_token_from(page), "current": PASSWORD, "password": "a brand new secret",
        "confirm": "a brand new secret"})
    assert response.status_code == 302
    assert _logged_in(client)
    assert not _logged_in(thief)
    auth.logout()
    assert auth.login("ana@example.com", "a brand new secret").status_code == 302


def test_a_wrong_current_password_changes_nothing(app, client, auth, customer):
    page = client.get("/account/password").get_data(as_text=True)
    response = client.post("/account/password", data={
        "csrf_token": csrf_token_from(page), "current": "not my password", "password": "a brand new secret",
        "confirm": "a brand new secret"})
    assert response.status_code == 400
    assert "contraseña actual no es correcta" in response.get_data(as_text=True)
    assert _logged_in(client)
    auth.logout()
    assert auth.login("ana@example.com").status_code == 302


@pytest.mark.parametrize("change", [("role", {"role": "auditor"}), ("active", {"active": "0", "confirm": "yes"})])
def test_a_role_change_or_deactivation_ends_the_users_sessions(app, client, customer, make_user, change):
    make_user(role=Role.ADMIN, email="admin@example.com")
    admin = app.test_client()
    token = csrf_token_from(admin.get("/auth/login").get_data(as_text=True))
    admin.post("/auth/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token})
    assert _logged_in(client)
    path, form = change
    token = csrf_token_from(admin.get("/admin/users/").get_data(as_text=True))
    assert admin.post(f"/admin/users/{customer.user_id}/{path}", data={**form, "csrf_token": token}).status_code == 303
    assert not _logged_in(client)


def test_a_role_change_request_that_changes_nothing_keeps_the_sessions(db, client, customer):
    from shop.services import accounts

    with db.users.locked(customer.user_id) as account:
        account.update(account.user.role, account.user.is_active)
    assert db.users.get(customer.user_id).session_epoch == accounts.active_user(db, customer.user_id).session_epoch == 0
    assert _logged_in(client)


def _lifetime(app, limit: str) -> int:
    settings = app.config["SHOP_SETTINGS"]
    return settings.session_idle_minutes * 60 if limit == "idle" else settings.session_max_hours * 3600


@pytest.mark.parametrize("stamp, limit", [("_seen", "idle"), ("_started", "absolute")])
def test_a_session_ends_after_its_idle_or_absolute_lifetime(app, client, customer, stamp, limit):
    with client.session_transaction() as session:
        session[stamp] -= _lifetime(app, limit) + 1  # "_started" alone: used a moment ago, yet too old
    response = client.get("/orders/")
    assert response.status_code == 302
    assert "sesión ha terminado" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_session_just_inside_its_absolute_lifetime_still_works(app, client, customer):
    with client.session_transaction() as session:
        session["_started"] -= _lifetime(app, "absolute") - 30
    assert _logged_in(client)


def test_each_request_keeps_an_idle_session_alive(app, client, customer):
    with client.session_transaction() as session:
        session["_seen"] -= _lifetime(app, "idle") - 5
    assert _logged_in(client)  # this request counts as use: the idle clock starts again
    with client.session_transaction() as session:
        session["_seen"] -= 10
    assert _logged_in(client)


def test_a_session_without_the_stamps_is_not_a_login(app, client, customer):
    with client.session_transaction() as session:
        for key in ("_epoch", "_started", "_seen"):
            del session[key]
    assert not _logged_in(client)


def test_a_person_changes_their_name_and_the_language_of_their_mails(client, auth, db, make_user):
    from tests.conftest import csrf_token_from

    user = make_user(email="ana@example.com", name="Ana")
    auth.login("ana@example.com")
    page = client.get("/account/").get_data(as_text=True)
    assert 'value="Ana"' in page and "ana@example.com" in page
    token = csrf_token_from(page)
    response = client.post("/account/", data={"csrf_token": token, "full_name": "Ana Torres", "language": "en"})
    assert response.status_code == 303
    assert db.users.get(user.user_id).full_name == "Ana Torres" and db.users.language_of(user.user_id) == "en"
    assert "Your account" in client.get("/account/").get_data(as_text=True)  # the shop now speaks English
    assert client.post("/account/", data={"csrf_token": token, "full_name": "  ", "language": "en"}).status_code == 400
    assert client.post("/account/", data={"csrf_token": token, "full_name": "Ana", "language": "fr"}).status_code == 400
    assert db.users.get(user.user_id).full_name == "Ana Torres"


def test_a_copied_cookie_used_from_another_address_fails_even_with_a_forged_forwarded_for(app, make_user):
    """No load balancer is configured (TRUSTED_PROXIES=0): X-Forwarded-For is whatever the client
    wrote, so the address a session is bound to is the connection's, never that header."""
    make_user(email="ana@example.com")
    victim = app.test_client()
    victim.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    token = csrf_token_from(victim.get("/auth/login").get_data(as_text=True))
    victim.post("/auth/login", data={"email": "ana@example.com", "password": PASSWORD, "csrf_token": token})
    assert _logged_in(victim)
    thief = _copy_of(app, victim)
    thief.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    assert not _logged_in_with(thief, {"X-Forwarded-For": "198.51.100.7"})


def _logged_in_with(client, headers) -> bool:
    return client.get("/orders/", headers=headers).status_code == 200


def test_forwarded_headers_are_believed_only_from_the_configured_load_balancers(settings, db, store):
    import dataclasses

    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False},
                     settings=dataclasses.replace(settings, trusted_proxies=1,
                                                  trusted_proxy_addresses=("10.0.0.0/24",)))
    seen = []
    app.before_request(lambda: seen.append(request.remote_addr))
    try:
        client = app.test_client()
        client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.7"}, environ_base={"REMOTE_ADDR": "10.0.0.5"})
        client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.7"},
                   environ_base={"REMOTE_ADDR": "203.0.113.66"})
        assert seen == ["198.51.100.7", "203.0.113.66"]
    finally:
        close_stores(app)


def test_logging_in_again_brings_back_the_language_the_account_chose(app, auth, db, make_user):
    user = make_user(email="oliver@example.com", name="Oliver")
    db.users.set_language(user.user_id, "en")
    browser = app.test_client()  # a new browser: nothing in its session says English
    assert "Productos" in browser.get("/").get_data(as_text=True)
    token = csrf_token_from(browser.get("/auth/login").get_data(as_text=True))
    browser.post("/auth/login", data={"csrf_token": token, "email": "oliver@example.com", "password": PASSWORD})
    assert "Your account" in browser.get("/account/").get_data(as_text=True)
