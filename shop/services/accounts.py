"""Account use cases: register, authenticate; staff create users, change roles, (de)activate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import (
    Role,
    User,
    check_account_change,
    normalize_email,
    validate_full_name,
    validate_password,
)
from shop.domain.errors import N_, Conflict, InvalidCredentials, InvalidInput, NotActivated, NotFound
from shop.domain.json import JsonObject
from shop.domain.order_effects import MailKind

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the e-mail is unknown, so a failed login takes as long either way.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True)
class Registration:
    user: User
    created: bool  # False: the address already had an account
    activation: JsonObject | None  # what its activation link carries; None: already activated (left as it was)


def register_customer(db: PostgresDatabase, email: str, full_name: str, password: str) -> Registration:
    """Self-registration: a customer account that logs in once its e-mail link is followed.

    An address that already has an account is not an error here: the caller answers both cases
    the same way and tells the owner of the address by e-mail, so the form cannot be used to find
    out who has an account. The password is hashed either way, so both take as long. Registering an
    address whose account was never activated replaces its name and password (shop.adapters.postgres.users).
    """
    email = normalize_email(email)
    full_name = validate_full_name(full_name)
    password_hash = hash_password(validate_password(password))
    user, created = db.users.register(email, full_name, password_hash)
    if user.email_verified:
        return Registration(user, created=False, activation=None)
    return Registration(user, created=created, activation=_activation_claims(user, password_hash))


def _activation_claims(user: User, password_hash: str) -> JsonObject:
    """An activation link's claims: the account, its address, and fingerprints of the password and
    session epoch it was made with — a later registration, password change or logout everywhere
    makes older links worthless."""
    return {"u": user.user_id, "e": user.email, "f": _fingerprint(password_hash), "s": user.session_epoch}


def queue_account_mail(db: PostgresDatabase, kind: MailKind, user: User, language: str | None) -> None:
    """Send one of an account's mails through the outbox, in `language` (None: the account's own);
    shop.web.mail_compose writes it, and signs its link then: no link is stored."""
    db.outbox.queue_account_mail(kind, user.user_id, language)


def activation_claims(db: PostgresDatabase, user_id: int) -> JsonObject | None:
    """What an activation link for the account carries now, or None once it is active (or gone)."""
    found = db.users.credentials_by_id(user_id)
    if found is None or found[0].email_verified:
        return None
    return _activation_claims(*found)


def activate(db: PostgresDatabase, claims: JsonObject) -> User | None:
    """Follow an activation link (signature and age already checked by the caller): once, and only
    while the account still has the password and session epoch the link was made for."""
    found = db.users.credentials_by_id(int(claims["u"]))
    if found is None or _fingerprint(found[1]) != claims.get("f"):
        return None
    user = db.users.mark_email_verified(found[0].user_id, str(claims["e"]), found[1], int(claims["s"]))
    return user if user and user.is_active else None


def remember_language(db: PostgresDatabase, user_id: int, language: str) -> None:
    """The language the shop's mails to this person are written in (one the shop speaks: the caller
    checks it against the supported locales)."""
    db.users.set_language(user_id, language)


def create_user(db: PostgresDatabase, email: str, full_name: str, password: str, role: Role) -> User:
    email = normalize_email(email)
    full_name = validate_full_name(full_name)
    password = validate_password(password)
    user = db.users.insert(email, full_name, hash_password(password), role)
    if user is None:
        raise Conflict(N_("An account with that e-mail already exists; log in or use another e-mail."))
    return user


def authenticate(db: PostgresDatabase, email: str, password: str) -> User:
    """The user with these credentials; any failure is the same generic error."""
    try:
        email = normalize_email(email)
    except InvalidInput:  # not an address: no account has it, and the answer says nothing more
        email = ""
    found = db.users.credentials(email) if email else None
    stored_hash = found[1] if found else _DUMMY_HASH
    try:
        _hasher.verify(stored_hash, password or "")
        verified = True
    except (VerificationError, InvalidHashError):
        verified = False
    if not (found and verified and found[0].is_active):
        raise InvalidCredentials(N_("Wrong e-mail or password."))
    user = found[0]
    if not user.email_verified:  # only someone who knows the password learns this
        raise NotActivated(N_("Activate your account first: follow the link in the e-mail we sent you. "
                              "Registering again with the same address sends a new link."))
    if _hasher.check_needs_rehash(stored_hash):
        db.users.update_password_hash(user.user_id, hash_password(password))
    return user


def change_password(db: PostgresDatabase, user: User, current_password: str, new_password: str) -> int:
    """A new password for a logged-in user who knows the current one. Every session of the account
    ends (a stolen cookie with it); returns the new session epoch for the session that asked."""
    found = db.users.credentials(user.email)
    try:
        verified = found is not None and _hasher.verify(found[1], current_password or "")
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified:
        raise InvalidCredentials(N_("The current password is wrong."))
    new_password = validate_password(new_password)
    return db.users.update_password_hash(user.user_id, hash_password(new_password), end_sessions=True)


def password_reset_claims(db: PostgresDatabase, *, email: str | None = None,
                          user_id: int | None = None) -> tuple[User, JsonObject] | None:
    """What a password-reset link carries for an active account (by e-mail or id), or None.

    The claims hold a fingerprint of the current password hash: once the password changes (by this
    link or otherwise) the link stops working, so each link works once.
    """
    if email is not None:
        try:
            found = db.users.credentials(normalize_email(email))
        except InvalidInput:
            return None
    elif user_id is not None:
        found = db.users.credentials_by_id(user_id)
    else:
        return None
    if not found or not found[0].is_active:
        return None
    user, password_hash = found
    return user, {"u": user.user_id, "f": _fingerprint(password_hash)}


def reset_link_is_current(db: PostgresDatabase, claims: JsonObject) -> bool:
    """Whether a reset link's account is active and still has the password the link was made for."""
    found = db.users.credentials_by_id(int(claims["u"]))
    return found is not None and found[0].is_active and _fingerprint(found[1]) == claims.get("f")


