"""Register, log in, log out on the real database; CSRF, rate limit, generic failures."""

import dataclasses
import re

import pytest

from shop.domain.accounts import Role
from shop.web.extensions import close_stores
from shop.web.factory import create_app
from tests.conftest import csrf_token_from
from tests.integration.conftest import PASSWORD, deliver_mails


def register(client, **fields):
    """Send the registration form; its mail is then delivered, as the shop's mail sender would
    before anything else happens."""
    token = csrf_token_from(client.get("/auth/register").get_data(as_text=True))
    data = {"full_name": "Lucía Pérez", "email": "lucia@example.com", "password": PASSWORD,
            "confirm": PASSWORD, "csrf_token": token, **fields}
    response = client.post("/auth/register", data=data)
    deliver_mails(client.application)
    return response


def outbox(app) -> list:
    """Every mail the shop has sent (no SMTP_HOST: .eml files), once the outbox's due mails are delivered."""
    from email import message_from_bytes
    from email.policy import default

    deliver_mails(app)
    directory = app.config["SHOP_SETTINGS"].data_dir / "outbox"
    return [message_from_bytes(p.read_bytes(), policy=default) for p in sorted(directory.glob("*.eml"))]


def activation_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://localhost(?::\d+)?(/auth/activate/\S+)", text).group(1)


def test_registering_makes_a_customer_who_logs_in_by_following_the_emailed_link(app, client, db):
    response = register(client, role="admin", user_id="1")  # forged fields are ignored
    assert response.status_code == 200
    assert "Hemos enviado un mensaje a lucia@example.com" in response.get_data(as_text=True)
    user, password_hash = db.users.credentials("lucia@example.com")
    assert user.role is Role.CUSTOMER and not user.email_verified
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash
    assert client.get("/orders/").status_code == 302  # not logged in yet
    (message,) = outbox(app)
    assert message["To"] == "lucia@example.com" and message["Subject"] == "Activa tu cuenta"
    response = client.get(activation_link(message))
    assert response.status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "Lucía Pérez" in html and "Cliente" in html


def test_logging_in_before_activation_says_what_to_do(app, client, auth, db):
    register(client)
    response = auth.login("lucia@example.com")
    assert response.status_code == 401
    assert "Activa tu cuenta primero" in response.get_data(as_text=True)
    assert auth.login("lucia@example.com", "a wrong password!").status_code == 401


def test_registering_an_existing_address_answers_exactly_like_a_new_one(app, client, db, make_user):
    owner = make_user(email="lucia@example.com", name="Lucía Original")
    new = register(client, email="nueva@example.com")
    existing = register(client, email="LUCIA@example.com", full_name="Intrusa", password="another password",
                        confirm="another password")
    assert existing.status_code == new.status_code == 200
    def page(response, email):  # the page with the address and the (time-stamped) CSRF tokens blanked
        return re.sub(r'"[\w-]+\.[\w-]+\.[\w-]+"', '"TOKEN"', response.get_data(as_text=True).replace(email, "X"))

    assert page(existing, "lucia@example.com") == page(new, "nueva@example.com")
    user, _ = db.users.credentials("lucia@example.com")
    assert user == owner  # the existing account is untouched
    assert db.users.count() == 2
    by_address = {m["To"]: m for m in outbox(app)}
    assert "/auth/activate/" not in by_address["lucia@example.com"].get_body(("plain",)).get_content()
    assert "ya tiene una" in by_address["lucia@example.com"].get_body(("plain",)).get_content()
    assert client.get("/auth/login").status_code == 200


def test_registering_again_before_activating_sends_a_new_link(app, client, db):
    register(client)
    register(client)
    assert db.users.count() == 1
    links = [activation_link(m) for m in outbox(app)]
    assert len(links) == 2 and all(client.get(link).status_code == 302 for link in links[-1:])


def test_a_forged_or_expired_activation_link_is_a_clear_400(app, client, db):
    register(client)
    link = activation_link(outbox(app)[0])
    assert client.get(link[:-3] + "abc").status_code == 400
    app.config["SHOP_SETTINGS"] = dataclasses.replace(app.config["SHOP_SETTINGS"], activation_link_hours=-1)  # as if
    # the link were older than its lifetime
    response = client.get(link)
    assert response.status_code == 400 and "ya no es válido" in response.get_data(as_text=True)
    assert not db.users.credentials("lucia@example.com")[0].email_verified


def test_registrations_are_rate_limited_per_address(settings, db, store):
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": True},
                     settings=dataclasses.replace(settings, register_rate_limit="2 per hour"))
    try:
        client = app.test_client()
        statuses = [register(client, email=f"u{i}@example.com").status_code for i in range(3)]
        assert statuses == [200, 200, 429]
        assert db.users.count() == 2
    finally:
        close_stores(app)


