"""Sending e-mail: SMTP when SMTP_HOST is set, else a directory of .eml files (development and
tests; a person opens them, a test reads them). The message text is made by the caller.

`send` calls `before_data` (when given) once the server has accepted the sender and the recipient
and before the message itself is handed over: the mail outbox commits "handing over" there, so a
sender that dies earlier is known to have delivered nothing (docs/mail.md). `session()` gives a
connection for many messages (the outbox sender's run): one handshake and login, not one per mail."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The message could not be handed to the mail server.

    `permanent`: the server refused it for good (a 5xx answer). `maybe_delivered`: the connection
    failed while the message itself was being handed over, so the server may have it."""

    def __init__(self, message: str, *, permanent: bool = False, maybe_delivered: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.maybe_delivered = maybe_delivered


class NotHandedOver(MailError):
    """`before_data` said no (the outbox row is no longer this sender's): nothing was sent."""


@dataclass(frozen=True)
class Attachment:
    filename: str  # ASCII: what the receiver saves it as
    content_type: str  # "application/pdf"
    data: bytes


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    html: str | None = None
    message_id: str | None = None  # stable per outbox row: a receiver can recognise a repeat
    attachments: tuple[Attachment, ...] = ()


class Mailer(Protocol):
    def send(self, mail: Mail, before_data: Callable[[], bool] | None = None) -> None:
        """One message on its own connection."""

    def session(self) -> AbstractContextManager[MailSession]:
        """A connection for several messages (a sender's batch): one handshake, one login."""


class MailSession(Protocol):
    def send(self, mail: Mail, before_data: Callable[[], bool] | None = None) -> None: ...


# Quoted-printable bodies: 7-bit lines any server takes, without asking for 8BITMIME.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _message(mail: Mail, sender: str) -> Message:
    """The message (text, or text and HTML as alternatives; its attachments after them). Built with the
    email package's compat32 classes: a third of the time of EmailMessage's header registry, which a
    busy sender notices."""
    # typeshed says MIMEText takes a charset's name; the email package takes a Charset too (its docs)
    text = MIMEText(mail.body, "plain", _UTF8_QP)  # type: ignore[arg-type]
    message: Message
    if mail.html:
        message = MIMEMultipart("alternative")
        message.attach(text)
        message.attach(MIMEText(mail.html, "html", _UTF8_QP))  # type: ignore[arg-type]
    else:
        message = text
    if mail.attachments:  # the readable part first, then each file
        mixed = MIMEMultipart("mixed")
        mixed.attach(message)
        for attachment in mail.attachments:
            main, _, sub = attachment.content_type.partition("/")
            part = MIMEApplication(attachment.data, sub) if main == "application" else MIMEText(
                attachment.data.decode(), sub)
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            mixed.attach(part)
        message = mixed
    message["From"] = _address_header(sender)
    message["To"] = _address_header(mail.to)
    subject = mail.subject
    message["Subject"] = subject if subject.isascii() else Header(  # type: ignore[assignment]  # compat32 takes a Header
        subject, "utf-8", header_name="Subject")
    message["Date"] = formatdate(localtime=False)
    domain = _envelope_address(sender).rsplit("@", 1)[-1] or "localhost"
    message["Message-ID"] = f"<{mail.message_id}@{domain}>" if mail.message_id else make_msgid(domain=domain)
    return message


def _address_header(value: str) -> str:
    """`Name <address>` with a non-ASCII name encoded (RFC 2047); a bare address as it is."""
    name, address = parseaddr(value)
    if not address:
        return value
    return formataddr((name, address), charset="utf-8") if name else address


def _envelope_address(header: str) -> str:
    return parseaddr(header)[1] or header


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None  # from the environment only
    starttls: bool = True
    timeout: float = 10.0
    tls: bool = False  # implicit TLS from the first byte (SMTPS, usually port 465) instead of STARTTLS
    ca_file: str | None = None  # a private CA to trust (the system's CAs otherwise)

    def send(self, mail: Mail, before_data: Callable[[], bool] | None = None) -> None:
        with self.session() as session:
            session.send(mail, before_data)

    @contextmanager
    def session(self) -> Iterator[_SmtpSession]:
        session = _SmtpSession(self)
        try:
            yield session
        finally:
            session.close()

    def connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context(cafile=self.ca_file)
        smtp = (smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context) if self.tls
                else smtplib.SMTP(self.host, self.port, timeout=self.timeout))
        try:
            smtp.ehlo()
            if self.starttls and not self.tls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp


