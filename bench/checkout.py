"""Checkout benchmark (not a test): orders/s and latency over HTTP, against baselines from the same run.

    .venv/bin/python bench/checkout.py [--seconds 8] [--levels 1,8,32]

Starts its own embedded PostgreSQL and SecantusDB and the real shop (gunicorn, WEB_CONCURRENCY
workers), then measures at each concurrency level:
  - checkout over HTTP: POST /api/orders (one line), each client a separate process-held session;
  - raw MongoDB: the conditional stock update alone ({_id, stock: {$gte: 1}} + $inc), from threads;
  - single-PostgreSQL baseline: stock and order in one PostgreSQL transaction (no MongoDB at all);
and, in-process, the database round trips of one checkout (pymongo command listener, statements).
Writes bench/results/checkout.json and bench/results/checkout.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pymongo import monitoring  # noqa: E402

from shop.adapters.mongo import MongoStore  # noqa: E402
from shop.adapters.postgres import PostgresDatabase  # noqa: E402
from shop.domain.accounts import Role  # noqa: E402
from shop.domain.orders import UnpaidLimits  # noqa: E402
from shop.embedded import EmbeddedMongo, EmbeddedPostgres  # noqa: E402
from shop.services import checkout  # noqa: E402
from shop.services.accounts import hash_password  # noqa: E402
from shop.services.catalog import add_products  # noqa: E402

PASSWORD = "benchmark password"  # noqa: S105 - throwaway users on throwaway servers
RESULTS = ROOT / "bench" / "results"


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


# --- HTTP clients (each in its own process so the client side is not GIL-bound) -----------------

def _http_client(args) -> list[float]:
    base_url, email, product_id, seconds, barrier = args
    sys.path.insert(0, str(ROOT))
    from tests.e2e.test_concurrent_buyers import Buyer

    buyer = Buyer(base_url, email, PASSWORD)
    buyer.log_in()
    _, page = buyer.request("/")
    from tests.conftest import csrf_token_from

    token = csrf_token_from(page)
    body = {"items": [{"product_id": product_id, "quantity": 1}]}
    latencies = []
    barrier.wait(timeout=300)  # every client logged in: all start together
    deadline = time.time() + seconds
    while time.time() < deadline:
        began = time.perf_counter()
        status, _ = buyer.request("/api/orders", json_body=body, headers={
            "X-CSRFToken": token, "Idempotency-Key": str(uuid.uuid4()), "Accept": "application/json"})
        if status != 201:
            raise RuntimeError(f"checkout answered {status}")
        latencies.append(time.perf_counter() - began)
    return latencies


def measure_http(base_url: str, emails: list[str], product_id: str, clients: int, seconds: float) -> dict:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(clients) as pool:
        barrier = manager.Barrier(clients)
        per_client = pool.map(_http_client, [(base_url, emails[i], product_id, seconds, barrier)
                                             for i in range(clients)])
    latencies = [x for client in per_client for x in client]
    return {"orders": len(latencies), "per_second": len(latencies) / seconds,
            "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000}


def _threads(count: int, seconds: float, work) -> dict:
    counts = [0] * count
    latencies: list[list[float]] = [[] for _ in range(count)]
    deadline = time.perf_counter() + seconds

    def run(index: int) -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            work()
            latencies[index].append(time.perf_counter() - began)
            counts[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flat = [x for part in latencies for x in part]
    return {"operations": sum(counts), "per_second": sum(counts) / seconds,
            "p50_ms": percentile(flat, 0.5) * 1000, "p99_ms": percentile(flat, 0.99) * 1000}


def measure_raw_mongo(store: MongoStore, product_id: str, clients: int, seconds: float) -> dict:
    from bson import ObjectId

    oid = ObjectId(product_id)
    return _threads(clients, seconds, lambda: store.products.update_one(
        {"_id": oid, "stock": {"$gte": 1}}, {"$inc": {"stock": -1}}))


def measure_single_postgres(db: PostgresDatabase, user_id: int, clients: int, seconds: float) -> dict:
    """The same business step with stock in PostgreSQL: one transaction, a row lock, the order rows."""
    def one_order():
        with db.transaction() as cur:
            cur.execute("UPDATE bench_stock SET stock = stock - 1 WHERE product_id = 1 AND stock >= 1 RETURNING stock")
            if cur.fetchone() is None:
                raise RuntimeError("bench_stock ran out")
            cur.execute("INSERT INTO orders (user_id, total_amount, status) VALUES (%s, 19.99, 'pending') "
                        "RETURNING order_id", (user_id,))
            order_id = cur.fetchone()["order_id"]
            cur.execute("INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity) "
                        "VALUES (%s, '0123456789abcdef01234567', 'Bench', 19.99, 1)", (order_id,))
    return _threads(clients, seconds, one_order)


class CommandCounter(monitoring.CommandListener):
    def __init__(self):
        self.commands: list[str] = []

    def started(self, event):
        self.commands.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def round_trips(pg_url: str, mongo_url: str, db_name: str, user_id: int, product_id: str) -> dict:
    counter = CommandCounter()
    db = PostgresDatabase(pg_url, max_connections=2)
    store = MongoStore(mongo_url, db_name, event_listeners=[counter])
    settlements = checkout.SettlementQueue()  # as in the web app: holds dropped on the next reservation
    # As in the web app: unpaid limits checked (here all 0, no limit) for the client's address.
    policy = checkout.CheckoutPolicy(limits=UnpaidLimits(0, 0, 0, 0))

    def place() -> None:
        request = checkout.CheckoutRequest(user_id, [(product_id, 1)], str(uuid.uuid4()), client_address="127.0.0.1")
        checkout.place_order(db, store, request, policy, settlements=settlements)

    place()
    counter.commands.clear()
    statements, transactions = db.statements, db.transactions
    place()
    commands = list(counter.commands)
    result = {"mongodb_commands": len(commands), "mongodb_command_names": commands,
              "postgres_statements": db.statements - statements,
              "postgres_transactions": db.transactions - transactions}
    db.close()
    store.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    from tests.e2e.conftest import start_shop, stop_shop

    with tempfile.TemporaryDirectory(prefix="shop-bench-") as tmp:
        pg, mongo = EmbeddedPostgres(Path(tmp) / "pg"), EmbeddedMongo(Path(tmp) / "mongo")
        pg_url, mongo_url = pg.start(), mongo.start()
        shop = None
        try:
            db = PostgresDatabase(pg_url, max_connections=40)
            db.migrate()
            with db.transaction() as cur:
                cur.execute("CREATE TABLE bench_stock (product_id INT PRIMARY KEY, "
                            "stock INT NOT NULL CHECK (stock >= 0))")
                cur.execute("INSERT INTO bench_stock VALUES (1, 100000000)")
            store = MongoStore(mongo_url, "bench", maxPoolSize=64)
            store.apply_schema()
            add_products(db, store, [{"name": "Bench", "category": "Bench", "price": Decimal("19.99"),
                                      "stock": 1_000_000, "attributes": {}},
                                     {"name": "Raw", "category": "Bench", "price": Decimal("1.00"),
                                      "stock": 1_000_000, "attributes": {}}])
            product_id = str(store.products.find_one({"name": "Bench"})["_id"])
            raw_id = str(store.products.find_one({"name": "Raw"})["_id"])
            password_hash = hash_password(PASSWORD)
            emails = [f"bench{i}@example.com" for i in range(max(levels))]
            users = [db.users.insert(e, "Bench", password_hash, Role.CUSTOMER) for e in emails]
            trips = round_trips(pg_url, mongo_url, "bench", users[0].user_id, product_id)

            shop = start_shop(Path(tmp) / "var", extra_env={
                "DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "MONGODB_DB": "bench",
                "WEB_CONCURRENCY": str(args.workers), "SHOP_DEMO_DATA": "0",
                "LOGIN_RATE_LIMIT": "100000 per minute", "LOG_LEVEL": "WARNING",
                # Throughput, not limits: the rate limit off and every unpaid limit at 0 (no limit) —
                # yet each checkout still takes the address and account locks and counts (the cost).
                "CHECKOUT_RATE_LIMIT": "1000000 per minute", "MAX_UNPAID_ORDERS": "0", "MAX_UNPAID_UNITS": "0",
                "MAX_UNPAID_ORDERS_PER_ADDRESS": "0", "MAX_UNPAID_UNITS_PER_ADDRESS": "0",
                **({"RATELIMIT_STORAGE_URI": os.environ["BENCH_RATELIMIT_STORAGE_URI"]}
                   if os.environ.get("BENCH_RATELIMIT_STORAGE_URI") else {})})
            rows = []
            for clients in levels:
                http = measure_http(shop.url, emails, product_id, clients, args.seconds)
                http["mails_waiting_after"] = mails_waiting(db)
                raw = measure_raw_mongo(store, raw_id, clients, args.seconds / 2)
                single = measure_single_postgres(db, users[0].user_id, clients, args.seconds / 2)
                rows.append({"clients": clients, "checkout_http": http, "raw_mongodb_update": raw,
                             "single_postgres_order": single,
                             "checkout_vs_raw_mongodb": http["per_second"] / raw["per_second"],
                             "checkout_vs_single_postgres": http["per_second"] / single["per_second"]})
                print(f"{clients:>3} clients: checkout {http['per_second']:.0f}/s "
                      f"(p50 {http['p50_ms']:.1f} ms, p99 {http['p99_ms']:.1f} ms); raw MongoDB update "
                      f"{raw['per_second']:.0f}/s; single PostgreSQL {single['per_second']:.0f}/s; "
                      f"{http['mails_waiting_after']} order mails waiting after it", flush=True)
            mails = drain_mail(db)
            store.close()
            db.close()
        finally:
            if shop is not None:
                stop_shop(shop)
            mongo.stop()
            pg.stop()

    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "web_workers": args.workers, "seconds_per_level": args.seconds,
              "round_trips_per_checkout": trips, "levels": rows, "mail": mails,
              "mail_send_interval_seconds": os.environ.get("MAIL_SEND_INTERVAL_SECONDS", "2"),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "checkout.json").write_text(json.dumps(report, indent=2))
    (RESULTS / "checkout.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def mails_waiting(db: PostgresDatabase) -> int:
    """Order mails written but not yet handed to the mail server (here: .eml files)."""
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM mail_outbox WHERE status <> 'sent'")
        return cur.fetchone()["n"]


def drain_mail(db: PostgresDatabase, limit_seconds: float = 120.0) -> dict:
    """After the last level: how long until every order's mail was out (the sender runs at a lower
    priority than checkout, so a burst's mails wait for the burst to end)."""
    start = time.monotonic()
    waiting = mails_waiting(db)
    while waiting and time.monotonic() - start < limit_seconds:
        time.sleep(0.5)
        waiting = mails_waiting(db)
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n, max(sent_at - created_at) AS slowest FROM mail_outbox WHERE status = 'sent'")
        sent = cur.fetchone()
    return {"sent": sent["n"], "still_waiting": waiting, "drained_after_seconds": round(time.monotonic() - start, 1),
            "slowest_seconds": round(sent["slowest"].total_seconds(), 1) if sent["slowest"] else None}


