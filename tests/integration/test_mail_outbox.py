"""Order e-mails through the outbox, on the real PostgreSQL and a real SMTP server on loopback
(aiosmtpd): written with the change they announce, delivered once, in the customer's language, by
any number of senders, and neither lost nor repeated when a sender is killed."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from shop.adapters.mail import Mail, SmtpMailer
from shop.domain.accounts import Role
from shop.domain.errors import Conflict
from shop.domain.order_effects import Reason
from shop.domain.orders import OrderStatus
from shop.embedded import free_port
from shop.services import checkout, notifications, orders
from shop.services.checkout import CheckoutRequest
from tests.payments import pay, simulated_provider

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """An SMTP server's handler: keeps every message it accepts; can refuse or stall on demand."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse_rcpt: list[str] = []  # answers to give to the next RCPTs (e.g. "451 busy")
        # ("rcpt" or "data", n): that step of the message after the n-th accepted one waits until
        # `release` is set (then a stalled DATA is refused: the sender was killed meanwhile)
        self.stall_at: tuple[str, int] | None = None
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.peers: list[tuple] = []  # the client end of each accepted message's connection
        # (n, "421" or "close"): at the MAIL after the n-th accepted message, the server ends that
        # connection, with a 421 answer or by closing the socket (servers do, between messages)
        self.hang_up: list[tuple[int, str]] = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.hang_up and self.hang_up[0][0] == len(self.messages):
            _, how = self.hang_up.pop(0)
            if how == "421":
                return "421 4.7.0 too many messages on this connection"
            server.transport.close()
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt.pop(0)
        if self.stall_at == ("rcpt", len(self.messages)):
            self.stall_at = None
            self.stalled.set()
            await _wait(self.release)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.stall_at == ("data", len(self.messages)):
            self.stall_at = None
            self.stalled.set()
            await _wait(self.release)
            return "451 the sender went away"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.peers.append(session.peer)
        return "250 Message accepted"

    def ids(self) -> list[str]:
        return [message["Message-ID"] for message in self.messages]


async def _wait(event: threading.Event) -> None:
    import asyncio

    while not event.is_set():
        await asyncio.sleep(0.01)


@pytest.fixture
def smtp():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield recorder, controller.port
    recorder.release.set()
    controller.stop()


def mailer(port: int) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", port, "Tienda <tienda@example.com>", starttls=False, timeout=5)


@notifications.one_at_a_time
def plain(row) -> Mail:
    """A composer without templates (the templates have their own test)."""
    return Mail(row.to_address, f"{row.kind} {row.order_id}", f"order {row.order_id}",
                message_id=f"shop-mail-{row.mail_id}")


def place(db, store, user, product, quantity=1) -> int:
    return checkout.place_order(db, store,
                                CheckoutRequest(user.user_id, [(str(product["_id"]), quantity)],
                                                str(uuid.uuid4()))).order_id


def outbox(db) -> list[dict]:
    with db.transaction() as cur:
        cur.execute("SELECT mail_id, kind, order_id, status, to_address, language FROM mail_outbox ORDER BY mail_id")
        return list(cur.fetchall())


def test_each_order_change_a_customer_hears_about_writes_one_mail_in_its_transaction(db, store, make_product,
                                                                                    make_user):

    product = make_product(stock=10)
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    first = place(db, store, customer, product)
    pay(db, customer, first)
    orders.mark_shipped(db, admin, first)
    second = place(db, store, customer, product)
    orders.cancel_order(db, store, customer, second)
    with pytest.raises(Conflict):
        orders.cancel_order(db, store, customer, first)  # shipped: refused, nothing written
    with pytest.raises(RuntimeError), db.orders.locked(second) as locked:  # a change that rolls back
        locked.set_status(OrderStatus.PAID, None, "never committed", Reason.PAYMENT)
        raise RuntimeError("rolled back")
    assert [(row["kind"], row["order_id"]) for row in outbox(db)] == [
        ("order.placed", first), ("order.paid", first), ("order.shipped", first),
        ("order.placed", second), ("order.cancelled", second)]
    assert {row["to_address"] for row in outbox(db)} == {customer.email}


