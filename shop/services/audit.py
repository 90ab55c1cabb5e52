"""Recording audit events without ever blocking or undoing the action they record.

An event is appended to the hash chain in MongoDB (`audit_logs`). If MongoDB does not answer, the
event goes to an append-only spool file (fsynced) under the data directory and the recovery pass
moves it into the chain later, in the order it was spooled. An event is therefore never lost
silently; it may enter the chain late (its `ts` is when it happened). docs/audit.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
from pathlib import Path

from shop.adapters.mongo import MongoStore, StoreError
from shop.domain.audit import AuditEvent, chain_entry, first_broken_entry

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, store: MongoStore, spool_path: Path):
        self.store = store
        self.spool_path = spool_path

    def record(self, event: AuditEvent) -> None:
        """Append the event; never raises — a failure spools it instead."""
        try:
            self.store.append_audit_entry(lambda seq, previous: chain_entry(event, seq, previous))
        except StoreError as error:
            log.error("audit log unavailable (%s): spooling %s", error, event.action)
            self._spool(event)
        except Exception:  # a bug in auditing must not break the business action
            log.exception("audit event %s could not be recorded; spooling it", event.action)
            self._spool(event)

    def _spool(self, event: AuditEvent) -> None:
        line = json.dumps({**dataclasses.asdict(event), "ts": event.ts.isoformat()}, default=str)
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.spool_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def flush_spool(self) -> int:
        """Move spooled events into the chain, oldest first; returns how many moved."""
        if not self.spool_path.exists():
            return 0
        moved = 0
        fd = os.open(self.spool_path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r") as handle:
                lines = [line for line in handle.read().splitlines() if line.strip()]
            remaining = list(lines)
            for line in lines:
                data = json.loads(line)
                data["ts"] = dt.datetime.fromisoformat(data["ts"])
                event = AuditEvent(**data)
                try:
                    self.store.append_audit_entry(lambda seq, previous, e=event: chain_entry(e, seq, previous))
                except StoreError:
                    break
                remaining.pop(0)
                moved += 1
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            if remaining:
                os.write(fd, ("\n".join(remaining) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return moved

    def verify(self) -> tuple[int, int | None]:
        """(number of entries, first broken sequence number or None)."""
        entries = list(self.store.audit_entries())
        return len(entries), first_broken_entry(entries)
