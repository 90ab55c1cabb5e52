"""The staff lists' reads (orders, payments) and the audit log's filter index, in PostgreSQL.

Every list is read newest first "after this row": a page asks for per_page + 1 rows beyond its
position along an index in that order (database/postgres/0006_staff_lists.sql), so its cost does
not grow with the table or the depth. Totals are counted only up to COUNT_LIMIT ("more than 1,000"
costs what counting 1,000 does). The filters arrive validated (shop.domain.filters); every value
is a parameter, and the optional ones are written `(%(x)s IS NULL OR …)` so one statement serves
every combination (the server sees the values, so an unused condition costs nothing).
"""

from __future__ import annotations

from shop.adapters.postgres.errors import translates_errors
from shop.domain.audit import AuditEntry
from shop.domain.filters import OrderRow, PaymentRow, RowPosition
from shop.domain.listing import COUNT_LIMIT
from shop.domain.orders import OrderStatus, PaymentStatus

_ORDER_FILTERS = """
    (%(status)s::text IS NULL OR o.status = %(status)s)
    AND (%(email)s::text IS NULL OR o.user_id = (SELECT user_id FROM users WHERE email = %(email)s))
    AND (%(order_id)s::int IS NULL OR o.order_id = %(order_id)s)
    AND (%(since)s::timestamptz IS NULL OR o.created_at >= %(since)s)
    AND (%(until)s::timestamptz IS NULL OR o.created_at < %(until)s)"""

_PAYMENT_FILTERS = """
    (%(status)s::text IS NULL OR p.status = %(status)s)
    AND (%(since)s::timestamptz IS NULL OR p.created_at >= %(since)s)
    AND (%(until)s::timestamptz IS NULL OR p.created_at < %(until)s)"""

_AUDIT_FILTERS = """
    (%(actor_id)s::int IS NULL OR actor_id = %(actor_id)s)
    AND (%(action)s::text IS NULL OR action = %(action)s)
    AND (%(target)s::text IS NULL OR target = %(target)s)
    AND (%(since)s::timestamptz IS NULL OR ts >= %(since)s)
    AND (%(until)s::timestamptz IS NULL OR ts < %(until)s)"""


def _beyond(after: RowPosition | None, before: RowPosition | None) -> tuple[str, str, dict]:
    """The keyset condition and the order to read in: older than `after`, or newer than `before`
    (read oldest first; the caller turns those rows around)."""
    if before is not None:
        return ">", "ASC", {"at": before.at, "row_id": before.row_id}
    if after is not None:
        return "<", "DESC", {"at": after.at, "row_id": after.row_id}
    return "", "DESC", {}


# --- the statements (module functions, so a test can EXPLAIN exactly what is sent) --------------------

def orders_query(criteria: dict, after: RowPosition | None, before: RowPosition | None, limit: int):
    compare, direction, position = _beyond(after, before)
    keyset = f"AND (o.created_at, o.order_id) {compare} (%(at)s, %(row_id)s)" if compare else ""
    return (f"""SELECT o.order_id, o.created_at, o.status, o.total_amount, u.email, u.full_name
                FROM orders o JOIN users u USING (user_id)
                WHERE {_ORDER_FILTERS} {keyset}
                ORDER BY o.created_at {direction}, o.order_id {direction} LIMIT %(limit)s""",  # noqa: S608  # fixed fragments
            {**criteria, **position, "limit": limit})


def payments_query(criteria: dict, after: RowPosition | None, before: RowPosition | None, limit: int):
    compare, direction, position = _beyond(after, before)
    keyset = f"AND (p.created_at, p.payment_id) {compare} (%(at)s, %(row_id)s)" if compare else ""
    return (f"""SELECT p.payment_id, p.order_id, p.amount, p.status, p.method, p.provider_reference,
                       p.card_last4, p.decline_reason, p.created_at, u.email, u.full_name
                FROM payments p JOIN orders o USING (order_id) JOIN users u ON u.user_id = o.user_id
                WHERE {_PAYMENT_FILTERS} {keyset}
                ORDER BY p.created_at {direction}, p.payment_id {direction} LIMIT %(limit)s""",  # noqa: S608  # fixed fragments
            {**criteria, **position, "limit": limit})


