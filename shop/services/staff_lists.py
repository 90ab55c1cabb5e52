"""The staff console's lists at any volume: orders, payments and the audit log, newest first.

A page is read "after this row" along an index in the list's order (shop.domain.filters,
shop.adapters.postgres.staff_lists), so it costs the same on page 2 and page 20,000, with 1,000
orders or 1,000,000. The audit log itself stays in MongoDB (the hash chain); which entries a
filtered page shows comes from its projection in PostgreSQL (`audit_index`), caught up from the
chain by sequence number, and the entries are then read by seq (point lookups). The unfiltered log
needs no projection: its sequence numbers are known from the chain's head. docs/staff-lists.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import User, parse_role
from shop.domain.audit import AuditEntry
from shop.domain.errors import N_, InvalidInput
from shop.domain.filters import (
    AuditFilter,
    OrderFilter,
    OrderRow,
    PaymentFilter,
    PaymentRow,
    RowPosition,
    UserFilter,
    day_bounds,
    keyset_page,
)
from shop.domain.json import JsonObject
from shop.domain.listing import COUNT_LIMIT, Listing

log = logging.getLogger(__name__)

CATCH_UP_BATCH = 1000
# A page view brings the projection up to date with at most this many entries (a few tens of
# milliseconds); a larger backlog (after a restore, or MongoDB back after an outage) is left to the
# recovery passes, which take it in full.
VIEW_CATCH_UP_LIMIT = 2000
EXPORT_BATCH = 1000


def _page(rows: list[Any], counted: int, list_filter: OrderFilter | PaymentFilter | UserFilter | AuditFilter,
          position_of: Callable[[Any], RowPosition]) -> Listing:
    return keyset_page(rows, per_page=list_filter.per_page, after=list_filter.after, before=list_filter.before,
                       position_of=position_of, total=min(counted, COUNT_LIMIT), total_is_exact=counted <= COUNT_LIMIT)


# --- orders and payments ------------------------------------------------------------------------------

def _order_position(row: OrderRow) -> RowPosition:
    return RowPosition("orders", row.order_id, row.created_at)


def list_orders(db: PostgresDatabase, order_filter: OrderFilter) -> Listing:
    """A page of every customer's orders matching the filter, newest first."""
    since, until = day_bounds(order_filter.start, order_filter.end)
    criteria = {"status": order_filter.status.value if order_filter.status else None, "email": order_filter.email,
                "order_id": order_filter.order_id, "since": since, "until": until}
    rows = db.lists.orders(criteria, after=order_filter.after, before=order_filter.before,
                           limit=order_filter.per_page + 1)
    if order_filter.before is not None and len(rows) <= order_filter.per_page:  # back at the newest: page 1
        return list_orders(db, replace(order_filter, before=None))
    return _page(rows, db.lists.count_orders(criteria), order_filter, _order_position)


def _payment_position(row: PaymentRow) -> RowPosition:
    return RowPosition("payments", row.payment_id, row.created_at)


def list_payments(db: PostgresDatabase, payment_filter: PaymentFilter) -> Listing:
    """A page of payment attempts (accepted and declined) across all orders, newest first."""
    since, until = day_bounds(payment_filter.start, payment_filter.end)
    criteria = {"status": payment_filter.status, "since": since, "until": until}
    rows = db.lists.payments(criteria, after=payment_filter.after, before=payment_filter.before,
                             limit=payment_filter.per_page + 1)
    if payment_filter.before is not None and len(rows) <= payment_filter.per_page:
        return list_payments(db, replace(payment_filter, before=None))
    return _page(rows, db.lists.count_payments(criteria), payment_filter, _payment_position)


# --- users ---------------------------------------------------------------------------------------------

def _user_position(user: User) -> RowPosition:
    return RowPosition("users", user.user_id)


def list_users(db: PostgresDatabase, user_filter: UserFilter) -> Listing:
    """A page of accounts in the order they were made, for the staff console."""
    role = parse_role(user_filter.role) if user_filter.role else None
    users, counted = db.users.find(role, user_filter.email, limit=user_filter.per_page + 1,
                                   after_id=user_filter.after.row_id if user_filter.after else None,
                                   before_id=user_filter.before.row_id if user_filter.before else None)
    if user_filter.before is not None and len(users) <= user_filter.per_page:
        return list_users(db, replace(user_filter, before=None))
    return _page(users, counted, user_filter, _user_position)


