"""The mail outbox in PostgreSQL: rows written with the change they announce
(shop.adapters.postgres.order_effects), claimed by senders one at a time.

A row is claimed with `FOR UPDATE SKIP LOCKED` and its new state committed before anything is sent,
so any number of senders in any number of processes never take the same row; the states say how far
a delivery got when its sender died (docs/mail.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.adapters.postgres.errors import translates_errors
from shop.domain.notifications import MailLine, OrderForMail, RefundForMail
from shop.domain.order_effects import MailKind


@dataclass(frozen=True)
class OutboxMail:
    mail_id: int
    kind: str
    order_id: int | None
    to_address: str
    language: str
    attempts: int
    user_id: int | None = None
    refund_id: int | None = None  # a refund's mail: which refund it is about


@translates_errors
class MailOutbox:
    def __init__(self, db):
        self._db = db

    def claim(self, limit: int = 1) -> list[OutboxMail]:
        """Up to `limit` of the oldest due rows nobody else holds, now `sending` (committed), oldest first.

        Committed without waiting for the disk: a claim lost in a crash of PostgreSQL leaves the row
        pending, and nothing is handed over before `handing_over`, whose flush carries this one too."""
        with self._db.transaction() as cur:
            _commit_without_waiting_for_disk(cur)
            cur.execute(
                """UPDATE mail_outbox SET status = 'sending', attempts = attempts + 1, claimed_at = now()
                   WHERE mail_id IN (SELECT mail_id FROM mail_outbox
                                     WHERE status = 'pending' AND next_attempt_at <= now()
                                     ORDER BY next_attempt_at, mail_id LIMIT %s FOR UPDATE SKIP LOCKED)
                   RETURNING mail_id, kind, order_id, to_address, language, attempts, user_id, refund_id""", (limit,))
            return sorted((OutboxMail(**row) for row in cur.fetchall()), key=lambda mail: mail.mail_id)

    def orders_for_mail(self, order_ids: list[int]) -> dict[int, OrderForMail]:
        """What order mails show, for several orders at once (a sender's batch): each order's totals,
        lines and customer's name, by order id (one transaction, two statements)."""
        if not order_ids:
            return {}
        with self._db.transaction() as cur:
            cur.execute("""SELECT o.order_id, o.total_amount, o.refunded_amount, o.discount_code, o.carrier,
                                  o.tracking_number, o.shipping_method, o.shipping_amount, u.full_name,
                                  (SELECT p.method FROM payments p WHERE p.order_id = o.order_id
                                     AND p.status = 'succeeded' LIMIT 1) AS payment_method
                           FROM orders o JOIN users u USING (user_id) WHERE o.order_id = ANY(%s)""",
                        (sorted(set(order_ids)),))
            rows = {row["order_id"]: row for row in cur.fetchall()}
            cur.execute("""SELECT order_id, product_name, unit_price, quantity, discount_amount, variant_label
                           FROM order_items
                           WHERE order_id = ANY(%s) ORDER BY order_id, order_item_id""", (list(rows),))
            lines: dict[int, list[MailLine]] = {}
            for item in cur.fetchall():
                lines.setdefault(item.pop("order_id"), []).append(MailLine(**item))
            return {order_id: OrderForMail(**row, items=tuple(lines.get(order_id, ())))
                    for order_id, row in rows.items()}

    def refunds_for_mail(self, refund_ids: list[int]) -> dict[int, RefundForMail]:
        """What refund mails say, for several refunds at once: each refund's amount and what its order
        had been refunded in all once it was made."""
        if not refund_ids:
            return {}
        with self._db.transaction() as cur:
            cur.execute("""SELECT r.refund_id, r.amount,
                                  (SELECT sum(x.amount) FROM refunds x
                                   WHERE x.order_id = r.order_id AND x.refund_id <= r.refund_id) AS refunded_so_far
                           FROM refunds r WHERE r.refund_id = ANY(%s)""", (sorted(set(refund_ids)),))
            return {row["refund_id"]: RefundForMail(row["amount"], row["refunded_so_far"]) for row in cur.fetchall()}

    def queue_account_mail(self, kind: MailKind, user_id: int, language: str | None) -> None:
        """One of an account's mails (its activation link, a password link, …) to its current address.
        The row names the account only: a link is signed when the mail is written."""
        with self._db.transaction() as cur:
            cur.execute("""INSERT INTO mail_outbox (kind, user_id, to_address, language)
                           SELECT %s, user_id, email, coalesce(%s, language) FROM users WHERE user_id = %s""",
                        (kind.value, language, user_id))

    def handing_over(self, mail_id: int) -> bool:
        """The message text is about to be given to the mail server: from here a dead sender leaves
        the row `uncertain`. False if the row is no longer this sender's."""
        return self._move(mail_id, "sending", "handing_over")

    def mark_sent(self, mail_id: int) -> bool:
        """The server took the message. Committed without waiting for the disk (the next
        `handing_over` flushes it): if PostgreSQL itself crashes within a fraction of a second of
        this, the row stays `handing_over` and becomes `uncertain`, never sent a second time."""
        with self._db.transaction() as cur:
            _commit_without_waiting_for_disk(cur)
            cur.execute("UPDATE mail_outbox SET status = 'sent', sent_at = now(), last_error = NULL "
                        "WHERE mail_id = %s AND status = 'handing_over'", (mail_id,))
            return cur.rowcount == 1

    def retry_later(self, mail_id: int, error: str, delay_seconds: float) -> None:
        """The server refused before taking the message: nothing was delivered, try again later."""
        with self._db.transaction() as cur:
            cur.execute("""UPDATE mail_outbox SET status = 'pending', last_error = %s,
                                  next_attempt_at = now() + make_interval(secs => %s)
                           WHERE mail_id = %s AND status IN ('sending', 'handing_over')""",
                        (error[:500], delay_seconds, mail_id))

    def give_up(self, mail_id: int, error: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("UPDATE mail_outbox SET status = 'failed', last_error = %s "
                        "WHERE mail_id = %s AND status IN ('sending', 'handing_over')", (error[:500], mail_id))

    def mark_uncertain(self, mail_id: int, error: str) -> None:
        """The connection broke while the message was handed over: the server may have it."""
        with self._db.transaction() as cur:
            cur.execute("UPDATE mail_outbox SET status = 'uncertain', last_error = %s "
                        "WHERE mail_id = %s AND status = 'handing_over'", (error[:500], mail_id))

    def release_abandoned(self, older_than_seconds: float) -> tuple[int, int]:
        """Rows whose sender died: `sending` ones go back to pending (nothing was handed over),
        `handing_over` ones become `uncertain` (the server may have the message). Returns both counts."""
        with self._db.transaction() as cur:
            cur.execute("""UPDATE mail_outbox
                           SET status = CASE status WHEN 'sending' THEN 'pending' ELSE 'uncertain' END,
                               last_error = CASE status WHEN 'sending' THEN last_error
                                                    ELSE 'the sender stopped while handing the message over' END
                           WHERE status IN ('sending', 'handing_over')
                             AND claimed_at < now() - make_interval(secs => %s)
                           RETURNING status""", (older_than_seconds,))
            statuses = [row["status"] for row in cur.fetchall()]
            return statuses.count("pending"), statuses.count("uncertain")

    def _move(self, mail_id: int, from_status: str, to_status: str) -> bool:
        with self._db.transaction() as cur:
            cur.execute("UPDATE mail_outbox SET status = %s WHERE mail_id = %s AND status = %s",
                        (to_status, mail_id, from_status))
            return cur.rowcount == 1

    def backlog(self) -> dict[str, tuple[int, float]]:
        """status → (rows, age in seconds of the oldest) for every row not sent yet (for /metrics and
        the operator; an index holds exactly these rows, database/postgres/0016_outbox_backlog.sql)."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT status, count(*) AS n,
                                  extract(epoch FROM now() - min(created_at))::float AS oldest
                           FROM mail_outbox WHERE status <> 'sent' GROUP BY status""")
            return {row["status"]: (row["n"], row["oldest"]) for row in cur.fetchall()}


def _commit_without_waiting_for_disk(cur) -> None:
    """This transaction's commit returns before its WAL is flushed (PostgreSQL's asynchronous commit:
    never inconsistent, at worst lost if the server crashes before its WAL writer's next flush)."""
    cur.execute("SET LOCAL synchronous_commit = off")
