"""Customers' refresh tokens and staff API keys in PostgreSQL (`db.api`;
database/postgres/0022_api_credentials.sql). Only digests of the secrets are stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shop.adapters.postgres.errors import translates_errors
from shop.domain.api_access import MAX_KEYS_PER_USER, ApiKey, NewSecret, Scope
from shop.domain.errors import N_, Conflict

_KEY = "key_id, user_id, name, scopes, created_at, expires_at, revoked_at, last_used_at"


def _key(row: dict) -> ApiKey:
    return ApiKey(row["key_id"], row["user_id"], row["name"], frozenset(Scope(s) for s in row["scopes"]),
                  row["created_at"], row["expires_at"], row["revoked_at"], row["last_used_at"])


@translates_errors
class ApiCredentials:
    def __init__(self, db):
        self._db = db

    # --- customers' refresh tokens -------------------------------------------------------------

    def issue_refresh_token(self, user_id: int, session_epoch: int, days: int,
                            make_secret: Callable[[int], NewSecret]) -> str:
        """A new refresh token for the user (its text, shown once; its digest kept)."""
        with self._db.transaction() as cur:
            cur.execute("""INSERT INTO api_refresh_tokens (user_id, session_epoch, expires_at)
                           VALUES (%s, %s, now() + make_interval(days => %s)) RETURNING token_id""",
                        (user_id, session_epoch, days))
            token_id = cur.fetchone()["token_id"]
            secret = make_secret(token_id)
            cur.execute("UPDATE api_refresh_tokens SET digest = %s WHERE token_id = %s", (secret.digest, token_id))
        return secret.text

    def use_refresh_token(self, token_id: int, matches: Callable[[str], bool]) -> tuple[int, int] | None:
        """Spend a refresh token: (user id, the epoch it was issued in) if it exists, matches, has not
        expired and was not used before; None otherwise. The row lock makes two refreshes with one
        token spend it once."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT user_id, digest, session_epoch, used_at IS NOT NULL AS used,
                                  expires_at <= now() AS expired
                           FROM api_refresh_tokens WHERE token_id = %s FOR UPDATE""", (token_id,))
            row = cur.fetchone()
            if row is None or row["digest"] is None or not matches(row["digest"]) or row["used"] or row["expired"]:
                return None
            cur.execute("UPDATE api_refresh_tokens SET used_at = now() WHERE token_id = %s", (token_id,))
            return row["user_id"], row["session_epoch"]

    def was_used(self, token_id: int, matches: Callable[[str], bool]) -> int | None:
        """The owner of a genuine refresh token that was already spent (a replay), else None."""
        with self._db.transaction() as cur:
            cur.execute("SELECT user_id, digest FROM api_refresh_tokens WHERE token_id = %s AND used_at IS NOT NULL",
                        (token_id,))
            row = cur.fetchone()
            return row["user_id"] if row and row["digest"] and matches(row["digest"]) else None

    def forget_spent_tokens(self) -> int:
        """Delete refresh tokens past their expiry (spent ones are kept until then, to spot replays)."""
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM api_refresh_tokens WHERE expires_at < now()")
            return cur.rowcount

    # --- staff API keys ------------------------------------------------------------------------

    def create_key(self, user_id: int, name: str, scopes: frozenset[Scope], days: int | None,
                   make_secret: Callable[[int], NewSecret]) -> tuple[ApiKey, str]:
        """A new key (and its text, shown once). The owner's row is locked while counting their keys."""
        with self._db.transaction() as cur:
            cur.execute("SELECT FROM users WHERE user_id = %s FOR NO KEY UPDATE", (user_id,))
            cur.execute("SELECT count(*) AS n FROM api_keys WHERE user_id = %s AND revoked_at IS NULL "
                        "AND (expires_at IS NULL OR expires_at > now())", (user_id,))
            if cur.fetchone()["n"] >= MAX_KEYS_PER_USER:
                raise Conflict(N_("You can have at most %(max)d active keys; revoke one first."),
                               max=MAX_KEYS_PER_USER)
            cur.execute(f"""INSERT INTO api_keys (user_id, name, scopes, expires_at)
                            VALUES (%s, %s, %s, CASE WHEN %s::int IS NULL THEN NULL
                                                     ELSE now() + make_interval(days => %s::int) END)
                            RETURNING {_KEY}""",  # noqa: S608  # constant
                        (user_id, name, sorted(scope.value for scope in scopes), days, days))
            key = _key(cur.fetchone())
            secret = make_secret(key.key_id)
            cur.execute("UPDATE api_keys SET digest = %s WHERE key_id = %s", (secret.digest, key.key_id))
        return key, secret.text

    def key(self, key_id: int, matches: Callable[[str], bool]) -> tuple[ApiKey, datetime] | None:
        """The key with that id if the presented text matches it, with the database's clock."""
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_KEY}, digest, now() AS now FROM api_keys WHERE key_id = %s",  # noqa: S608
                        (key_id,))
            row = cur.fetchone()
            if row is None or row["digest"] is None or not matches(row["digest"]):
                return None
            return _key(row), row["now"]

    def touch_key(self, key_id: int) -> None:
        """Record a use (at most once a minute: a busy key is not a write per request)."""
        with self._db.transaction() as cur:
            cur.execute("""UPDATE api_keys SET last_used_at = now() WHERE key_id = %s
                           AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')""", (key_id,))

    def keys_of(self, user_id: int) -> list[ApiKey]:
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_KEY} FROM api_keys WHERE user_id = %s ORDER BY key_id DESC",  # noqa: S608
                        (user_id,))
            return [_key(row) for row in cur.fetchall()]

    def revoke_key(self, user_id: int, key_id: int) -> bool:
        """Revoke one of the user's keys; False if it is not theirs or already revoked."""
        with self._db.transaction() as cur:
            cur.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND user_id = %s "
                        "AND revoked_at IS NULL", (key_id, user_id))
            return cur.rowcount == 1