def test_an_unpaid_order_that_expires_gets_its_own_mail(db, store, make_product, make_user):
    product = make_product(stock=3)
    order_id = place(db, store, make_user(), product)
    with db.transaction() as cur:
        cur.execute("UPDATE orders SET expires_at = now() - interval '1 minute' WHERE order_id = %s", (order_id,))
    assert orders.expire_order(db, store, order_id)
    assert [row["kind"] for row in outbox(db)] == ["order.placed", "order.expired"]


def test_the_sender_delivers_each_mail_once_in_the_customers_language_as_text_and_html(app, db, store, smtp,
                                                                                      make_product, make_user):
    from shop.web.mail_compose import mail_composer

    recorder, port = smtp
    product = make_product(name="Cafetera Italiana", stock=5, price="24.50")
    spanish, english = make_user(name="Lucía"), make_user(name="Oliver")
    db.users.set_language(english.user_id, "en")
    first, second = place(db, store, spanish, product, 2), place(db, store, english, product)

    report = notifications.deliver_outbox(db, mailer(port), mail_composer(app, db))
    assert (report.sent, report.retried) == (2, 0)
    assert notifications.deliver_outbox(db, mailer(port), mail_composer(app, db)).sent == 0  # once
    by_to = {message["To"]: message for message in recorder.messages}
    es, en = by_to[spanish.email], by_to[english.email]
    assert es["Subject"] == f"Hemos recibido tu pedido {first}"
    assert en["Subject"] == f"We have your order {second}"
    text, html = es.get_body(("plain",)).get_content(), es.get_body(("html",)).get_content()
    assert "Hola, Lucía" in text and "Cafetera Italiana × 2" in text and "49,00" in text
    assert f"http://localhost:5000/orders/{first}" in text
    assert "<table" in html and "Cafetera Italiana" in html
    assert "Thank you for your order" in en.get_body(("plain",)).get_content()
    assert f"http://localhost:5000/en/orders/{second}" in en.get_body(("plain",)).get_content()  # an English page
    assert sorted(recorder.ids()) == sorted(f"<shop-mail-{row['mail_id']}@example.com>" for row in outbox(db))
    assert {row["status"] for row in outbox(db)} == {"sent"}


def test_a_refused_mail_is_tried_again_later_and_a_permanent_refusal_fails(db, store, smtp, make_product,
                                                                          make_user):
    recorder, port = smtp
    product = make_product(stock=5)
    place(db, store, make_user(), product)
    recorder.refuse_rcpt = ["451 4.3.0 try again later"]
    report = notifications.deliver_outbox(db, mailer(port), plain)
    assert (report.sent, report.retried) == (0, 1) and recorder.messages == []
    [row] = outbox(db)
    assert row["status"] == "pending"
    assert notifications.deliver_outbox(db, mailer(port), plain).sent == 0  # not due yet: it waits
    with db.transaction() as cur:
        cur.execute("UPDATE mail_outbox SET next_attempt_at = now()")
    assert notifications.deliver_outbox(db, mailer(port), plain).sent == 1

    place(db, store, make_user(), product)
    recorder.refuse_rcpt = ["550 5.1.1 no such mailbox"]
    assert notifications.deliver_outbox(db, mailer(port), plain).failed == 1
    assert outbox(db)[-1]["status"] == "failed"


