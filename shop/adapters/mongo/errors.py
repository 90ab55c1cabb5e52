"""pymongo's exceptions as the shop's own (shop.adapters.errors): `store.catalog`, `store.stock`,
`store.reviews` and `store.audit` are decorated with `translates_errors`, so what leaves them never
is a driver's."""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, PyMongoError

from shop.adapters.errors import StoreError, StoreUnavailable, translating

DRIVER_UNAVAILABLE = (ConnectionFailure,)  # down, unreachable, timed out (server selection, network)


def shop_error(error: BaseException) -> Exception | None:
    if isinstance(error, DRIVER_UNAVAILABLE):
        return StoreUnavailable(str(error))
    if isinstance(error, PyMongoError):
        return StoreError(str(error))
    return None


translates_errors = translating(shop_error)
