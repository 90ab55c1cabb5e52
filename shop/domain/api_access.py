"""Who a program is, and what it may do: refresh tokens for customers, API keys with scopes for staff.

Both credentials are random secrets shown once and kept only as a SHA-256 digest: the database never
holds anything that could be replayed. Each carries its own id in clear (`shr_<id>_<secret>`,
`shk_<id>_<secret>`) so it is found by a primary-key lookup and then compared in constant time.

A customer's access token is short-lived and signed (never stored); it carries the account's session
epoch, so logging out, changing the password or a role, and deactivation end it like a browser
session (shop.domain.sessions). A refresh token carries the epoch too, and is used once: each refresh
returns a new pair.

Staff keys have scopes. An auditor sees everything and changes nothing, so an auditor's key can hold
only read scopes, whatever is asked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from shop.domain.accounts import Role
from shop.domain.errors import N_, InvalidInput

ACCESS_TOKEN_SECONDS = 15 * 60
REFRESH_TOKEN_DAYS = 30
MAX_KEY_DAYS = 366
MAX_KEYS_PER_USER = 20
_SECRET_BYTES = 32
_CREDENTIAL = re.compile(r"^(shr|shk)_([1-9][0-9]{0,17})_([A-Za-z0-9_-]{43})$", re.ASCII)


class Scope(str, Enum):
    """What a staff key may do. `…:read` scopes only read; an admin's key may also hold the others."""
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    REFUNDS_WRITE = "refunds:write"
    AUDIT_READ = "audit:read"

    @property
    def writes(self) -> bool:
        return not self.value.endswith(":read")


READ_SCOPES = frozenset(scope for scope in Scope if not scope.writes)


def parse_scopes(raw: object, role: Role) -> frozenset[Scope]:
    """The scopes a key of a person with `role` is created with; a write scope asked for an auditor's
    key, or any key asked for by a customer, is refused (never silently dropped)."""
    if not isinstance(raw, (list, tuple)) or not raw or not all(isinstance(item, str) for item in raw):
        raise InvalidInput(N_("Choose at least one scope for the key."))
    known = {scope.value: scope for scope in Scope}
    unknown = sorted({item for item in raw if item not in known})
    if unknown:
        raise InvalidInput(N_("Unknown scope: %(scope)s."), scope=unknown[0][:40])
    scopes = frozenset(known[item] for item in raw)
    if role is Role.CUSTOMER:
        raise InvalidInput(N_("Only staff have API keys; customers use tokens."))
    if role is Role.AUDITOR and any(scope.writes for scope in scopes):
        raise InvalidInput(N_("An auditor's key can only read: choose scopes ending in :read."))
    return scopes


def parse_key_name(raw: object) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name or len(name) > 80 or any(ord(ch) < 32 for ch in name):
        raise InvalidInput(N_("Give the key a name of 1 to 80 characters (what it is for)."))
    return name


def parse_key_days(raw: object) -> int | None:
    """Days until a key expires (None: it does not expire)."""
    if raw in (None, ""):
        return None
    try:
        days = int(str(raw))
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_KEY_DAYS:
        raise InvalidInput(N_("A key expires after 1 to %(max)d days, or never."), max=MAX_KEY_DAYS)
    return days


@dataclass(frozen=True)
class NewSecret:
    """A credential as shown once to its owner, and the digest kept of it."""
    text: str
    digest: str


def new_secret(kind: str, credential_id: int) -> NewSecret:
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    text = f"{kind}_{credential_id}_{secret}"
    return NewSecret(text, digest_of(text))


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PresentedCredential:
    kind: str  # "shr" (refresh token) or "shk" (staff API key)
    credential_id: int
    text: str

    def matches(self, digest: str) -> bool:
        return hmac.compare_digest(digest_of(self.text), digest)


def parse_credential(raw: str, kind: str) -> PresentedCredential | None:
    """A credential of `kind` as presented, or None when it cannot be one (never a database lookup)."""
    match = _CREDENTIAL.match(raw.strip())
    if match is None or match.group(1) != kind:
        return None
    return PresentedCredential(kind, int(match.group(2)), raw.strip())


@dataclass(frozen=True)
class ApiKey:
    key_id: int
    user_id: int
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def effective_scopes(key_scopes: frozenset[Scope], role: Role) -> frozenset[Scope]:
    """What a key may do today: its scopes, cut to reads if its owner is now an auditor, and to
    nothing if the owner is a customer (a demoted admin's keys stop writing at once)."""
    if role is Role.ADMIN:
        return key_scopes
    if role is Role.AUDITOR:
        return key_scopes & READ_SCOPES
    return frozenset()