def test_a_mail_that_cannot_be_written_waits_and_the_rest_of_its_batch_goes(app, db, store, smtp, make_product,
                                                                            make_user):
    from shop.web.mail_compose import mail_composer

    recorder, port = smtp
    product = make_product(stock=5)
    first, broken, last = (place(db, store, make_user(), product) for _ in range(3))
    with db.transaction() as cur:  # a row no template can write (a kind from a newer version, say)
        cur.execute("UPDATE mail_outbox SET kind = 'order.unknown' WHERE order_id = %s", (broken,))
    report = notifications.deliver_outbox(db, mailer(port), mail_composer(app, db))
    assert (report.sent, report.retried) == (2, 1)
    assert sorted(m["Subject"] for m in recorder.messages) == sorted(
        f"Hemos recibido tu pedido {order}" for order in (first, last))
    [waiting] = [row for row in outbox(db) if row["order_id"] == broken]
    assert waiting["status"] == "pending"
    with db.transaction() as cur:
        cur.execute("SELECT last_error FROM mail_outbox WHERE order_id = %s", (broken,))
        assert cur.fetchone()["last_error"].startswith("compose: no template for mail kind 'order.unknown'")


def test_an_unreachable_server_leaves_every_mail_waiting(db, store, make_product, make_user):
    place(db, store, make_user(), make_product(stock=5))
    report = notifications.deliver_outbox(db, mailer(free_port()), plain)  # nothing listens there
    assert (report.sent, report.retried) == (0, 1)
    assert outbox(db)[0]["status"] == "pending"


def test_a_run_sends_over_one_connection_and_reconnects_when_the_server_hangs_up(db, store, smtp, make_product,
                                                                                make_user):
    recorder, port = smtp
    product, customer = make_product(stock=100), make_user()
    for _ in range(3):
        place(db, store, customer, product)
    assert notifications.deliver_outbox(db, mailer(port), plain).sent == 3
    assert len(set(recorder.peers)) == 1  # one connection (one handshake, one login) for the run

    for _ in range(6):
        place(db, store, customer, product)
    recorder.hang_up = [(5, "421"), (7, "close")]
    report = notifications.deliver_outbox(db, mailer(port), plain)
    assert (report.sent, report.retried) == (6, 0)  # nothing waits for a later run
    assert len(set(recorder.peers)) == 4  # the first run's, this run's, and one after each hang-up
    assert len(recorder.ids()) == 9 and len(set(recorder.ids())) == 9
    assert {row["status"] for row in outbox(db)} == {"sent"}


def test_senders_running_at_once_send_each_mail_exactly_once(db, store, smtp, make_product, make_user):
    recorder, port = smtp
    product = make_product(stock=100)
    customers = [make_user() for _ in range(5)]
    for i in range(30):
        place(db, store, customers[i % 5], product)
    errors = []

    def send():
        try:
            notifications.deliver_outbox(db, mailer(port), plain)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(recorder.ids()) == 30 and len(set(recorder.ids())) == 30
    assert {row["status"] for row in outbox(db)} == {"sent"}


SENDER = """
import sys
from shop.adapters.mail import Mail, SmtpMailer
from shop.adapters.postgres import PostgresDatabase
from shop.services.notifications import deliver_outbox, one_at_a_time
db = PostgresDatabase(sys.argv[1], max_connections=1)
mailer = SmtpMailer("127.0.0.1", int(sys.argv[2]), "Tienda <tienda@example.com>", starttls=False, timeout=30)
deliver_outbox(db, mailer, one_at_a_time(lambda row: Mail(row.to_address, row.kind, "x",
                                                          message_id=f"shop-mail-{row.mail_id}")))
"""


def _killed_sender(db, port: int, recorder: Recorder) -> None:
    """Run a sender in its own process and SIGKILL it once the server has stalled it."""
    process = subprocess.Popen([sys.executable, "-c", SENDER, db.url, str(port)], cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert recorder.stalled.wait(30), "the sender never reached the stalled step"
        time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)


def test_a_sender_killed_mid_batch_loses_nothing_and_sends_nothing_twice(db, store, smtp, make_product,
                                                                        make_user):
    recorder, port = smtp
    product = make_product(stock=100)
    customer = make_user()
    for _ in range(8):
        place(db, store, customer, product)
    recorder.stall_at = ("rcpt", 3)  # the fourth mail: killed before its text was handed over
    _killed_sender(db, port, recorder)
    statuses = [row["status"] for row in outbox(db)]
    # the killed sender had claimed the whole batch; none of the unsent rows had been handed over
    assert statuses == ["sent"] * 3 + ["sending"] * 5
    recorder.release.set()
    report = notifications.deliver_outbox(db, mailer(port), plain, abandoned_after=0)  # the dead sender's row
    assert report.sent == 5
    assert len(recorder.ids()) == 8 and len(set(recorder.ids())) == 8  # every mail, each once
    assert {row["status"] for row in outbox(db)} == {"sent"}