def markdown(report: dict) -> str:
    trips = report["round_trips_per_checkout"]
    lines = [
        f"Checkout benchmark — {report['measured_at']}, {report['machine']['cpus']} CPUs, "
        f"{report['web_workers']} gunicorn workers, {report['seconds_per_level']:.0f} s per HTTP level "
        "(clients, shop and databases on the same machine).",
        "",
        "| clients | checkout orders/s (HTTP) | p50 ms | p99 ms | raw MongoDB cond. update/s | "
        "single-PostgreSQL order/s | checkout ÷ raw MongoDB | checkout ÷ single PG |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["levels"]:
        http, raw, single = row["checkout_http"], row["raw_mongodb_update"], row["single_postgres_order"]
        lines.append(f"| {row['clients']} | {http['per_second']:.0f} | {http['p50_ms']:.1f} | {http['p99_ms']:.1f} | "
                     f"{raw['per_second']:.0f} | {single['per_second']:.0f} | "
                     f"{row['checkout_vs_raw_mongodb']:.0%} | {row['checkout_vs_single_postgres']:.0%} |")
    lines += ["", f"Round trips per one-line checkout: {trips['mongodb_commands']} MongoDB commands "
              f"({', '.join(trips['mongodb_command_names'])}), {trips['postgres_statements']} PostgreSQL statements "
              f"in {trips['postgres_transactions']} transactions.", ""]
    mail = report.get("mail")
    if mail:
        waiting = ", ".join(f"{row['checkout_http']['mails_waiting_after']} after {row['clients']}"
                            for row in report["levels"])
        lines += [f"Order mails (sender every {report['mail_send_interval_seconds']} s, at a lower CPU priority): "
                  f"waiting at the end of each level: {waiting}; all {mail['sent']} out "
                  f"{mail['drained_after_seconds']} s after the last level ({mail['still_waiting']} still waiting); "
                  f"slowest from order to mail server: {mail['slowest_seconds']} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