# --- the audit log ------------------------------------------------------------------------------------

def _audit_position(entry: AuditEntry) -> RowPosition:
    """A filtered list's position: the entry's time and seq (the list's order)."""
    return RowPosition("audit", entry.seq, entry.ts)


def _seq_position(entry: AuditEntry) -> RowPosition:
    """The whole log's position: its seq alone."""
    return RowPosition("audit", entry.seq)


def audit_criteria(db: PostgresDatabase, audit_filter: AuditFilter) -> JsonObject:
    since, until = day_bounds(audit_filter.start, audit_filter.end)
    actor_id = audit_filter.actor_id
    if audit_filter.actor_email:
        users, _ = db.users.find(email=audit_filter.actor_email, limit=1)
        actor_id = users[0].user_id if users else 0  # nobody has id 0: an unknown e-mail matches nothing
    return {"actor_id": actor_id, "action": audit_filter.action, "target": audit_filter.target,
            "since": since, "until": until}


def read_audit_page(db: PostgresDatabase, report_db: PostgresDatabase, store: MongoStore, audit_filter: AuditFilter,
                    head: tuple[int, str] | None) -> tuple[Listing, bool]:
    """A page of the audit log, newest first, read with `head` — the chain's head document as the
    caller just read it, (seq, hash) — and whether the page is exactly the one of the chain that
    ends at that head. The hash names every entry before it, so such a page stays right for as long
    as the head is there: it may be reused under that head (shop.web.audit_log). `db` brings the
    filter index up to date (a write); `report_db` (the read replica, when there is one) answers
    which entries match."""
    if not audit_filter.is_filtered:
        return _unfiltered_audit_page(store, audit_filter, head), head is not None
    per_page = audit_filter.per_page
    for position in (audit_filter.after, audit_filter.before):
        if position is not None and position.at is None:  # a position of the whole log, not of this list
            raise InvalidInput(N_("That page link is not valid any more; start again from the first page."))
    criteria = audit_criteria(db, audit_filter)

    def read() -> tuple[list[int], int, tuple[int, str | None]]:
        return report_db.lists.audit_page(criteria, after=audit_filter.after, before=audit_filter.before,
                                          limit=per_page + 1)

    seqs, counted, state = read()  # read first, then check: the index is nearly always at the head
    exact = bool(state[0]) and state == head
    if not exact:
        catch_up_audit_index(db, store, limit=VIEW_CATCH_UP_LIMIT)
        seqs, counted, _ = read()
    if audit_filter.before is not None and len(seqs) <= per_page:
        return read_audit_page(db, report_db, store, replace(audit_filter, before=None), head)
    return _page(store.audit.by_seq(seqs), counted, audit_filter, _audit_position), exact


def _unfiltered_audit_page(store: MongoStore, audit_filter: AuditFilter, head: tuple[int, str] | None) -> Listing:
    """The whole log newest first: seq is gapless from 1 to the head, so a page is one read of the
    seq index's range (per_page + 1 entries, whatever the log's size) and the total is the head's
    seq (no count)."""
    per_page = audit_filter.per_page
    if audit_filter.before is None and audit_filter.after is None:
        last, entries = store.audit.newest(per_page + 1, head)
        return keyset_page(entries, per_page=per_page, after=None, before=None, position_of=_seq_position,
                           total=last, total_is_exact=True)
    # A head left behind by a stopped writer: the entries past it show on the first page.
    marked = head[0] if head is not None else store.audit.head_seq()
    if audit_filter.before is not None:
        first = audit_filter.before.row_id + 1
        last = min(marked, first + per_page)
        if last - first + 1 <= per_page:
            return _unfiltered_audit_page(store, replace(audit_filter, before=None), head)
        entries = store.audit.between(first, last, newest_first=False)
    else:
        top = min(marked, audit_filter.after.row_id - 1) if audit_filter.after else marked
        entries = store.audit.between(max(1, top - per_page), top, newest_first=True)
    return keyset_page(entries, per_page=per_page, after=audit_filter.after, before=audit_filter.before,
                       position_of=_seq_position, total=marked, total_is_exact=True)


