"""Delivering the mail outbox: at most once per row, nothing lost, any number of senders.

Rows are written by the database in the transaction of the change they announce (docs/mail.md).
A sender claims rows (a batch, committed as `sending`), and for each asks the mail server to accept
the sender and the recipient, commits `handing_over`, hands the message over, and commits `sent`. If it
dies before `handing_over`, the server has nothing and the row goes back to pending after a while;
if it dies after, the server may have the message, so the row is `uncertain` and is never sent
again by itself (an operator decides). A refusal before the message was handed over is retried
with a growing delay; a permanent refusal or too many attempts makes the row `failed`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shop import metrics
from shop.adapters.errors import DatabaseError
from shop.adapters.mail import Mail, Mailer, MailError, MailSession, NotHandedOver
from shop.adapters.postgres import PostgresDatabase
from shop.adapters.postgres.mail_outbox import OutboxMail
from shop.domain.notifications import MAX_ATTEMPTS, mails_this_pass, retry_delay

log = logging.getLogger(__name__)

# A row claimed this long ago by a sender that never finished it belongs to a dead sender.
ABANDONED_AFTER_SECONDS = 300.0
# Rows claimed in one transaction; each is still handed over and marked sent on its own.
BATCH = 20


class MailNotNeeded(Exception):  # noqa: N818 - a decision, not a failure
    """A composer's answer for a row whose mail no longer makes sense (an activation link for an
    account already active): the row is closed without sending, and not retried."""


class Composer(Protocol):
    def __call__(self, rows: Sequence[OutboxMail]) -> Iterable[Mail | Exception]:
        """For each row, in order, its mail or the error that kept it from being written."""


def one_at_a_time(compose: Callable[[OutboxMail], Mail]) -> Composer:
    """A composer from a function that writes one mail (its errors become that row's result)."""
    def each(rows: Sequence[OutboxMail]) -> Iterable[Mail | Exception]:
        for row in rows:
            try:
                yield compose(row)
            except Exception as error:  # noqa: BLE001 - reported per row by the sender
                yield error
    return each


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    not_needed: int = 0


def deliver_outbox(db: PostgresDatabase, mailer: Mailer, compose: Composer, *,
                   limit: int = 100, batch: int = BATCH, abandoned_after: float = ABANDONED_AFTER_SECONDS
                   ) -> DeliveryReport:
    """Send up to `limit` due mails: claimed `batch` at a time, handed over one at a time."""
    report = DeliveryReport()
    released, abandoned = db.outbox.release_abandoned(abandoned_after)
    report.uncertain += abandoned
    if released or abandoned:
        log.warning("mail outbox: %d rows of a stopped sender retried, %d left uncertain", released, abandoned)
    claimed = 0
    with mailer.session() as session:  # one SMTP connection (and login) for the whole run
        while claimed < limit and (rows := db.outbox.claim(min(batch, limit - claimed))):
            claimed += len(rows)
            for row, mail in zip(rows, compose(rows), strict=True):
                _deliver(db, session, row, mail, report)
    for outcome, n in (("sent", report.sent), ("retried", report.retried), ("failed", report.failed),
                       ("uncertain", report.uncertain)):
        if n:
            metrics.MAILS.labels(outcome).inc(n)
    return report


def _deliver(db: PostgresDatabase, mailer: MailSession, row: OutboxMail, mail: Mail | Exception,
             report: DeliveryReport) -> None:
    """One claimed row: handed over (after committing `handing_over`), marked sent."""
    if isinstance(mail, MailNotNeeded):
        log.info("mail %d (%s) not sent: %s", row.mail_id, row.kind, mail)
        db.outbox.give_up(row.mail_id, f"not needed: {mail}")
        report.not_needed += 1
        return
    if isinstance(mail, Exception):  # a bug in a template must not stop the other mails
        log.error("mail %d (%s) could not be composed", row.mail_id, row.kind, exc_info=mail)
        db.outbox.retry_later(row.mail_id, f"compose: {mail}", retry_delay(row.attempts))
        report.retried += 1
        return
    try:
        mailer.send(mail, before_data=lambda: db.outbox.handing_over(row.mail_id))
    except NotHandedOver:
        return
    except MailError as error:
        _refused(db, row, error, report)
        return
    db.outbox.mark_sent(row.mail_id)
    report.sent += 1


def _refused(db: PostgresDatabase, row: OutboxMail, error: MailError, report: DeliveryReport) -> None:
    if error.maybe_delivered:
        log.error("mail %d to %s: the connection broke while handing it over; marked uncertain: %s",
                  row.mail_id, row.to_address, error)
        db.outbox.mark_uncertain(row.mail_id, str(error))
        report.uncertain += 1
    elif error.permanent or row.attempts >= MAX_ATTEMPTS:
        log.error("mail %d to %s refused for good after %d attempts: %s", row.mail_id, row.to_address,
                  row.attempts, error)
        db.outbox.give_up(row.mail_id, str(error))
        report.failed += 1
    else:
        log.warning("mail %d to %s not sent (attempt %d), will retry: %s", row.mail_id, row.to_address,
                    row.attempts, error)
        db.outbox.retry_later(row.mail_id, str(error), retry_delay(row.attempts))
        report.retried += 1


def cpu_busy() -> float | None:
    """Percent of the machine's CPU in use since the previous call (None where it cannot be read)."""
    try:
        import psutil  # optional where it has no wheel (the except below)

        return float(psutil.cpu_percent(interval=None))
    except (ImportError, OSError):
        return None


class MailSender(threading.Thread):
    """Delivers the outbox every `interval` seconds, fewer mails per pass while the CPU is busy
    (shop.domain.notifications.mails_this_pass). Any number may run: rows are claimed with SKIP
    LOCKED, so senders never take the same row."""

    def __init__(self, make_db: Callable[[], PostgresDatabase], mailer: Mailer, compose: Composer, interval: float):
        super().__init__(name="mail-sender", daemon=True)
        self._make_db, self._mailer, self._compose = make_db, mailer, compose
        self._interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        db = self._make_db()
        cpu_busy()  # starts the measurement: the first pass sees the CPU since now
        try:
            while not self._stop_event.wait(self._interval):
                try:
                    deliver_outbox(db, self._mailer, self._compose, limit=mails_this_pass(cpu_busy()))
                except DatabaseError as error:
                    log.warning("mail delivery paused, PostgreSQL unavailable: %s", error)
                except Exception:  # a bug must not kill the thread silently
                    log.exception("mail delivery crashed, will retry")
        finally:
            db.close()

    def stop(self) -> None:
        self._stop_event.set()
