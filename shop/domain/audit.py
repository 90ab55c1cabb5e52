"""The audit log's rules: what an entry is, how the hash chain links entries, how to verify it.

Each entry carries `hash = SHA-256(canonical JSON of its content + the previous entry's hash)` and a
sequence number with no gaps. Changing, removing or reordering any entry breaks the chain at that
entry, and `first_broken_entry` names it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from shop.domain.json import JsonObject

GENESIS_HASH = "0" * 64
_CONTENT_FIELDS = ("seq", "ts", "actor_id", "actor_role", "ip", "user_agent", "action", "target", "details")


@dataclass(frozen=True)
class AuditEvent:
    """Something worth remembering: who did what to which thing, from where."""

    action: str  # e.g. "login.failed", "order.placed"
    target: str | None = None  # e.g. "order:17", "user:3"
    actor_id: int | None = None  # None: the system (recovery, expiry) or an anonymous caller
    actor_role: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    details: JsonObject = field(default_factory=JsonObject)
    ts: dt.datetime = field(default_factory=lambda: now_ms())


@dataclass(frozen=True)
class AuditEntry:
    """An entry of the chain as the staff pages, the CSV export and the filter index read it. (The
    chain's verification reads the stored documents themselves: it must see every field there is.)"""

    seq: int
    ts: dt.datetime
    action: str
    hash: str
    prev_hash: str
    target: str | None = None
    actor_id: int | None = None
    actor_role: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    details: JsonObject = field(default_factory=JsonObject)

    @classmethod
    def of(cls, doc: JsonObject) -> AuditEntry:
        """The entry of a stored document (fields it lacks take their defaults)."""
        ts = doc["ts"]
        return cls(seq=doc["seq"], ts=ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC), action=doc["action"],
                   hash=doc["hash"], prev_hash=doc["prev_hash"], target=doc.get("target"),
                   actor_id=doc.get("actor_id"), actor_role=doc.get("actor_role"), ip=doc.get("ip"),
                   user_agent=doc.get("user_agent"), details=doc.get("details") or {})


def now_ms() -> dt.datetime:
    """MongoDB keeps milliseconds: the hash must be computed over what will be stored."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _canonical(value: object) -> object:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # Decimal, ObjectId, enums: their text


def entry_hash(entry: JsonObject, previous_hash: str) -> str:
    content = {name: _canonical(entry.get(name)) for name in _CONTENT_FIELDS}
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((payload + previous_hash).encode()).hexdigest()


def chain_entry(event: AuditEvent, seq: int, previous_hash: str) -> JsonObject:
    """The stored form of an event as entry number `seq`, linked to the previous entry."""
    entry = {"seq": seq, "ts": event.ts, "actor_id": event.actor_id, "actor_role": event.actor_role,
             "ip": event.ip, "user_agent": (event.user_agent or "")[:300] or None, "action": event.action,
             "target": event.target, "details": _canonical(event.details)}
    entry["prev_hash"] = previous_hash
    entry["hash"] = entry_hash(entry, previous_hash)
    return entry


_ENTRY_FIELDS = frozenset(_CONTENT_FIELDS) | {"prev_hash", "hash"}


def first_broken_entry(entries: Iterable[JsonObject]) -> int | None:
    """The position (1, 2, …) of the first entry that does not fit the chain, or None if all fit.

    Fails closed: an entry it cannot place — no sequence number, a null or non-integer one, a
    number out of order or repeated, a field no entry has, a hash that is not text — breaks the
    chain where it is met (entries come sorted by `seq`: one without a number comes first). The
    answer is the position, never the entry's own `seq`, which may be the very thing forged.
    """
    expected_seq, previous = 1, GENESIS_HASH
    for entry in entries:
        seq = entry.get("seq")
        if (type(seq) is not int or seq != expected_seq or not set(entry) <= _ENTRY_FIELDS
                or not isinstance(entry.get("hash"), str) or entry.get("prev_hash") != previous
                or entry_hash(entry, previous) != entry["hash"]):
            return expected_seq
        previous = entry["hash"]
        expected_seq += 1
    return None
