"""Users in PostgreSQL (`db.users`): accounts, credentials, sessions' epoch, and the row lock every
role or activation change takes (`db.users.locked`, a unit of work: no cursor leaves this module)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from shop.adapters.postgres.errors import translates_errors
from shop.domain.accounts import Role, User
from shop.domain.order_effects import MailKind

_USER_COLUMNS = "user_id, email, full_name, role, is_active, session_epoch, email_verified"


@translates_errors
class Users:
    def __init__(self, db):
        self._db = db

    def insert(self, email: str, full_name: str, password_hash: str, role: Role, *,
               email_verified: bool = True) -> User | None:
        """Insert a user; None when the e-mail is taken. ON CONFLICT instead of a unique violation:
        a failed statement is logged by the server with its text, and this one carries a password hash."""
        with self._db.transaction() as cur:
            cur.execute(
                f"""INSERT INTO users (email, full_name, password_hash, role, email_verified)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT (email) DO NOTHING
                   RETURNING {_USER_COLUMNS}""",  # noqa: S608  # constant
                (email, full_name, password_hash, role.value, email_verified),
            )
            row = cur.fetchone()
        return _user(row) if row else None

    def register(self, email: str, full_name: str, password_hash: str) -> tuple[User, bool]:
        """A self-registration: (the account, whether it is new). An address whose account was never
        activated takes the newest registration's name and password, so whoever registered it first
        (perhaps not the address's owner) keeps nothing once the owner registers and activates.
        An activated account is left exactly as it was."""
        with self._db.transaction() as cur:
            cur.execute(
                f"""INSERT INTO users (email, full_name, password_hash, role, email_verified)
                   VALUES (%s, %s, %s, 'customer', FALSE)
                   ON CONFLICT (email) DO UPDATE SET full_name = EXCLUDED.full_name,
                                                     password_hash = EXCLUDED.password_hash
                   WHERE NOT users.email_verified
                   RETURNING {_USER_COLUMNS}, (xmax = 0) AS created""",  # noqa: S608  # constant
                (email, full_name, password_hash),
            )
            row = cur.fetchone()
            if row is not None:
                return _user(row), row["created"]
            cur.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE email = %s",  # noqa: S608  # constant
                        (email,))
            return _user(cur.fetchone()), False

    def mark_email_verified(self, user_id: int, email: str, password_hash: str, session_epoch: int) -> User | None:
        """The activation link was followed: the account (still with that e-mail, the password and the
        session epoch the link was made for, and not yet activated) may log in; None otherwise, so a
        link works once. The welcome mail is written to the outbox in the same transaction."""
        with self._db.transaction() as cur:
            cur.execute(f"""UPDATE users SET email_verified = TRUE
                            WHERE user_id = %s AND email = %s AND NOT email_verified
                              AND password_hash = %s AND session_epoch = %s
                            RETURNING {_USER_COLUMNS}""",  # noqa: S608  # constant
                        (user_id, email, password_hash, session_epoch))
            row = cur.fetchone()
            if row is not None:
                cur.execute("""INSERT INTO mail_outbox (kind, user_id, to_address, language)
                               SELECT %s, user_id, email, language FROM users WHERE user_id = %s""",
                            (MailKind.ACCOUNT_WELCOME.value, user_id))
        return _user(row) if row else None

    def credentials(self, email: str) -> tuple[User, str] | None:
        with self._db.transaction() as cur:
            cur.execute(
                f"""SELECT {_USER_COLUMNS}, password_hash
                   FROM users WHERE email = %s""",  # noqa: S608  # constant
                (email,),
            )
            row = cur.fetchone()
        return (_user(row), row["password_hash"]) if row else None


    def credentials_by_id(self, user_id: int) -> tuple[User, str] | None:
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE user_id = %s",  # noqa: S608
                        (user_id,))
            row = cur.fetchone()
        return (_user(row), row["password_hash"]) if row else None


    def set_password(self, user_id: int, password_hash: str, expected_hash: str) -> User | None:
        """A password reset: only if the password is still the one the reset link was made for (so a
        link works once); verifies the e-mail (the link came through it) and ends every session."""
        with self._db.transaction() as cur:
            cur.execute(f"""UPDATE users SET password_hash = %s, email_verified = TRUE,
                                   session_epoch = session_epoch + 1
                            WHERE user_id = %s AND password_hash = %s AND is_active
                            RETURNING {_USER_COLUMNS}""",  # noqa: S608  # constant
                        (password_hash, user_id, expected_hash))
            row = cur.fetchone()
        return _user(row) if row else None


    def get(self, user_id: int) -> User | None:
        with self._db.transaction() as cur:
            cur.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = %s",  # noqa: S608  # constant
                (user_id,),
            )
            row = cur.fetchone()
        return _user(row) if row else None

    def names(self, user_ids: list[int]) -> dict[int, str]:
        """user id → full name, for the ids that exist (one statement, however many ids)."""
        if not user_ids:
            return {}
        with self._db.transaction() as cur:
            cur.execute("SELECT user_id, full_name FROM users WHERE user_id = ANY(%s)", (sorted(set(user_ids)),))
            return {row["user_id"]: row["full_name"] for row in cur.fetchall()}


    def update_password_hash(self, user_id: int, password_hash: str, *, end_sessions: bool = False) -> int:
        """Store a new hash (a rehash at login keeps the sessions; a password change ends them all).
        Returns the user's session epoch after the update."""
        with self._db.transaction() as cur:
            cur.execute("""UPDATE users SET password_hash = %s,
                                  session_epoch = session_epoch + CASE WHEN %s THEN 1 ELSE 0 END
                           WHERE user_id = %s RETURNING session_epoch""", (password_hash, end_sessions, user_id))
            return cur.fetchone()["session_epoch"]


    def update_profile(self, user_id: int, full_name: str, language: str) -> User:
        with self._db.transaction() as cur:
            cur.execute(f"UPDATE users SET full_name = %s, language = %s WHERE user_id = %s "  # noqa: S608
                        f"RETURNING {_USER_COLUMNS}", (full_name, language, user_id))
            return _user(cur.fetchone())


    def language_of(self, user_id: int) -> str:
        with self._db.transaction() as cur:
            cur.execute("SELECT language FROM users WHERE user_id = %s", (user_id,))
            row = cur.fetchone()
            return row["language"] if row else "es"


    def set_language(self, user_id: int, language: str) -> None:
        """The language the shop's mails to this user are written in ('es' or 'en')."""
        with self._db.transaction() as cur:
            cur.execute("UPDATE users SET language = %s WHERE user_id = %s", (language, user_id))


    def end_sessions(self, user_id: int) -> None:
        """Every session of this user stops being valid on its next request (logout everywhere)."""
        with self._db.transaction() as cur:
            cur.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE user_id = %s", (user_id,))


    def count(self) -> int:
        with self._db.transaction() as cur:
            cur.execute("SELECT count(*) AS n FROM users")
            return cur.fetchone()["n"]


    def find(self, role: Role | None = None, email: str | None = None, limit: int = 50, *,
                   after_id: int | None = None, before_id: int | None = None) -> tuple[list[User], int]:
        """Users for the staff console in account order (exact role and e-mail filters): those after
        `after_id`, or the nearest before `before_id` (read backwards); and how many match, counted
        up to 1,001. The password hash is never selected."""
        params = {"role": role.value if role else None, "email": email, "after": after_id, "before": before_id,
                  "limit": limit}
        filters = """(%(role)s::text IS NULL OR role = %(role)s) AND (%(email)s::text IS NULL OR email = %(email)s)"""
        with self._db.transaction() as cur:
            cur.execute(
                f"""SELECT {_USER_COLUMNS} FROM users
                    WHERE {filters} AND (%(after)s::int IS NULL OR user_id > %(after)s)
                      AND (%(before)s::int IS NULL OR user_id < %(before)s)
                    ORDER BY user_id {"DESC" if before_id is not None else "ASC"} LIMIT %(limit)s""",  # noqa: S608  # fixed fragments
                params)
            users = [_user(row) for row in cur.fetchall()]
            cur.execute(f"SELECT count(*) AS n FROM (SELECT 1 FROM users WHERE {filters} LIMIT 1001) AS matching",  # noqa: S608  # a fixed fragment
                        params)
            return users, cur.fetchone()["n"]


    @contextlib.contextmanager
    def locked(self, user_id: int) -> Iterator[LockedAccount]:
        """A user row under FOR UPDATE, with the active admins' rows locked first, in id order, so two
        admins demoting each other at once are serialised and the second sees only one admin left."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT user_id FROM users WHERE role = 'admin' AND is_active
                           ORDER BY user_id FOR UPDATE""")
            admins = [row["user_id"] for row in cur.fetchall()]
            cur.execute(f"""SELECT {_USER_COLUMNS} FROM users
                           WHERE user_id = %s FOR UPDATE""",  # noqa: S608  # constant
                        (user_id,))
            row = cur.fetchone()
            yield LockedAccount(cur, _user(row) if row else None, admins)


