"""The audit log in MongoDB (`store.audit`): a hash chain in `audit_logs`, numbered by a gapless
`seq` that a unique index hands to exactly one writer, and `audit_head`, one small document that
says where the chain ends (docs/audit.md)."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator

from pymongo.errors import BulkWriteError, DuplicateKeyError

from shop.adapters.errors import StoreError
from shop.adapters.mongo.errors import translates_errors
from shop.domain.audit import GENESIS_HASH, AuditEntry

_TAIL_WINDOW = 64  # entries read at once while looking for the chain's end from its head


@translates_errors
class AuditChain:
    def __init__(self, logs, head):
        self.logs, self.head = logs, head  # the audit_logs and audit_head collections

    def append(self, items: list, build, attempts: int = 100) -> list[dict]:
        """Append items to the hash chain in order; `build(item, seq, previous_hash)` makes each entry.
        Returns the entries as written.

        The unique index on `seq` lets exactly one writer (of any process or host) take each
        number; a writer that loses the race keeps what of its batch did land (checked by hash),
        backs off and links the rest after the new last entry, so the chain has no gaps and no forks.
        The last entry is found from `audit_head` (one small document, moved forward after each
        append) plus a bounded read of the numbers from there, never by sorting the log with a limit:
        SecantusDB reads a whole index range for `sort + limit 1`, so that cost would grow with the log.
        """
        pending, written = list(items), list[dict]()
        for attempt in range(attempts):
            if not pending:
                return written
            seq, previous = self.tail()
            entries = []
            for item in pending:
                seq += 1
                entries.append(build(item, seq, previous))
                previous = entries[-1]["hash"]
            try:
                self.logs.insert_many(entries, ordered=True)
                pending = []
            except (DuplicateKeyError, BulkWriteError):
                landed = 0  # an ordered insert keeps a prefix: count it by point lookups, by hash
                for entry in entries:
                    found = self.logs.find_one({"seq": entry["seq"]}, {"hash": 1})
                    if found is None or found["hash"] != entry["hash"]:
                        break
                    landed += 1
                pending = pending[landed:]
                entries = entries[:landed]
                # Jitter, not cryptography.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311
            if entries:
                self._advance_head(entries[-1]["seq"], entries[-1]["hash"])
                written += entries
        if pending:
            raise StoreError("could not append to the audit log: too many concurrent writers")
        return written

    def tail(self) -> tuple[int, str]:
        """(seq, hash) of the last entry (0 and the genesis hash when the log is empty): the head
        document, then forward through the seq index in bounded windows (the head lags when a writer
        stopped between its insert and moving the head)."""
        head = self.head.find_one({"_id": "chain"})
        if head is None:
            if self.logs.find_one({"seq": 1}, {"_id": 1}) is None:
                return 0, GENESIS_HASH
            # A log written before the head existed: find its end once, the slow way.
            last = self.logs.find_one({}, {"seq": 1, "hash": 1}, sort=[("seq", -1)])
            self._advance_head(last["seq"], last["hash"])
            return last["seq"], last["hash"]
        seq, last_hash = head["seq"], head["hash"]
        entries = self._window(seq)
        if not entries or entries[0]["seq"] != seq or entries[0]["hash"] != last_hash:
            self.head.delete_one({"_id": "chain"})  # a head ahead of its chain (restored apart)
            return self.tail()
        while entries:
            for entry in entries[1:]:
                if entry["seq"] != seq + 1:  # a gap: the chain ends before it
                    return seq, last_hash
                seq, last_hash = entry["seq"], entry["hash"]
            entries = self._window(seq) if len(entries) == _TAIL_WINDOW else []
        return seq, last_hash

    def _window(self, seq: int) -> list[dict]:
        """(seq, hash) of the entries numbered seq.. seq + _TAIL_WINDOW - 1 that exist, in order: one
        bounded read of the seq index (past the head there is rarely more than one)."""
        return list(self.logs.find({"seq": {"$gte": seq, "$lte": seq + _TAIL_WINDOW - 1}},
                                   {"_id": 0, "seq": 1, "hash": 1}).sort("seq", 1))

    def _advance_head(self, seq: int, last_hash: str) -> None:
        """Move the head forward to `seq` (never back: a slower writer's older head is ignored)."""
        with contextlib.suppress(DuplicateKeyError):  # the head is already at or past `seq`
            self.head.update_one({"_id": "chain", "seq": {"$lt": seq}},
                                       {"$set": {"seq": seq, "hash": last_hash}}, upsert=True)

    def head_seq(self) -> int:
        """How many entries the chain has (seq is gapless from 1), from the head: a point read."""
        return self.tail()[0]

    def head_mark(self) -> tuple[int, str] | None:
        """(seq, hash) as the head document says: one point read, possibly behind the chain's end
        (see `tail`)."""
        head = self.head.find_one({"_id": "chain"})
        return (head["seq"], head["hash"]) if head else None

    def newest(self, count: int, head: tuple[int, str] | None) -> tuple[int, list[AuditEntry]]:
        """(how many entries the chain has, its last `count` entries newest first) from the head
        document as the caller read it (`head_mark`) in one bounded range of seq: from `count` before
        the head to a window past it (which also finds the entries of a writer that stopped before
        moving the head)."""
        if head is not None:
            seq, last_hash = head
            entries = self.between(max(1, seq - count + 1), seq + _TAIL_WINDOW - 1, newest_first=False)
            at_head = [entry for entry in entries if entry.seq == seq]
            if at_head and at_head[0].hash == last_hash:
                last = seq
                for entry in entries:
                    if entry.seq == last + 1:
                        last += 1
                    elif entry.seq > last:
                        break  # a gap: the chain ends before it
                if last < seq + _TAIL_WINDOW - 1:  # the end is within the window
                    return last, [entry for entry in entries if entry.seq <= last][-count:][::-1]
        last = self.head_seq()  # no head yet, a head ahead of its chain, or a long way behind it
        return last, self.between(max(1, last - count + 1), last, newest_first=True)

    def entries(self, batch_size: int = 1000) -> Iterator[dict]:
        """Every stored document, in seq order, as stored (what the chain's verification reads)."""
        return self.logs.find({}, {"_id": 0}).sort("seq", 1).batch_size(batch_size)

    def count(self) -> int:
        return self.logs.count_documents({})

    def between(self, first: int, last: int, *, newest_first: bool) -> list[AuditEntry]:
        """The entries numbered first..last, in one read of the seq index's range."""
        return [AuditEntry.of(doc) for doc in self.logs.find({"seq": {"$gte": first, "$lte": last}}, {"_id": 0})
                .sort("seq", -1 if newest_first else 1)]

    def by_seq(self, seqs: list[int]) -> list[AuditEntry]:
        """The entries with these sequence numbers, in the order asked (point lookups on the unique
        seq index; a number not in the log is left out)."""
        found = {doc["seq"]: doc for doc in self.logs.find({"seq": {"$in": list(seqs)}}, {"_id": 0})}
        return [AuditEntry.of(found[n]) for n in seqs if n in found]