def audit_query(criteria: dict, after: RowPosition | None, before: RowPosition | None, limit: int, *,
                ascending: bool = False):
    """Filtered audit entries newest first by time, then seq (oldest first for `ascending`)."""
    if ascending:
        compare, direction = (">", "ASC") if after else ("", "ASC")
        position = {"at": after.at, "row_id": after.row_id} if after else {}
    else:
        compare, direction, position = _beyond(after, before)
    keyset = f"AND (ts, seq) {compare} (%(at)s, %(row_id)s)" if compare else ""
    return (f"""SELECT seq, ts FROM audit_index WHERE {_AUDIT_FILTERS} {keyset}
                ORDER BY ts {direction}, seq {direction} LIMIT %(limit)s""",  # noqa: S608  # fixed fragments
            {**criteria, **position, "limit": limit})


def _count_audit(cur, criteria: dict) -> int:
    cur.execute(f"""SELECT count(*) AS n FROM (SELECT 1 FROM audit_index WHERE {_AUDIT_FILTERS}
                    LIMIT %(cap)s) AS matching""",  # noqa: S608  # a fixed fragment
                {**criteria, "cap": COUNT_LIMIT + 1})
    return cur.fetchone()["n"]


@translates_errors
class StaffLists:
    """Reads for the staff console; `db` is a PostgresDatabase (or its read replica)."""

    def __init__(self, db):
        self._db = db

    # --- orders and payments ----------------------------------------------------------------------

    def orders(self, criteria: dict, *, after: RowPosition | None = None, before: RowPosition | None = None,
               limit: int = 51) -> list[OrderRow]:
        """Orders matching the criteria (status, email, order_id, since, until) beyond a position,
        with the customer's name and e-mail."""
        with self._db.transaction() as cur:
            cur.execute(*orders_query(criteria, after, before, limit))
            return [OrderRow(row["order_id"], row["created_at"], OrderStatus(row["status"]), row["total_amount"],
                             row["email"], row["full_name"]) for row in cur.fetchall()]

    def count_orders(self, criteria: dict) -> int:
        with self._db.transaction() as cur:
            cur.execute(f"""SELECT count(*) AS n FROM (SELECT 1 FROM orders o WHERE {_ORDER_FILTERS}
                            LIMIT %(cap)s) AS matching""",  # noqa: S608  # a fixed fragment
                        {**criteria, "cap": COUNT_LIMIT + 1})
            return cur.fetchone()["n"]

    def payments(self, criteria: dict, *, after: RowPosition | None = None, before: RowPosition | None = None,
                 limit: int = 51) -> list[PaymentRow]:
        """Payment attempts (accepted and declined) matching status, since, until beyond a position."""
        with self._db.transaction() as cur:
            cur.execute(*payments_query(criteria, after, before, limit))
            return [PaymentRow(**{**row, "status": PaymentStatus(row["status"])}) for row in cur.fetchall()]

    def count_payments(self, criteria: dict) -> int:
        with self._db.transaction() as cur:
            cur.execute(f"""SELECT count(*) AS n FROM (SELECT 1 FROM payments p WHERE {_PAYMENT_FILTERS}
                            LIMIT %(cap)s) AS matching""",  # noqa: S608  # a fixed fragment
                        {**criteria, "cap": COUNT_LIMIT + 1})
            return cur.fetchone()["n"]

    # --- the audit log's filter index -------------------------------------------------------------

    def audit_seqs(self, criteria: dict, *, after: RowPosition | None = None, before: RowPosition | None = None,
                   limit: int = 101, ascending: bool = False) -> list[int]:
        """Sequence numbers of entries matching the criteria (actor_id, action, target, since,
        until), newest first beyond a position (or, `ascending`, oldest first after `after`)."""
        with self._db.transaction() as cur:
            cur.execute(*audit_query(criteria, after, before, limit, ascending=ascending))
            return [row["seq"] for row in cur.fetchall()]

    def audit_positions(self, criteria: dict, *, after: RowPosition | None = None, before: RowPosition | None = None,
                        limit: int = 101, ascending: bool = False) -> list[RowPosition]:
        """As audit_seqs, with each entry's time: the positions of a filtered list."""
        with self._db.transaction() as cur:
            cur.execute(*audit_query(criteria, after, before, limit, ascending=ascending))
            return [RowPosition("audit", row["seq"], row["ts"]) for row in cur.fetchall()]

    def audit_page(self, criteria: dict, *, after: RowPosition | None = None, before: RowPosition | None = None,
                   limit: int = 101) -> tuple[list[int], int, tuple[int, str | None]]:
        """audit_seqs, how many entries match (up to COUNT_LIMIT + 1) and the index's state as it
        was for that read (see audit_index_state), in one transaction."""
        with self._db.transaction() as cur:
            cur.execute("SELECT through, last_hash FROM audit_index_state")
            state = cur.fetchone()
            cur.execute(*audit_query(criteria, after, before, limit))
            seqs = [row["seq"] for row in cur.fetchall()]
            return seqs, _count_audit(cur, criteria), (state["through"], state["last_hash"])

    def audit_actions(self) -> list[str]:
        """The actions in the log: one index probe per distinct action (a loose index scan), not a
        read of every entry."""
        with self._db.transaction() as cur:
            cur.execute("""WITH RECURSIVE actions AS (
                               (SELECT action FROM audit_index ORDER BY action LIMIT 1)
                               UNION ALL
                               SELECT (SELECT a.action FROM audit_index a WHERE a.action > actions.action
                                       ORDER BY a.action LIMIT 1)
                               FROM actions WHERE actions.action IS NOT NULL)
                           SELECT action FROM actions WHERE action IS NOT NULL""")
            return [row["action"] for row in cur.fetchall()]

    def audit_index_state(self) -> tuple[int, str | None]:
        """How far the projection is contiguous from seq 1, and that entry's hash."""
        with self._db.transaction() as cur:
            cur.execute("SELECT through, last_hash FROM audit_index_state")
            row = cur.fetchone()
            return row["through"], row["last_hash"]

    def add_audit_entries(self, entries: list[AuditEntry]) -> None:
        """Index entries just appended to the chain (by the flusher that appended them), and move
        the contiguous mark over them if they directly follow it."""
        with self._db.transaction() as cur:
            _insert_audit_rows(cur, entries)
            cur.execute("UPDATE audit_index_state SET through = %s, last_hash = %s WHERE through = %s",
                        (entries[-1].seq, entries[-1].hash, entries[0].seq - 1))

    def indexed_seqs(self, first: int, last: int) -> set[int]:
        """Which of the sequence numbers first..last are in the index."""
        with self._db.transaction() as cur:
            cur.execute("SELECT seq FROM audit_index WHERE seq BETWEEN %s AND %s", (first, last))
            return {row["seq"] for row in cur.fetchall()}

    def extend_audit_index(self, through: int, entries: list[AuditEntry], new_through: int, new_hash: str) -> bool:
        """Add `entries` (read from the chain) and move the contiguous mark from `through` to
        `new_through`. The state row is the guard: if another process moved it meanwhile, nothing
        is written and False is returned."""
        with self._db.transaction() as cur:
            cur.execute("UPDATE audit_index_state SET through = %s, last_hash = %s WHERE through = %s",
                        (new_through, new_hash, through))
            if cur.rowcount != 1:
                return False
            _insert_audit_rows(cur, entries)
            return True

    def reset_audit_index(self) -> None:
        """Forget the projection (the log it followed was restored or replaced)."""
        with self._db.transaction() as cur:
            cur.execute("LOCK TABLE audit_index_state IN EXCLUSIVE MODE")
            cur.execute("TRUNCATE audit_index")
            cur.execute("UPDATE audit_index_state SET through = 0, last_hash = NULL")


def _insert_audit_rows(cur, entries: list[AuditEntry]) -> None:
    if entries:
        cur.execute(
            "INSERT INTO audit_index (seq, ts, actor_id, action, target) "
            "SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::int[], %s::text[], %s::text[]) "
            "ON CONFLICT (seq) DO NOTHING",
            ([e.seq for e in entries], [e.ts for e in entries], [e.actor_id for e in entries],
             [e.action for e in entries], [e.target for e in entries]))
