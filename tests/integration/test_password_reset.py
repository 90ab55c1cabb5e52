"""A forgotten password (password reset): a link by e-mail that works once, for a while,
asked for by the person (without revealing who has an account) or sent by an admin."""

from __future__ import annotations

import dataclasses
import re

import pytest

from shop.domain.accounts import Role
from tests.conftest import csrf_token_from
from tests.integration.conftest import PASSWORD, deliver_mails
from tests.integration.test_accounts import outbox


def _reset_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://localhost(?::\d+)?(/auth/password-reset/\S+)", text).group(1)


def _ask(client, email):
    token = csrf_token_from(client.get("/auth/password-reset").get_data(as_text=True))
    return client.post("/auth/password-reset", data={"email": email, "csrf_token": token})


def _set(client, link, password="a brand new secret"):
    page = client.get(link).get_data(as_text=True)  # a dead link's page has no form: a visitor's token elsewhere
    token = csrf_token_from(page if 'name="csrf_token"' in page else client.get("/auth/password-reset").get_data(
        as_text=True))
    return client.post(link, data={"password": password, "confirm": password, "csrf_token": token})


@pytest.fixture
def ana(make_user):
    return make_user(email="ana@example.com", name="Ana")


def test_a_forgotten_password_is_reset_by_the_emailed_link_once(app, client, auth, ana):
    assert auth.login("ana@example.com").status_code == 302  # a session elsewhere, ended by the reset
    other = app.test_client()
    response = _ask(other, "ANA@example.com")
    assert response.status_code == 200 and "hemos enviado un enlace" in response.get_data(as_text=True)
    (message,) = outbox(app)
    assert message["To"] == "ana@example.com"
    link = _reset_link(message)
    assert _set(other, link).status_code == 302
    assert other.get("/orders/").status_code == 200  # logged in with the new password's session
    assert client.get("/orders/").status_code == 302  # every other session ended
    assert auth.login("ana@example.com", PASSWORD).status_code == 401
    assert auth.login("ana@example.com", "a brand new secret").status_code == 302
    second = app.test_client()
    response = second.get(link)  # used: the password it was made for is gone
    assert response.status_code == 400 and "ya no es válido" in response.get_data(as_text=True)


def test_asking_for_an_unknown_address_answers_the_same_and_sends_nothing(app, client, ana):
    known, unknown = _ask(client, "ana@example.com"), _ask(client, "nadie@example.com")
    assert known.status_code == unknown.status_code == 200
    assert (known.get_data(as_text=True).replace("ana@example.com", "X").split("csrf")[0]
            == unknown.get_data(as_text=True).replace("nadie@example.com", "X").split("csrf")[0])
    assert [m["To"] for m in outbox(app)] == ["ana@example.com"]


def test_a_forged_or_expired_link_is_a_clear_400_and_changes_nothing(app, client, auth, ana):
    _ask(client, "ana@example.com")
    link = _reset_link(outbox(app)[0])
    assert client.get(link[:-4] + "AAAA").status_code == 400
    app.config["SHOP_SETTINGS"] = dataclasses.replace(app.config["SHOP_SETTINGS"], password_reset_link_minutes=-1)
    assert _set(client, link).status_code == 400
    assert auth.login("ana@example.com", PASSWORD).status_code == 302


def test_an_admin_sends_a_password_link_and_never_sees_the_password(app, client, auth, ana, make_user, db):
    make_user(role=Role.ADMIN, email="admin@example.com")
    auth.login("admin@example.com")
    page = client.get("/admin/users/").get_data(as_text=True)
    response = client.post(f"/admin/users/{ana.user_id}/password-reset", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    (message,) = outbox(app)
    assert message["To"] == "ana@example.com" and "/auth/password-reset/" in message.get_body(("plain",)).get_content()
    assert client.post("/admin/users/999999/password-reset",
                       data={"csrf_token": csrf_token_from(page)}).status_code == 404


def test_a_reset_activates_an_account_whose_activation_mail_was_lost(app, client, db):
    from shop.services import accounts

    accounts.register_customer(db, "nuevo@example.com", "Nuevo", PASSWORD)
    _ask(client, "nuevo@example.com")
    assert _set(client, _reset_link(outbox(app)[-1])).status_code == 302
    assert db.users.credentials("nuevo@example.com")[0].email_verified


def test_account_mails_come_as_text_and_html_with_the_link(client, make_user, settings):
    from email import message_from_bytes
    from email.policy import default

    make_user(email="ana@example.com")
    token = csrf_token_from(client.get("/auth/password-reset").get_data(as_text=True))
    client.post("/auth/password-reset", data={"csrf_token": token, "email": "ana@example.com"})
    deliver_mails(client.application)
    [path] = (settings.data_dir / "outbox").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=default)
    html = message.get_body(("html",)).get_content()
    link = re.search(r"http://\S+/auth/password-reset/\S+", message.get_body(("plain",)).get_content()).group(0)
    assert f'<a href="{link}">' in html
