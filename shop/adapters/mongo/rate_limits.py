"""Rate-limit counters in MongoDB: limits' own storage, registered for mongodb:// URIs, minus one bug.

limits 5.8's MongoDB storage closes its client in `__del__` through a property that *opens* a client
first; run by the garbage collector while another thread starts, that deadlocks the process (seen in
this test suite). This subclass takes over the same URI schemes and leaves an unused storage alone;
a used client is cleaned up by PyMongo itself when the process ends. Importing this module is what
registers it (shop.web.extensions does).
"""

from __future__ import annotations

from limits.storage import MongoDBStorage


class SafeMongoDBStorage(MongoDBStorage):
    STORAGE_SCHEME = ["mongodb", "mongodb+srv"]

    def __del__(self) -> None:
        pass