@pytest.mark.parametrize("fields, message", [
    ({"email": "not-an-email"}, "Introduce una dirección de correo válida"),
    ({"password": "short", "confirm": "short"}, "entre 10 y 256 caracteres"),
    ({"confirm": "something else entirely"}, "Las contraseñas no coinciden"),
    ({"full_name": ""}, ""),
    ({"full_name": "x" * 121}, ""),
    ({"email": "a" * 300 + "@x.es"}, ""),
])
def test_invalid_registrations_are_refused_and_nothing_is_written(client, db, fields, message):
    response = register(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.users.count() == 0


def test_login_and_logout(client, auth, make_user):
    make_user(email="ana@example.com", name="Ana")
    response = auth.login("ANA@example.com")
    assert response.status_code == 302
    assert "Ana" in client.get("/").get_data(as_text=True)
    assert client.get("/orders/").status_code == 200
    auth.logout()
    assert client.get("/orders/").status_code == 302  # back to the login page


def test_the_session_cookie_is_httponly_and_samesite(client, auth, make_user):
    make_user(email="ana@example.com")
    response = auth.login("ana@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("email, password", [
    ("ana@example.com", "wrong password!"),
    ("nobody@example.com", PASSWORD),
    ("not an email", PASSWORD),
])
def test_a_failed_login_says_the_same_thing_whatever_was_wrong(auth, make_user, email, password):
    make_user(email="ana@example.com")
    response = auth.login(email, password)
    assert response.status_code in (400, 401)
    body = response.get_data(as_text=True)
    if response.status_code == 401:
        assert "Correo o contraseña incorrectos." in body


def test_a_deactivated_user_cannot_log_in_and_is_logged_out(client, auth, db, make_user):
    user = make_user(email="ana@example.com")
    auth.login("ana@example.com")
    with db.transaction() as cur:
        cur.execute("UPDATE users SET is_active = FALSE WHERE user_id = %s", (user.user_id,))
    assert client.get("/orders/").status_code == 302
    assert auth.login("ana@example.com").status_code == 401


def test_a_wrong_csrf_token_is_refused_with_a_clear_message(client, db):
    response = client.post("/auth/register", data={
        "full_name": "X", "email": "x@example.com", "password": PASSWORD, "confirm": PASSWORD,
        "csrf_token": "forged"})
    assert response.status_code == 400
    assert "El formulario ha caducado o no procede de esta tienda" in response.get_data(as_text=True)
    assert db.users.count() == 0


def test_logout_needs_a_post_with_csrf(client, auth, make_user):
    make_user(email="ana@example.com")
    auth.login("ana@example.com")
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout", data={}).status_code == 400
    assert client.get("/orders/").status_code == 200  # still logged in


def test_login_redirects_only_to_paths_on_this_site(client, make_user):
    make_user(email="ana@example.com")
    for target, expected in (("/orders/", "/orders/"), ("https://evil.example/", "/"), ("//evil.example", "/")):
        token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
        response = client.post(f"/auth/login?next={target}",
                               data={"email": "ana@example.com", "password": PASSWORD, "csrf_token": token})
        assert response.headers["Location"] == expected
        client.post("/auth/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(as_text=True))})


def test_login_attempts_are_rate_limited(settings, db, store, make_user):
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": True},
                     settings=dataclasses.replace(settings, login_rate_limit="3 per minute"))
    try:
        client = app.test_client()
        make_user(email="ana@example.com")
        statuses = []
        for _ in range(4):
            token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
            statuses.append(client.post("/auth/login", data={
                "email": "ana@example.com", "password": "wrong password!", "csrf_token": token}).status_code)
        assert statuses == [401, 401, 401, 429]
        token = csrf_token_from(client.get("/auth/login").get_data(as_text=True))
        response = client.post("/auth/login", data={"email": "ana@example.com", "password": PASSWORD,
                                                     "csrf_token": token})
        assert response.status_code == 429  # even the right password waits
        assert "Demasiados intentos" in response.get_data(as_text=True)
    finally:
        close_stores(app)


def test_passwords_are_not_stored_or_logged(client, db, caplog):
    register(client)
    with db.transaction() as cur:
        cur.execute("SELECT * FROM users")
        assert PASSWORD not in str(cur.fetchall())
    assert PASSWORD not in caplog.text


def test_a_field_with_an_error_says_so_to_screen_readers_and_points_at_its_message(client, db):
    page = register(client, email="not-an-email").get_data(as_text=True)
    field = re.search(r'<input[^>]*id="email"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="email-error"' in field
    assert re.search(r'id="email-error"[^>]*>\s*<div>Introduce una dirección de correo válida', page)
    name = re.search(r'<input[^>]*id="full_name"[^>]*>', page).group(0)
    assert "aria-invalid" not in name  # only the fields that are wrong