class _SmtpSession:
    """Messages over one SMTP connection, opened at the first message. A refusal leaves the
    connection usable (RSET); a broken connection is dropped, and the next message opens another
    (at once, if a reused connection turns out to have been closed by the server)."""

    def __init__(self, mailer: SmtpMailer):
        self._mailer = mailer
        self._smtp: smtplib.SMTP | None = None

    def send(self, mail: Mail, before_data: Callable[[], bool] | None = None) -> None:
        mailer = self._mailer
        message = _message(mail, mailer.sender).as_bytes(policy=_SMTP_POLICY)
        handing_over = False
        try:
            smtp = self._begin(_envelope_address(mailer.sender))
            code, answer = smtp.rcpt(_envelope_address(mail.to))
            if code >= 400:
                raise smtplib.SMTPResponseException(code, answer)
            if before_data is not None and not before_data():
                self._reset()
                raise NotHandedOver("the outbox row is no longer this sender's")
            handing_over = True
            code, answer = smtp.data(message)
            if code >= 400:
                raise smtplib.SMTPResponseException(code, answer)
        except smtplib.SMTPResponseException as error:  # the server answered no: it does not have it
            self._reset()
            raise MailError(f"SMTP {mailer.host}:{mailer.port}: {error.smtp_code} {error.smtp_error!r}",
                            permanent=error.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as error:
            self.close()
            raise MailError(f"SMTP {mailer.host}:{mailer.port}: {error}", maybe_delivered=handing_over) from None

    def _begin(self, envelope_sender: str) -> smtplib.SMTP:
        """MAIL FROM on the open connection, or on a new one if the server has closed the open one
        since its last message (servers drop idle or long-lived connections: 421 or a closed socket)."""
        if self._smtp is not None:
            try:
                code, answer = self._smtp.mail(envelope_sender)
                if code != 421:
                    return self._accepted(self._smtp, code, answer)
            except (OSError, smtplib.SMTPServerDisconnected):
                pass
            self.close()
        self._smtp = self._mailer.connect()
        return self._accepted(self._smtp, *self._smtp.mail(envelope_sender))

    @staticmethod
    def _accepted(smtp: smtplib.SMTP, code: int, answer: bytes) -> smtplib.SMTP:
        if code >= 400:
            raise smtplib.SMTPResponseException(code, answer)
        return smtp

    def _reset(self) -> None:
        """Back to a clean state for the next message; a connection that cannot is dropped."""
        if self._smtp is None:
            return
        try:
            code, _ = self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            code = -1
        if code >= 400 or code < 0:
            self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


_SMTP_POLICY = compat32.clone(linesep="\r\n")


@dataclass(frozen=True)
class OutboxMailer:
    directory: Path
    sender: str

    def send(self, mail: Mail, before_data: Callable[[], bool] | None = None) -> None:
        if before_data is not None and not before_data():
            raise NotHandedOver("the outbox row is no longer this sender's")
        self.directory.mkdir(parents=True, exist_ok=True)
        # named so that sorting the names sorts the mails in the order they were written
        now = time.time_ns()
        stamp = time.strftime('%Y%m%dT%H%M%S', time.gmtime(now // 1_000_000_000))
        path = self.directory / f"{stamp}.{now % 1_000_000_000:09d}-{uuid.uuid4().hex[:8]}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # links in it are secrets
        with os.fdopen(fd, "wb") as handle:
            handle.write(_message(mail, self.sender).as_bytes())
        log.info("e-mail %r written to %s (no SMTP_HOST set)", mail.subject, path)

    def session(self) -> AbstractContextManager[OutboxMailer]:
        return nullcontext(self)


def mailer_for(settings) -> Mailer:
    """SMTP when SMTP_HOST is set; otherwise .eml files in the data directory (shop.config.Settings)."""
    if settings.smtp_host:
        return SmtpMailer(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_user,
                          settings.smtp_password, settings.smtp_starttls, tls=settings.smtp_tls,
                          ca_file=settings.smtp_ca_file)
    return OutboxMailer(settings.outbox_dir, settings.mail_from)