def reset_password(db: PostgresDatabase, claims: JsonObject, new_password: str) -> User:
    """Set a new password through a reset link's claims (signature and age checked by the caller)."""
    new_password = validate_password(new_password)
    found = db.users.credentials_by_id(int(claims["u"]))
    if not found or _fingerprint(found[1]) != claims.get("f"):
        raise InvalidInput(N_("This password link is not valid any more: it was used, the password changed "
                              "since, or it expired. Ask for a new one."))
    user = db.users.set_password(found[0].user_id, hash_password(new_password), found[1])
    if user is None:  # changed or deactivated meanwhile
        raise InvalidInput(N_("This password link is not valid any more: it was used, the password changed "
                              "since, or it expired. Ask for a new one."))
    return user


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def end_sessions(db: PostgresDatabase, user_id: int) -> None:
    """Log a user out everywhere: every session cookie of the account stops working."""
    db.users.end_sessions(user_id)


def active_user(db: PostgresDatabase, user_id: int) -> User | None:
    """The user behind a session, or None once deactivated (which logs them out)."""
    user = db.users.get(user_id)
    return user if user and user.is_active else None


def change_account(db: PostgresDatabase, actor: User, user_id: int, *, role: Role | None = None,
                   is_active: bool | None = None) -> tuple[User, User]:
    """Change a user's role and/or switch the account on or off; returns (before, after).

    The shop always keeps one active admin: the check runs under the admins' row locks (see
    db.users.locked), so it also holds when two admins act at the same moment.
    A deactivated user's next request finds no active account and is logged out.
    """
    with db.users.locked(user_id) as account:
        target, admins = account.user, account.admins
        if target is None:
            raise NotFound(N_("There is no such user."))
        check_account_change(actor, target)
        after_role = role if role is not None else target.role
        after_active = is_active if is_active is not None else target.is_active
        stays_admin = after_role is Role.ADMIN and after_active
        if target.user_id in admins and not stays_admin and len(admins) <= 1:
            raise Conflict(N_("%(name)s is the last active admin; make someone else admin first."),
                           name=target.full_name)
        return target, account.update(after_role, after_active)


def update_profile(db: PostgresDatabase, user: User, full_name: str, language: str) -> User:
    """A person's own name and language (what the shop's mails use)."""
    if language not in ("es", "en"):
        raise InvalidInput(N_("Choose Spanish or English."))
    return db.users.update_profile(user.user_id, validate_full_name(full_name), language)
