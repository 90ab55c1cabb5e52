"""Sending e-mail: SMTP when SMTP_HOST is set, else a directory of .eml files (development and
tests; a person opens them, a test reads them). The message text is made by the caller.

`send` calls `before_data` (when given) once the server has accepted the sender and the recipient
and before the message itself is handed over: the mail outbox commits "handing over" there, so a
sender that dies earlier is known to have delivered nothing (docs/mail.md)."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
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
class Mail:
    to: str
    subject: str
    body: str
    html: str | None = None
    message_id: str | None = None  # stable per outbox row: a receiver can recognise a repeat


class Mailer(Protocol):
    def send(self, mail: Mail, before_data: Callable[[], bool] | None = None) -> None: ...


def _message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    domain = sender.rsplit("@", 1)[-1].rstrip(">") or "localhost"
    message["Message-ID"] = f"<{mail.message_id}@{domain}>" if mail.message_id else make_msgid(domain=domain)
    # Quoted-printable: 7-bit lines any server takes, without asking for 8BITMIME.
    message.set_content(mail.body, cte="quoted-printable")
    if mail.html:
        message.add_alternative(mail.html, subtype="html", cte="quoted-printable")
    return message


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
        message = _message(mail, self.sender)
        handing_over = False
        context = ssl.create_default_context(cafile=self.ca_file)
        try:
            connection = (smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context) if self.tls
                          else smtplib.SMTP(self.host, self.port, timeout=self.timeout))
            with connection as smtp:
                smtp.ehlo()
                if self.starttls and not self.tls:
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
                for step in (lambda: smtp.mail(_envelope_address(self.sender)),
                             lambda: smtp.rcpt(_envelope_address(mail.to))):
                    code, answer = step()
                    if code >= 400:
                        raise smtplib.SMTPResponseException(code, answer)
                if before_data is not None and not before_data():
                    smtp.rset()
                    raise NotHandedOver("the outbox row is no longer this sender's")
                handing_over = True
                code, answer = smtp.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
                if code >= 400:
                    raise smtplib.SMTPResponseException(code, answer)
        except smtplib.SMTPResponseException as error:  # the server answered no: it does not have it
            raise MailError(f"SMTP {self.host}:{self.port}: {error.smtp_code} {error.smtp_error!r}",
                            permanent=error.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(f"SMTP {self.host}:{self.port}: {error}", maybe_delivered=handing_over) from None


@dataclass(frozen=True)
class OutboxMailer:
    directory: Path
    sender: str

    def send(self, mail: Mail, before_data: Callable[[], bool] | None = None) -> None:
        if before_data is not None and not before_data():
            raise NotHandedOver("the outbox row is no longer this sender's")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # links in it are secrets
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(_message(mail, self.sender)))
        log.info("e-mail %r written to %s (no SMTP_HOST set)", mail.subject, path)


def mailer_for(settings) -> Mailer:
    """SMTP when SMTP_HOST is set; otherwise .eml files in the data directory (shop.config.Settings)."""
    if settings.smtp_host:
        return SmtpMailer(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_user,
                          settings.smtp_password, settings.smtp_starttls, tls=settings.smtp_tls,
                          ca_file=settings.smtp_ca_file)
    return OutboxMailer(settings.outbox_dir, settings.mail_from)