def actor_names(db: PostgresDatabase, entries: list[AuditEntry]) -> dict[int, str]:
    """The names of the people who acted in these entries (the log keeps their ids)."""
    return db.users.names([entry.actor_id for entry in entries if entry.actor_id is not None])


def audit_history(db: PostgresDatabase, store: MongoStore, target: str, limit: int = 50) -> list[AuditEntry]:
    """The newest entries about one target (a product's history on its staff page)."""
    _catch_up_before_reading(db, store)
    criteria = {"actor_id": None, "action": None, "target": target, "since": None, "until": None}
    return store.audit.by_seq(db.lists.audit_seqs(criteria, limit=limit))


def export_audit_entries(db: PostgresDatabase, store: MongoStore, audit_filter: AuditFilter
                         ) -> Iterator[AuditEntry]:
    """Every matching entry, oldest first, read in batches (a large log is never held in memory)."""
    if not audit_filter.is_filtered:
        head = store.audit.head_seq()
        for first in range(1, head + 1, EXPORT_BATCH):
            yield from store.audit.by_seq(list(range(first, min(head, first + EXPORT_BATCH - 1) + 1)))
        return
    catch_up_audit_index(db, store, limit=VIEW_CATCH_UP_LIMIT)
    criteria, after = audit_criteria(db, audit_filter), None
    while positions := db.lists.audit_positions(criteria, after=after, limit=EXPORT_BATCH, ascending=True):
        yield from store.audit.by_seq([position.row_id for position in positions])
        after = positions[-1]


def _catch_up_before_reading(db: PostgresDatabase, store: MongoStore) -> None:
    """Before a filtered read: nothing to do when the index reaches the entry the head document
    names (two point reads); otherwise catch up, at most VIEW_CATCH_UP_LIMIT entries."""
    if not _reaches_head(db.lists.audit_index_state(), store):
        catch_up_audit_index(db, store, limit=VIEW_CATCH_UP_LIMIT)


def _reaches_head(state: tuple[int, str | None], store: MongoStore) -> bool:
    """Whether the index, in this state (through, last hash), holds every entry up to the one the
    chain's head document names (one point read). Entries past a head left behind by a writer that
    stopped before moving it are indexed by the recovery pass, or by the first view after the next
    append has moved the head past them."""
    through, last_hash = state
    return bool(through) and store.audit.head_mark() == (through, last_hash)


def catch_up_audit_index(db: PostgresDatabase, store: MongoStore, *, limit: int | None = None) -> int:
    """Index the chain's entries the flushers could not (PostgreSQL was down, a process died
    between appending and indexing), in seq order; returns how many it read from the chain.

    The index remembers how far it is contiguous and that entry's hash: a chain shorter than that,
    or with another entry at that seq (a restore, a replaced database), makes it start over. Entries
    already indexed by their flusher are only counted, not read again. Several processes may catch
    up at once; the state row decides whose batch counts.
    """
    through, last_hash = db.lists.audit_index_state()
    head, head_hash = store.audit.tail()
    if through > head or (through and (head_hash if through == head else _hash_at(store, through)) != last_hash):
        log.warning("the audit log no longer matches its filter index (restored?); rebuilding the index")
        db.lists.reset_audit_index()
        through = 0
    read = 0
    while through < head and (limit is None or read < limit):
        last = min(head, through + CATCH_UP_BATCH)
        indexed = db.lists.indexed_seqs(through + 1, last)
        missing = [seq for seq in range(through + 1, last + 1) if seq not in indexed]
        fetched = {entry.seq: entry for entry in store.audit.by_seq(missing)} if missing else {}
        read += len(missing)
        reached = through
        while reached < last and (reached + 1 in indexed or reached + 1 in fetched):
            reached += 1
        if reached == through:
            break  # the next entry is not in the chain yet (a writer between its insert and the head)
        end = fetched.get(reached) or store.audit.by_seq([reached])[0]
        entries = [fetched[seq] for seq in sorted(fetched) if seq <= reached]
        if not db.lists.extend_audit_index(through, entries, reached, end.hash):
            break  # another process is catching up
        through = reached
    return read


def _hash_at(store: MongoStore, seq: int) -> str | None:
    entries = store.audit.by_seq([seq])
    return entries[0].hash if entries else None
