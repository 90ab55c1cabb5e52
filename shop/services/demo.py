"""Demo data for development: the demo catalog and one user per role with generated passwords."""

from __future__ import annotations

import secrets

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import Role
from shop.domain.json import JsonObject
from shop.services.accounts import create_user
from shop.services.catalog import load_demo_catalog

DEMO_USERS = (
    ("admin@tienda.local", "Ana Admin", Role.ADMIN),
    ("cliente@tienda.local", "Carlos Cliente", Role.CUSTOMER),
    ("auditor@tienda.local", "Aurora Auditora", Role.AUDITOR),
)


def load_demo_data(db: PostgresDatabase, store: MongoStore) -> tuple[int, list[JsonObject] | None]:
    """Fill empty databases: returns (products added, demo logins created or None if users existed)."""
    added = load_demo_catalog(db, store)
    if db.users.count():
        return added, None
    logins = []
    for email, name, role in DEMO_USERS:
        password = secrets.token_urlsafe(12)  # generated, never hard-coded
        create_user(db, email, name, password, role)
        logins.append({"email": email, "password": password, "role": role.value})
    return added, logins
