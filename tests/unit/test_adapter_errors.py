"""The adapters' public methods raise the shop's own errors, with the driver's error as the cause,
also from a returned generator or unit of work; other errors pass through untouched."""

from __future__ import annotations

import contextlib

import psycopg2
import psycopg2.errors
import pytest
from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError

from shop.adapters.errors import (
    DatabaseError,
    DatabaseUnavailable,
    StoreError,
    StoreUnavailable,
    UniqueViolation,
)
from shop.adapters.mongo.errors import translates_errors as mongo_errors
from shop.adapters.postgres.errors import translates_errors as postgres_errors
from shop.domain.errors import Conflict


@postgres_errors
class Ledger:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def read(self):
        raise self.error

    def rows(self):
        yield 1
        raise self.error

    @contextlib.contextmanager
    def locked(self, fail_at: str):
        if fail_at == "enter":
            raise self.error
        yield self
        if fail_at == "commit":
            raise self.error

    def _private(self):
        raise self.error


@mongo_errors
class Stock:
    def reserve(self, error: Exception):
        raise error


@pytest.mark.parametrize(("driver_error", "shop_error"), [
    (psycopg2.OperationalError("server closed the connection unexpectedly"), DatabaseUnavailable),
    (psycopg2.InterfaceError("connection already closed"), DatabaseUnavailable),
    (psycopg2.errors.UniqueViolation("duplicate key value"), UniqueViolation),
    (psycopg2.errors.CheckViolation("violates check constraint"), DatabaseError),
])
def test_postgres_errors_become_the_shops_own_with_the_driver_error_as_cause(driver_error, shop_error):
    with pytest.raises(shop_error) as raised:
        Ledger(driver_error).read()
    assert raised.value.__cause__ is driver_error and not isinstance(raised.value, psycopg2.Error)
    assert issubclass(shop_error, DatabaseError)


def test_a_generator_and_a_unit_of_work_translate_while_they_are_used():
    error = psycopg2.OperationalError("gone")
    rows = Ledger(error).rows()
    assert next(rows) == 1
    with pytest.raises(DatabaseUnavailable):
        next(rows)
    with pytest.raises(DatabaseUnavailable), Ledger(error).locked("enter"):
        pass
    with pytest.raises(DatabaseUnavailable), Ledger(error).locked("commit"):
        pass  # the commit at the end of the block fails


def test_the_shops_own_errors_and_private_methods_pass_through_untouched():
    with pytest.raises(Conflict), Ledger(psycopg2.OperationalError()).locked("never"):
        raise Conflict("a rule refused inside the unit of work")
    with pytest.raises(ValueError):
        Ledger(ValueError("a bug")).read()
    with pytest.raises(psycopg2.OperationalError):
        Ledger(psycopg2.OperationalError())._private()


def test_mongodb_errors_become_the_shops_own():
    with pytest.raises(StoreUnavailable):
        Stock().reserve(ServerSelectionTimeoutError("no server"))
    with pytest.raises(StoreError) as raised:
        Stock().reserve(DuplicateKeyError("E11000"))
    assert not isinstance(raised.value, StoreUnavailable) and isinstance(raised.value.__cause__, DuplicateKeyError)
