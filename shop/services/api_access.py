"""API credentials' use cases: a customer's token pair (log in, refresh, log out), and staff keys
(create, list, revoke, authenticate). The rules are in shop.domain.api_access."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import Role, User
from shop.domain.api_access import (
    REFRESH_TOKEN_DAYS,
    ApiKey,
    Scope,
    effective_scopes,
    new_secret,
    parse_credential,
    parse_key_days,
    parse_key_name,
    parse_scopes,
)
from shop.domain.errors import N_, InvalidCredentials, NotFound
from shop.services import accounts


@dataclass(frozen=True)
class KeyHolder:
    """Who calls with a staff key, and what the key lets them do today."""
    user: User
    key: ApiKey
    scopes: frozenset[Scope]


def issue_refresh_token(db: PostgresDatabase, user: User) -> str:
    return db.api.issue_refresh_token(user.user_id, user.session_epoch, REFRESH_TOKEN_DAYS,
                                      partial(new_secret, "shr"))


def refresh(db: PostgresDatabase, raw_token: str) -> tuple[User, str]:
    """Spend a refresh token: its owner (still active, same session epoch) and a new refresh token.
    A token presented twice was stolen or leaked: the second use ends every session of its owner
    (the advice of OAuth 2.0 Security BCP on refresh token reuse)."""
    refused = InvalidCredentials(N_("That refresh token is not valid; log in again."))
    presented = parse_credential(raw_token, "shr")
    if presented is None:
        raise refused
    spent = db.api.use_refresh_token(presented.credential_id, presented.matches)
    if spent is None:
        replayed_by = db.api.was_used(presented.credential_id, presented.matches)
        if replayed_by is not None:
            accounts.end_sessions(db, replayed_by)
        raise refused
    user_id, epoch = spent
    user = accounts.active_user(db, user_id)
    if user is None or user.session_epoch != epoch:
        raise refused
    return user, issue_refresh_token(db, user)


def create_key(db: PostgresDatabase, owner: User, raw_name: object, raw_scopes: object,
               raw_days: object) -> tuple[ApiKey, str]:
    """A new key for a staff member (its text is returned once, never stored)."""
    name, scopes, days = parse_key_name(raw_name), parse_scopes(raw_scopes, owner.role), parse_key_days(raw_days)
    return db.api.create_key(owner.user_id, name, scopes, days, partial(new_secret, "shk"))


def revoke_key(db: PostgresDatabase, owner: User, key_id: int) -> None:
    if not db.api.revoke_key(owner.user_id, key_id):
        raise NotFound(N_("That key does not exist or is already revoked."))


def key_holder(db: PostgresDatabase, raw_key: str) -> KeyHolder | None:
    """The staff member a key belongs to, if the key is genuine, current, and its owner still active
    and staff; None otherwise (the caller answers 401 without saying which)."""
    presented = parse_credential(raw_key, "shk")
    if presented is None:
        return None
    found = db.api.key(presented.credential_id, presented.matches)
    if found is None or not found[0].usable(found[1]):
        return None
    key = found[0]
    user = accounts.active_user(db, key.user_id)
    if user is None or user.role is Role.CUSTOMER:
        return None
    db.api.touch_key(key.key_id)
    return KeyHolder(user, key, effective_scopes(key.scopes, user.role))
