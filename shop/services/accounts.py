"""Account use cases: register, authenticate; staff create users, change roles, (de)activate."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shop.adapters.postgres import PostgresDatabase, UniqueViolation
from shop.domain.accounts import (
    Role,
    User,
    check_account_change,
    normalize_email,
    validate_full_name,
    validate_password,
)
from shop.domain.errors import N_, Conflict, InvalidCredentials, NotFound

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the e-mail is unknown, so a failed login takes as long either way.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def register_customer(db: PostgresDatabase, email: str, full_name: str, password: str) -> User:
    """Self-registration always creates a customer; staff roles come only from an admin."""
    return create_user(db, email, full_name, password, Role.CUSTOMER)


def create_user(db: PostgresDatabase, email: str, full_name: str, password: str, role: Role) -> User:
    email = normalize_email(email)
    full_name = validate_full_name(full_name)
    password = validate_password(password)
    try:
        return db.insert_user(email, full_name, hash_password(password), role)
    except UniqueViolation:
        raise Conflict(N_("An account with that e-mail already exists; log in or use another e-mail.")) from None


def authenticate(db: PostgresDatabase, email: str, password: str) -> User:
    """The user with these credentials; any failure is the same generic error."""
    try:
        email = normalize_email(email)
    except Exception:
        email = ""
    found = db.find_user_credentials(email) if email else None
    stored_hash = found[1] if found else _DUMMY_HASH
    try:
        _hasher.verify(stored_hash, password or "")
        verified = True
    except (VerificationError, InvalidHashError):
        verified = False
    if not (found and verified and found[0].is_active):
        raise InvalidCredentials(N_("Wrong e-mail or password."))
    user = found[0]
    if _hasher.check_needs_rehash(stored_hash):
        db.update_password_hash(user.user_id, hash_password(password))
    return user


def change_password(db: PostgresDatabase, user: User, current_password: str, new_password: str) -> int:
    """A new password for a logged-in user who knows the current one. Every session of the account
    ends (a stolen cookie with it); returns the new session epoch for the session that asked."""
    found = db.find_user_credentials(user.email)
    try:
        verified = bool(found) and _hasher.verify(found[1], current_password or "")
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified:
        raise InvalidCredentials(N_("The current password is wrong."))
    new_password = validate_password(new_password)
    return db.update_password_hash(user.user_id, hash_password(new_password), end_sessions=True)


def end_sessions(db: PostgresDatabase, user_id: int) -> None:
    """Log a user out everywhere: every session cookie of the account stops working."""
    db.end_sessions(user_id)


def active_user(db: PostgresDatabase, user_id: int) -> User | None:
    """The user behind a session, or None once deactivated (which logs them out)."""
    user = db.get_user(user_id)
    return user if user and user.is_active else None


def change_account(db: PostgresDatabase, actor: User, user_id: int, *, role: Role | None = None,
                   is_active: bool | None = None) -> tuple[User, User]:
    """Change a user's role and/or switch the account on or off; returns (before, after).

    The shop always keeps one active admin: the check runs under the admins' row locks (see
    PostgresDatabase.locked_user), so it also holds when two admins act at the same moment.
    A deactivated user's next request finds no active account and is logged out.
    """
    with db.locked_user(user_id) as (cur, target, admins):
        if target is None:
            raise NotFound(N_("There is no such user."))
        check_account_change(actor, target)
        after_role = role if role is not None else target.role
        after_active = is_active if is_active is not None else target.is_active
        stays_admin = after_role is Role.ADMIN and after_active
        if target.user_id in admins and not stays_admin and len(admins) <= 1:
            raise Conflict(N_("%(name)s is the last active admin; make someone else admin first."),
                           name=target.full_name)
        return target, db.update_user(cur, user_id, after_role, after_active)
