"""The shop's own errors for a database that failed, raised by the adapters instead of the drivers'.

Services catch these (and fakes raise them) without importing psycopg2 or pymongo; the driver's
exception stays attached as `__cause__` for the logs. Each adapter module's public methods translate
on the way out (`translating`); the raw cursors and collections that schema tests and tools use keep
the drivers' own exceptions.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
from collections.abc import Callable


class DatabaseError(Exception):
    """PostgreSQL failed a request (the statement, the commit or the connection)."""


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL did not answer, or the connection broke: whether a commit landed is not known."""


class UniqueViolation(DatabaseError):
    """A unique constraint refused the write (`constraint` names it)."""

    def __init__(self, message: str, constraint: str | None = None):
        super().__init__(message)
        self.constraint = constraint


class StoreError(Exception):
    """MongoDB failed a request."""


class StoreUnavailable(StoreError):
    """MongoDB did not answer (down, unreachable, timed out): whether a write landed is not known."""


class ProviderUnavailable(Exception):
    """The payment provider did not answer, or refused a server-to-server call (a refund): nothing can
    be assumed done; the caller keeps the state that lets it ask again."""


class SkuTaken(Exception):
    """A product write was refused because another product has one of its SKUs: `owners` maps each
    such SKU to that product's id (empty if it could not be told which)."""

    def __init__(self, owners: dict[str, str]):
        super().__init__(", ".join(sorted(owners)) or "an SKU is taken")
        self.owners = owners


Translate = Callable[[BaseException], Exception | None]  # the shop's error for a driver's, or None


def translating(translate: Translate, *, skip: frozenset[str] = frozenset()):
    """A class decorator: the public methods of the class raise `translate(error)` from the driver's
    error — also while a returned generator is iterated or a returned context manager is in use."""

    def decorate(cls):
        for name, attribute in list(vars(cls).items()):
            if name.startswith("_") or name in skip or not inspect.isfunction(attribute):
                continue
            setattr(cls, name, _translated(attribute, translate))
        return cls

    return decorate


def _translated(method, translate: Translate):
    """The method, raising the shop's errors. Cheap on the hot path (a try block and a type check:
    checkout calls several of these per order); what kind of result needs wrapping is decided here,
    once, for @contextmanager methods, and by the result's exact type for generators."""
    if inspect.isgeneratorfunction(getattr(method, "__wrapped__", None)):  # a @contextmanager method
        @functools.wraps(method)
        def unit_of_work(*args, **kwargs):
            return _TranslatedContext(method(*args, **kwargs), translate)

        return unit_of_work

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            result = method(*args, **kwargs)
        except Exception as error:
            shop_error = translate(error)
            if shop_error is None:
                raise
            raise shop_error from error
        if type(result) is types.GeneratorType:
            return _translated_iteration(result, translate)
        return result

    return wrapper


@contextlib.contextmanager
def _translation(translate: Translate):
    try:
        yield
    except Exception as error:
        shop_error = translate(error)
        if shop_error is None:
            raise
        raise shop_error from error


def _translated_iteration(generator, translate: Translate):
    with _translation(translate):
        yield from generator


class _TranslatedContext(contextlib.AbstractContextManager):
    def __init__(self, inner, translate: Translate):
        self._inner, self._translate = inner, translate

    def __enter__(self):
        with _translation(self._translate):
            return self._inner.__enter__()

    def __exit__(self, *exc_info):
        with _translation(self._translate):
            return self._inner.__exit__(*exc_info)
