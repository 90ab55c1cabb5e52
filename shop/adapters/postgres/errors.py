"""psycopg2's exceptions as the shop's own (shop.adapters.errors): every aggregate module's class
is decorated with `translates_errors`, so what leaves `db.orders`, `db.users`, … never is a driver's."""

from __future__ import annotations

import psycopg2
import psycopg2.errors

from shop.adapters.errors import DatabaseError, DatabaseUnavailable, UniqueViolation, translating

__all__ = ["DRIVER_UNAVAILABLE", "shop_error", "translates_errors", "translating"]

# What "the server did not answer" looks like from psycopg2 (also for code that talks to it directly).
DRIVER_UNAVAILABLE = (psycopg2.OperationalError, psycopg2.InterfaceError)


def shop_error(error: BaseException) -> Exception | None:
    if isinstance(error, DRIVER_UNAVAILABLE):
        return DatabaseUnavailable(str(error).strip())
    if isinstance(error, psycopg2.errors.UniqueViolation):
        return UniqueViolation(str(error).strip(), error.diag.constraint_name)
    if isinstance(error, psycopg2.Error):
        return DatabaseError(str(error).strip())
    return None


translates_errors = translating(shop_error)