@translates_errors
class LockedAccount:
    """One account under its row lock, in one transaction (`Users.locked`): `user` (None if there is
    no such account), `admins` (the active admins' ids, locked too), and the change allowed on it."""

    def __init__(self, cur, user: User | None, admins: list[int]):
        self._cur, self.user, self.admins = cur, user, admins

    def update(self, role: Role, is_active: bool) -> User:
        """A change of role or activation; it ends the user's sessions."""
        if self.user is None:
            raise LookupError("no such account to update")  # the caller checks `user` first
        user_id = self.user.user_id
        self._cur.execute("""UPDATE users SET role = %(role)s, is_active = %(active)s,
                                    session_epoch = session_epoch
                                        + CASE WHEN role <> %(role)s OR is_active <> %(active)s THEN 1 ELSE 0 END
                             WHERE user_id = %(user_id)s
                             RETURNING user_id, email, full_name, role, is_active, session_epoch, email_verified""",
                          {"role": role.value, "active": is_active, "user_id": user_id})
        self.user = _user(self._cur.fetchone())
        return self.user


def _user(row: dict) -> User:
    return User(user_id=row["user_id"], email=row["email"], full_name=row["full_name"],
                role=Role(row["role"]), is_active=row["is_active"], session_epoch=row.get("session_epoch", 0),
                email_verified=row.get("email_verified", True))
