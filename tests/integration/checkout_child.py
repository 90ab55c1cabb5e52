"""Runs one checkout step sequence in a separate process that a failpoint kills with os._exit.

Used by test_checkout_faults.py: a real process death in the middle of the protocol, with no
`finally` and no cleanup, as SIGKILL or a power cut would leave it.
"""

import json
import sys

from shop import failpoints
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.services import checkout, orders


def main() -> None:
    args = json.loads(sys.argv[1])
    failpoints.configure(args["failpoint"])
    db = PostgresDatabase(args["postgres_url"], max_connections=2)
    store = MongoStore(args["mongodb_url"], args["mongodb_db"])
    if args["action"] == "place":
        checkout.place_order(db, store, args["user_id"], [tuple(line) for line in args["lines"]], args["key"],
                             lease_seconds=args["lease_seconds"], discount_code=args.get("discount_code"))
    else:
        actor = db.get_user(args["user_id"])
        orders.cancel_order(db, store, actor, args["order_id"])
    print("finished without reaching the failpoint")


if __name__ == "__main__":
    main()
