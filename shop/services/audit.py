"""Recording audit events without ever blocking or undoing the action they record.

A request only appends its event to a spool file under the data directory (one line, under a
file lock: microseconds, no database involved). A flusher — a thread in every web worker, one flushing
at a time per host — moves spooled events into the hash chain in MongoDB (`audit_logs`) every half
second, oldest first; recovery passes and CLI commands flush too. If MongoDB does not answer, events
stay in the spool until it does. docs/audit.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from shop.adapters.errors import StoreError
from shop.adapters.mongo import MongoStore
from shop.domain.audit import AuditEntry, AuditEvent, chain_entry, first_broken_entry
from shop.domain.json import JsonObject

if TYPE_CHECKING:
    from shop.adapters.postgres.staff_lists import StaffLists as AuditIndex

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, store: MongoStore, spool_path: Path, index: AuditIndex | None = None):
        self.store = store
        self.spool_path = spool_path
        self.index = index  # the audit log's filter index (PostgreSQL), given what was appended

    @property
    def _append_lock(self) -> FileLock:
        """Held to append a line, and to rename the spool for flushing: never both at once."""
        return FileLock(self.spool_path.with_name(self.spool_path.name + ".append-lock"))

    @property
    def _flushing_path(self) -> Path:
        return self.spool_path.with_name(self.spool_path.name + ".flushing")

    def record(self, event: AuditEvent) -> None:
        """Spool the event for the chain; never raises (a failure is logged with the event)."""
        try:
            line = (json.dumps({**dataclasses.asdict(event), "ts": event.ts.isoformat()}, default=str) + "\n")
            self.spool_path.parent.mkdir(parents=True, exist_ok=True)
            with self._append_lock:  # the flusher cannot rename the spool between our open and write
                fd = os.open(self.spool_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, line.encode())  # in the OS from here on: survives this process dying
                finally:
                    os.close(fd)
        except Exception:  # a full disk must not break the business action; keep the event in the log
            log.exception("audit event could not be spooled: %s", event)

    def flush_spool(self, *, wait: bool = True) -> int:
        """Move spooled events into the chain, oldest first; returns how many moved.

        One flusher at a time (a lock file); with `wait=False` a caller finding it busy returns at
        once. Writers are held only for the instant the spool is renamed, never during the upload.
        """
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.spool_path.with_name(self.spool_path.name + ".lock"))
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout:
            return 0
        try:
            if not self._flushing_path.exists():  # a failed flush's leftovers go first: they are older
                self._rotate()
            return self._chain_file(self._flushing_path) if self._flushing_path.exists() else 0
        finally:
            lock.release()

    def _rotate(self) -> None:
        with self._append_lock:
            if self.spool_path.exists() and self.spool_path.stat().st_size:
                os.replace(self.spool_path, self._flushing_path)

    def _chain_file(self, path: Path, batch: int = 500) -> int:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        moved = 0
        while moved < len(lines):
            events = [_event(line) for line in lines[moved:moved + batch]]
            try:
                entries = self.store.audit.append(events, chain_entry)
            except StoreError as error:
                log.warning("audit flush paused, MongoDB unavailable: %s", error)
                break
            moved += len(events)
            self._index(entries)
        if moved == len(lines):
            path.unlink()
        elif moved:
            partial = path.with_name(path.name + ".tmp")
            partial.write_text("\n".join(lines[moved:]) + "\n")
            os.replace(partial, path)
        return moved

    def _index(self, entries: list[JsonObject]) -> None:
        """Add appended entries to the filter index; if PostgreSQL fails, they stay in the chain and
        the recovery pass indexes them (shop.services.staff_lists.catch_up_audit_index)."""
        if self.index is None or not entries:
            return
        try:
            self.index.add_audit_entries([AuditEntry.of(entry) for entry in entries])
        except Exception:  # the chain is the record; a missing index row is caught up later
            log.warning("audit entries %d-%d not indexed now; the recovery pass will", entries[0]["seq"],
                        entries[-1]["seq"], exc_info=True)

    def verify(self) -> tuple[int, int | None]:
        """(number of entries, first broken sequence number or None).

        A chain whose newest entries were deleted (and its head moved back) is still a valid chain:
        what proves it complete is the anchor in PostgreSQL, the last entry the flushers indexed
        (seq and hash, moved at each flush), which MongoDB write access alone cannot rewrite. That
        entry must still be in the chain, unchanged."""
        # Streamed: the chain is walked once, never held in memory.
        count, broken = self.store.audit.count(), first_broken_entry(self.store.audit.entries())
        if broken is None and self.index is not None:
            through, last_hash = self.index.audit_index_state()
            if through:
                anchored = self.store.audit.between(through, through, newest_first=False)
                if not anchored or anchored[0].hash != last_hash:
                    broken = through
        return count, broken


def _event(line: str) -> AuditEvent:
    data = json.loads(line)
    data["ts"] = dt.datetime.fromisoformat(data["ts"])
    return AuditEvent(**data)


class AuditFlusher(threading.Thread):
    """Moves spooled events into the chain every `interval` seconds (one per web worker)."""

    def __init__(self, make_audit_log: Callable[[], AuditLog], interval: float = 0.5):
        super().__init__(name="audit-flusher", daemon=True)
        self._make_audit_log = make_audit_log
        self._interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        audit_log = self._make_audit_log()
        while not self._stop_event.wait(self._interval):
            try:
                audit_log.flush_spool(wait=False)
            except Exception:  # keep flushing later; the events stay in the spool meanwhile
                log.exception("audit flush failed; will retry")

    def stop(self) -> None:
        self._stop_event.set()
