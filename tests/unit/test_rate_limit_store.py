"""The rate-limit store for mongodb:// URIs (shop.adapters.mongo.rate_limits)."""

import gc

from limits.storage import storage_from_string

from shop.adapters.mongo.rate_limits import SafeMongoDBStorage


def test_mongodb_uris_get_the_storage_that_never_opens_a_client_to_close_it():
    storage = storage_from_string("mongodb://127.0.0.1:1/", database_name="x_ratelimits")
    assert isinstance(storage, SafeMongoDBStorage)
    del storage
    gc.collect()  # limits' own __del__ would open a client here (and could deadlock)
