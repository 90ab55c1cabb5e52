"""The message the shop hands to a mail server: 7-bit, and read back as written by any mail reader."""

import email
import email.policy

from shop.adapters.mail import Mail, _message


def read_back(mail: Mail, sender: str) -> email.message.EmailMessage:
    raw = _message(mail, sender).as_bytes()
    assert raw.isascii()  # no 8BITMIME needed: headers RFC 2047, bodies quoted-printable
    assert max(len(line) for line in raw.splitlines()) <= 78
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_accented_subject_sender_and_body_survive_the_trip():
    body = "Hola, Lucía:\n\nTu pedido de 3 × «Cafetera Italiana» está en camino. " * 4 + "\nTotal: 49,00 €\n"
    mail = Mail("lucia@example.com", "Tu pedido 12 está en camino — ¡gracias, Lucía!", body,
                "<p>Año nuevo, señal €</p>", message_id="shop-mail-7")
    message = read_back(mail, "Tienda Española <tienda@example.es>")
    assert message["Subject"] == "Tu pedido 12 está en camino — ¡gracias, Lucía!"
    assert message["From"].addresses[0].display_name == "Tienda Española"
    assert message["From"].addresses[0].addr_spec == "tienda@example.es"
    assert message["To"] == "lucia@example.com"
    assert message["Message-ID"] == "<shop-mail-7@example.es>"
    assert message.get_body(("plain",)).get_content() == body
    assert message.get_body(("html",)).get_content().strip() == "<p>Año nuevo, señal €</p>"


def test_a_mail_without_html_is_plain_text_alone():
    message = read_back(Mail("a@example.com", "Activate your account", "Open the link.\n"), "a@b.example")
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Open the link.\n"
    assert message["Message-ID"].endswith("@b.example>")


def test_mails_written_to_the_outbox_in_one_second_sort_by_name_in_the_order_they_were_written(tmp_path):
    from shop.adapters.mail import OutboxMailer

    outbox = OutboxMailer(tmp_path, "tienda@example.es")
    subjects = [f"mail {n:03d}" for n in range(200)]
    for subject in subjects:
        outbox.send(Mail("lucia@example.com", subject, "texto"))
    written = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"]
               for p in sorted(tmp_path.glob("*.eml"))]
    assert written == subjects
