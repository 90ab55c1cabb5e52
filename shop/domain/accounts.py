"""Account rules: roles, e-mail and password policy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from shop.domain.errors import N_, Conflict, InvalidInput

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MAX_NAME_LENGTH = 120
MAX_EMAIL_LENGTH = 254
# Deliberately simple: one @, something on each side, a dot in the domain, no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Role(str, Enum):
    ADMIN = "admin"
    CUSTOMER = "customer"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class User:
    user_id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
    session_epoch: int = 0  # a session is valid only while it carries this number (shop.domain.sessions)
    email_verified: bool = True  # False: self-registered, activation link not followed yet


def normalize_email(email: str) -> str:
    """E-mails compare case-insensitively: stored lower-case, validated once here."""
    if not isinstance(email, str):
        raise InvalidInput(N_("Enter a valid e-mail address."))
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise InvalidInput(N_("Enter a valid e-mail address."))
    return email


def validate_full_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(N_("Enter your name."))
    name = " ".join(name.split())
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(N_("The name can have at most %(max)d characters."), max=MAX_NAME_LENGTH)
    return name


def validate_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(N_("The password must have at least %(min)d characters."), min=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(N_("The password can have at most %(max)d characters."), max=MAX_PASSWORD_LENGTH)
    return password


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(
            N_("Unknown role %(role)s; use admin, customer or auditor."), role=str(value)[:20]
        ) from None



def check_account_change(actor: User, target: User) -> None:
    """Staff do not change their own role or switch themselves off: another admin does that, so one
    slip cannot lock the shop out. (Keeping at least one active admin is enforced by the database
    adapter under a lock, because two admins can act at the same moment.)"""
    if actor.user_id == target.user_id:
        raise Conflict(N_("You cannot change your own role or deactivate your own account; ask another admin."))
