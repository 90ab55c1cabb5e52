"""How long a login lasts: the rules, in plain Python (the web layer stores the stamps in the cookie).

A session is valid while all three hold:
  - it carries the user's current session epoch (logout, a password change, a role change and
    deactivation move the epoch on, which ends every session of that user at once);
  - it was used within the idle lifetime (each request counts, recorded at most once a minute);
  - it started within the absolute lifetime (a stolen cookie stops working however much it is used).
The stamps sit in the signed session cookie: a client can present an old cookie, never alter one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from shop.domain.json import JsonObject

TOUCH_EVERY_SECONDS = 60  # a session's "last used" is rewritten at most this often (one cookie update)


class SessionState(str, Enum):
    VALID = "valid"
    REVOKED = "revoked"  # the epoch moved on: logged out elsewhere, password or role changed, deactivated
    IDLE = "idle"
    TOO_OLD = "too_old"
    UNSTAMPED = "unstamped"  # no stamps at all: made before this rule, or not by a login


@dataclass(frozen=True)
class SessionStamp:
    epoch: int
    started_at: float  # seconds since the epoch, from the server's clock
    seen_at: float

    @classmethod
    def from_session(cls, data: Mapping[str, object]) -> SessionStamp | None:
        """The stamp stored in a session mapping, or None when it is missing or malformed."""
        try:
            epoch, started, seen = data["_epoch"], data["_started"], data["_seen"]
        except (KeyError, TypeError):
            return None
        if not (isinstance(epoch, int) and isinstance(started, (int, float)) and isinstance(seen, (int, float))):
            return None
        return cls(epoch, float(started), float(seen))

    def as_session(self) -> JsonObject:
        return {"_epoch": self.epoch, "_started": self.started_at, "_seen": self.seen_at}


@dataclass(frozen=True)
class SessionPolicy:
    idle_seconds: int
    absolute_seconds: int

    def state(self, stamp: SessionStamp | None, current_epoch: int, now: float) -> SessionState:
        if stamp is None:
            return SessionState.UNSTAMPED
        if stamp.epoch != current_epoch:
            return SessionState.REVOKED
        if now - stamp.started_at >= self.absolute_seconds or stamp.started_at > now + TOUCH_EVERY_SECONDS:
            return SessionState.TOO_OLD
        if now - stamp.seen_at >= self.idle_seconds:
            return SessionState.IDLE
        return SessionState.VALID

    @staticmethod
    def needs_touch(stamp: SessionStamp, now: float) -> bool:
        return now - stamp.seen_at >= TOUCH_EVERY_SECONDS