def test_a_sender_killed_while_handing_a_mail_over_never_sends_it_again(db, store, smtp, make_product, make_user):
    recorder, port = smtp
    product = make_product(stock=100)
    customer = make_user()
    for _ in range(3):
        place(db, store, customer, product)
    recorder.stall_at = ("data", 1)  # the second mail: killed while the server holds its text
    _killed_sender(db, port, recorder)
    recorder.release.set()
    report = notifications.deliver_outbox(db, mailer(port), plain, abandoned_after=0)
    assert (report.sent, report.uncertain) == (1, 1)
    assert [row["status"] for row in outbox(db)] == ["sent", "uncertain", "sent"]
    assert len(set(recorder.ids())) == len(recorder.ids())  # nothing twice (at most once per row)


def test_a_customer_who_chooses_english_gets_english_mails(client, auth, db, make_user):
    from tests.conftest import csrf_token_from

    customer = make_user(email="oliver@example.com")
    auth.login("oliver@example.com")
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post("/auth/language/en", data={"csrf_token": token, "next": "/"}).status_code in (302, 303)
    with db.transaction() as cur:
        cur.execute("SELECT language FROM users WHERE user_id = %s", (customer.user_id,))
        assert cur.fetchone()["language"] == "en"


def test_the_shipped_mail_names_the_carrier_and_the_tracking_number_and_links_its_page(app, db, store, smtp,
                                                                                       make_product, make_user):
    from shop.web.mail_compose import mail_composer

    recorder, port = smtp
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    order_id = place(db, store, customer, make_product(stock=5))
    orders.mark_paid(db, admin, order_id)
    orders.mark_shipped(db, admin, order_id, ("SEUR", "SE123456789"))
    assert notifications.deliver_outbox(db, mailer(port), mail_composer(app, db)).sent == 3
    shipped = [m for m in recorder.messages if m["Subject"].startswith("El pedido") and "camino" in m["Subject"]]
    text = shipped[0].get_body(("plain",)).get_content()
    assert "Transportista: SEUR. Número de seguimiento: SE123456789." in text
    assert "https://www.seur.com/livetracking/?segOnlineIdentificador=SE123456789" in text
    assert 'href="https://www.seur.com/livetracking/?segOnlineIdentificador=SE123456789"' in (
        shipped[0].get_body(("html",)).get_content())


def test_an_activated_account_gets_one_welcome_mail(app, db, smtp):
    from shop.services import accounts
    from shop.web.mail_compose import mail_composer

    recorder, port = smtp
    registration = accounts.register_customer(db, "nueva@example.com", "Nuria Nueva", "una clave muy larga")
    assert outbox(db) == []  # nothing before the address is proven
    assert accounts.activate(db, registration.activation) is not None
    assert accounts.activate(db, registration.activation) is None  # a link works once
    assert [row["kind"] for row in outbox(db)] == ["account.welcome"]
    assert notifications.deliver_outbox(db, mailer(port), mail_composer(app, db)).sent == 1
    [welcome] = recorder.messages
    assert welcome["Subject"] == "Te damos la bienvenida a la tienda, Nuria Nueva"
    assert "Tu cuenta está lista" in welcome.get_body(("plain",)).get_content()


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_mail_goes_over_starttls_or_implicit_tls_to_a_server_the_shop_trusts(db, store, tmp_path, make_product,
                                                                            make_user, mode):
    import ssl

    from tests.integration.test_backup_remote import _self_signed_certificate

    cert, key = _self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = Recorder()
    options = {"ssl_context": context} if mode == "tls" else {"tls_context": context, "require_starttls": True}
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        place(db, store, make_user(), make_product(stock=5))
        secure = SmtpMailer("127.0.0.1", controller.port, "Tienda <tienda@example.com>", starttls=mode == "starttls",
                            tls=mode == "tls", ca_file=str(cert), timeout=5)
        assert notifications.deliver_outbox(db, secure, plain).sent == 1
        untrusted = SmtpMailer("127.0.0.1", controller.port, "Tienda <tienda@example.com>",
                               starttls=mode == "starttls", tls=mode == "tls", timeout=5)
        place(db, store, make_user(), make_product(name="Otro", stock=5))
        assert notifications.deliver_outbox(db, untrusted, plain).retried == 1  # an unknown certificate: not sent
    finally:
        controller.stop()
    assert len(recorder.messages) == 1


