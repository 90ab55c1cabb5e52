"""Runs one checkout, cancellation, payment, refund or catalog import in a separate process that a
failpoint kills with os._exit.

Used by test_checkout_faults.py and test_money_faults.py: a real process death in the middle of the protocol, with no
`finally` and no cleanup, as SIGKILL or a power cut would leave it.
"""

import json
import sys

from shop import failpoints
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.refunds import RefundRequest
from shop.services import catalog_import, checkout, orders, refunds
from shop.services.checkout import CheckoutPolicy, CheckoutRequest
from tests.payments import pay, simulated_provider


def main() -> None:
    args = json.loads(sys.argv[1])
    failpoints.configure(args["failpoint"])
    db = PostgresDatabase(args["postgres_url"], max_connections=2)
    store = MongoStore(args["mongodb_url"], args["mongodb_db"])
    if args["action"] == "place":
        checkout.place_order(db, store,
                             CheckoutRequest(args["user_id"], [tuple(line) for line in args["lines"]], args["key"],
                                             discount_code=args.get("discount_code")),
                             CheckoutPolicy(lease_seconds=args["lease_seconds"]))
    elif args["action"] == "cancel":
        orders.cancel_order(db, store, db.users.get(args["user_id"]), args["order_id"])
    elif args["action"] == "import":
        catalog_import.import_catalog(db, store, lambda: catalog_import.rows_of(args["path"], "csv"), dry_run=False,
                                      batch_size=args["batch_size"])
    elif args["action"] == "pay":  # the provider's page, then its notification (killed while settling it)
        pay(db, db.users.get(args["user_id"]), args["order_id"])
    else:
        request = RefundRequest({int(item): n for item, n in args["units"].items()}, args["reason"], args["goods"])
        refunds.refund_order(db, store, simulated_provider(), db.users.get(args["user_id"]), args["order_id"],
                             request, args["key"], full=args["full"])
    print("finished without reaching the failpoint")


if __name__ == "__main__":
    main()
