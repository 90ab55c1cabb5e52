"""What the shop's e-mails say: an outbox row's kind and its order or account, rendered in the
customer's language (text and HTML). Used by the mail sender outside any request, so it opens its
own app context. The links of account mails (activation, new password) are signed here, when the
mail is written: the outbox row names only the account, so no link is ever stored."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask, render_template
from flask_babel import force_locale, gettext

from shop.adapters.mail import Attachment, Mail
from shop.adapters.postgres import PostgresDatabase
from shop.adapters.postgres.mail_outbox import OutboxMail
from shop.config import Settings
from shop.domain.notifications import OrderForMail, RefundForMail
from shop.domain.order_effects import MailKind
from shop.services import accounts
from shop.services.notifications import Composer, MailNotNeeded
from shop.web.invoices import credit_note_file_name, credit_note_pdf, invoice_file_name, invoice_pdf
from shop.web.links import activation_tokens, public_url_for, reset_tokens

ORDER_MAIL_KINDS = frozenset(kind for kind in MailKind if kind.startswith("order."))
ACCOUNT_MAIL_KINDS = frozenset(kind for kind in MailKind if kind.startswith("account."))


def _subject(kind: str, order_id: int) -> str:
    return {
        MailKind.ORDER_PLACED: gettext("We have your order %(order)d", order=order_id),
        MailKind.ORDER_PAID: gettext("Order %(order)d is paid", order=order_id),
        MailKind.ORDER_SHIPPED: gettext("Order %(order)d is on its way", order=order_id),
        MailKind.ORDER_CANCELLED: gettext("Order %(order)d was cancelled", order=order_id),
        MailKind.ORDER_EXPIRED: gettext("Order %(order)d expired without payment", order=order_id),
        MailKind.ORDER_REFUNDED: gettext("We have refunded part or all of order %(order)d", order=order_id),
    }[MailKind(kind)]


def mail_composer(app: Flask, db: PostgresDatabase) -> Composer:
    """compose(rows) → for each outbox row, its Mail or why it could not be written. A batch's
    orders are read in one transaction and its mails rendered in one app context."""
    settings: Settings = app.config["SHOP_SETTINGS"]
    base_url = settings.base_url

    def compose(rows: Sequence[OutboxMail]) -> Iterator[Mail | Exception]:
        orders = db.outbox.orders_for_mail([row.order_id for row in rows
                                            if row.kind in ORDER_MAIL_KINDS and row.order_id is not None])
        refunds = db.outbox.refunds_for_mail([row.refund_id for row in rows if row.refund_id is not None])
        with app.test_request_context(base_url=base_url):
            for row in rows:
                try:
                    with force_locale(row.language):
                        yield (_order_mail(row, orders, refunds) if row.kind in ORDER_MAIL_KINDS
                               else _account_mail(row))
                except Exception as error:  # one bad row must not stop the batch  # noqa: BLE001
                    yield error

    def _order_mail(row: OutboxMail, orders: dict[int, OrderForMail], refunds: dict[int, RefundForMail]) -> Mail:
        if row.kind not in ORDER_MAIL_KINDS or row.order_id is None:
            raise ValueError(f"no template for mail kind {row.kind!r}")
        order = orders.get(row.order_id)
        if order is None:
            raise ValueError(f"order {row.order_id} of mail {row.mail_id} does not exist")
        context: dict[str, Any] = {"kind": row.kind, "order": order, "customer_name": order.full_name,
                                   "subject": _subject(row.kind, row.order_id),
                                   "refund": refunds.get(row.refund_id) if row.refund_id else None}
        # What happened, as plain text (it holds what staff typed, such as the carrier): the HTML
        # mail shows it through an escaping {{ }}, never by including a text template into HTML.
        context["news"] = render_template("mail/_order_news.txt", **context).strip()
        return Mail(row.to_address, context["subject"], render_template("mail/order.txt", **context),
                    render_template("mail/order.html", **context), message_id=f"shop-mail-{row.mail_id}",
                    attachments=_invoice_of(row))

    def _invoice_of(row: OutboxMail) -> tuple[Attachment, ...]:
        """The "paid" mail carries the invoice as a PDF, a "refunded" mail its refund's credit note
        (the same bytes as their downloads)."""
        if row.kind not in (MailKind.ORDER_PAID, MailKind.ORDER_REFUNDED) or row.order_id is None:
            return ()
        order = db.orders.get(row.order_id)
        if order is None or order.invoice is None:
            return ()
        if row.kind == MailKind.ORDER_PAID:
            return (Attachment(invoice_file_name(order), "application/pdf", invoice_pdf(order, settings)),)
        note = next((note for note in order.credit_notes if note.refund_id == row.refund_id), None)
        if note is None:
            return ()
        refund = next((r for r in db.refunds.of_order(order.order_id) if r.refund_id == row.refund_id), None)
        return (Attachment(credit_note_file_name(note), "application/pdf",
                           credit_note_pdf(order, note, refund, settings)),)

    def _account_mail(row: OutboxMail) -> Mail:
        if row.kind not in ACCOUNT_MAIL_KINDS:
            raise ValueError(f"no template for mail kind {row.kind!r}")
        user = db.users.get(row.user_id) if row.user_id else None
        if user is None:
            raise MailNotNeeded(f"the account of mail {row.mail_id} does not exist any more")
        message_id = f"shop-mail-{row.mail_id}"
        if row.kind == MailKind.ACCOUNT_WELCOME:
            subject = gettext("Welcome to the shop, %(name)s", name=user.full_name)
            context = {"subject": subject, "customer_name": user.full_name}
            return Mail(row.to_address, subject, render_template("mail/welcome.txt", **context),
                        render_template("mail/welcome.html", **context), message_id=message_id)
        if row.kind == MailKind.ACCOUNT_ACTIVATION:
            claims = accounts.activation_claims(db, user.user_id)
            if claims is None:
                raise MailNotNeeded("the account is already active")
            return _text_mail(row, gettext("Activate your account"), "mail/activate.txt", user=user,
                              link=public_url_for("auth.activate", token=activation_tokens().dumps(claims)),
                              hours=settings.activation_link_hours)
        if row.kind == MailKind.PASSWORD_RESET:
            found = accounts.password_reset_claims(db, user_id=user.user_id)
            if found is None:
                raise MailNotNeeded("the account is not active")
            return _text_mail(row, gettext("Set a new password"), "mail/password_reset.txt", user=user,
                              link=public_url_for("auth.reset_password", token=reset_tokens().dumps(found[1])),
                              minutes=settings.password_reset_link_minutes)
        return _text_mail(row, gettext("You already have an account"), "mail/account_exists.txt", user=user)

    def _text_mail(row: OutboxMail, subject: str, template: str, **context: Any) -> Mail:
        """A mail written as text, its HTML made of the same paragraphs."""
        text = render_template(template, **context)
        paragraphs = [" ".join(block.split()) for block in text.split("\n\n") if block.strip()]
        html = render_template("mail/_text_as_html.html", subject=subject, paragraphs=paragraphs)
        return Mail(row.to_address, subject, text, html, message_id=f"shop-mail-{row.mail_id}")

    return compose