XSS = '<img src=x onerror="alert(1)">'


def test_every_value_typed_into_a_field_that_reaches_an_html_mail_is_escaped(app, db, store, smtp, make_product,
                                                                             make_user):
    from shop.web.mail_compose import mail_composer

    recorder, port = smtp
    customer = make_user(name=f"Ana {XSS}")
    admin = make_user(role=Role.ADMIN)
    order_id = place(db, store, customer, make_product(name=f"Taza {XSS}", stock=5))
    orders.mark_paid(db, admin, order_id)
    orders.mark_shipped(db, admin, order_id, (f"SEUR {XSS}", f"SE1{XSS}"[:40]))
    assert notifications.deliver_outbox(db, mailer(port), mail_composer(app, db)).sent == 3
    for message in recorder.messages:
        html = message.get_body(("html",)).get_content()
        assert "<img" not in html and "&lt;img" in html, message["Subject"]


def test_a_refund_of_an_order_paid_outside_the_shop_does_not_mention_a_card(app, db, store, smtp, make_product,
                                                                            make_user):
    from shop.services.refunds import RefundRequest, refund_order
    from shop.web.mail_compose import mail_composer

    recorder, port = smtp
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    order_id = place(db, store, customer, make_product(stock=5))
    orders.mark_paid(db, admin, order_id)
    refund_order(db, store, simulated_provider(), admin, order_id, RefundRequest({}, "devuelto", False),
                 str(uuid.uuid4()), full=True)
    notifications.deliver_outbox(db, mailer(port), mail_composer(app, db))
    [refunded] = [m for m in recorder.messages if "reembolsado" in m["Subject"]]
    text = refunded.get_body(("plain",)).get_content()
    assert "tarjeta" not in text and "por el mismo medio" in text


def test_each_refund_mail_says_its_own_amount_and_the_total_so_far_however_late_it_is_written(
        app, db, store, smtp, make_product, make_user):
    from shop.domain.refunds import RefundRequest
    from shop.services import refunds
    from shop.web.mail_compose import mail_composer

    recorder, port = smtp
    product = make_product(name="Taza", stock=5, price="10.00")
    customer, admin = make_user(name="Lucía"), make_user(role=Role.ADMIN)
    order_id = place(db, store, customer, product, 3)
    pay(db, customer, order_id)
    [item] = db.orders.items(order_id)
    for _ in range(2):  # two refunds of one unit each, both mails written after the second
        refunds.refund_order(db, store, simulated_provider(), admin, order_id,
                             RefundRequest({item.order_item_id: 1}, "roto", False), str(uuid.uuid4()), full=False)
    notifications.deliver_outbox(db, mailer(port), mail_composer(app, db))
    texts = [m.get_body(("plain",)).get_content() for m in recorder.messages if "reembolsado" in m["Subject"]]
    assert len(texts) == 2
    texts = [text.replace("\xa0", " ") for text in texts]
    assert "Te hemos reembolsado 10,00 €" in texts[0] and "en total" not in texts[0]
    assert "Te hemos reembolsado 10,00 €" in texts[1] and "se han reembolsado 20,00 € del pedido en total" in texts[1]
