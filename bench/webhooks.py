"""Webhook benchmark (not a test): what a subscribed endpoint costs checkout, and how fast events reach it.

    .venv/bin/python bench/webhooks.py [--pairs 3] [--seconds 6] [--clients 8]

Starts its own embedded PostgreSQL and SecantusDB, the real shop (gunicorn, 4 workers) and a receiver
on loopback that answers 200 at once. Checkout (POST /api/orders, one line, `--clients` concurrent
buyers) is measured in interleaved pairs: each pair runs once with no endpoint and once with an
endpoint subscribed to every order event, in alternating order, so the machine's drift over the run
falls on both sides alike. Then the events of the run are drained and timed: delivery latency
(received − the event's commit) and the deliveries per second of the sender.
Writes bench/results/webhooks.json and bench/results/webhooks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.checkout import PASSWORD, measure_http, percentile  # noqa: E402
from shop.adapters.mongo import MongoStore  # noqa: E402
from shop.adapters.postgres import PostgresDatabase  # noqa: E402
from shop.adapters.webhook_sender import WebhookSender  # noqa: E402
from shop.domain.accounts import Role  # noqa: E402
from shop.domain.webhooks import EVENTS  # noqa: E402
from shop.embedded import EmbeddedMongo, EmbeddedPostgres  # noqa: E402
from shop.services import webhooks as webhook_service  # noqa: E402
from shop.services.accounts import hash_password  # noqa: E402
from shop.services.catalog import add_products  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SECRET_KEY = "b" * 48


class Receiver:
    def __init__(self):
        self.arrivals: list[tuple[float, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.arrivals.append((time.time(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def close(self):
        self._server.shutdown()


def waiting(db: PostgresDatabase) -> int:
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'")
        return cur.fetchone()["n"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    from tests.e2e.conftest import start_shop, stop_shop

    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="shop-bench-hooks-") as tmp:
        pg, mongo = EmbeddedPostgres(Path(tmp) / "pg"), EmbeddedMongo(Path(tmp) / "mongo")
        pg_url, mongo_url = pg.start(), mongo.start()
        shop = None
        try:
            db = PostgresDatabase(pg_url, max_connections=8)
            db.migrate()
            store = MongoStore(mongo_url, "bench")
            store.apply_schema()
            add_products(db, store, [{"name": "Bench", "category": "Bench", "price": Decimal("19.99"),
                                      "stock": 1_000_000, "attributes": {}}])
            product_id = str(store.products.find_one({"name": "Bench"})["_id"])
            password_hash = hash_password(PASSWORD)
            emails = [f"bench{i}@example.com" for i in range(args.clients)]
            admin = db.users.insert("admin@example.com", "Admin", password_hash, Role.ADMIN)
            for email in emails:
                db.users.insert(email, "Bench", password_hash, Role.CUSTOMER)
            endpoint, _ = webhook_service.register_endpoint(
                db, webhook_service.SecretBox(SECRET_KEY), WebhookSender(allowed_hosts=("127.0.0.1",)),
                admin.user_id, receiver.url, [event for event in EVENTS if event.startswith("order.")],
                https_only=False)
            db.webhooks.set_active(endpoint.endpoint_id, False)
            shop = start_shop(Path(tmp) / "var", extra_env={
                "DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "MONGODB_DB": "bench", "SECRET_KEY": SECRET_KEY,
                "WEB_CONCURRENCY": "4", "SHOP_DEMO_DATA": "0", "LOGIN_RATE_LIMIT": "100000 per minute",
                "LOG_LEVEL": "WARNING", "CHECKOUT_RATE_LIMIT": "1000000 per minute", "MAX_UNPAID_ORDERS": "0",
                "MAX_UNPAID_UNITS": "0", "MAX_UNPAID_ORDERS_PER_ADDRESS": "0", "MAX_UNPAID_UNITS_PER_ADDRESS": "0",
                "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"})
            pairs = []
            for pair in range(args.pairs):
                outcome = {}
                for subscribed in ((False, True) if pair % 2 == 0 else (True, False)):
                    db.webhooks.set_active(endpoint.endpoint_id, subscribed)
                    outcome["with" if subscribed else "without"] = measure_http(
                        shop.url, emails, product_id, args.clients, args.seconds)
                db.webhooks.set_active(endpoint.endpoint_id, True)
                pairs.append(outcome)
                print(f"pair {pair + 1}: without {outcome['without']['per_second']:.0f}/s, "
                      f"with {outcome['with']['per_second']:.0f}/s", flush=True)
            # Drain what the run queued (the sender runs beside checkout; after the run, alone)
            queued, drain_started = waiting(db), time.time()
            while waiting(db) and time.time() - drain_started < 300:
                time.sleep(0.2)
            drain_seconds = time.time() - drain_started
            with db.transaction() as cur:
                cur.execute("SELECT event_id::text AS id, created_at FROM webhook_events")
                created = {row["id"]: row["created_at"].timestamp() for row in cur.fetchall()}
                cur.execute("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'delivered'")
                delivered = cur.fetchone()["n"]
            latencies = [arrived - created[body["id"]] for arrived, body in receiver.arrivals if body["id"] in created]
            store.close()
            db.close()
        finally:
            if shop is not None:
                stop_shop(shop)
            receiver.close()
            mongo.stop()
            pg.stop()

    ratios = [p["with"]["per_second"] / p["without"]["per_second"] for p in pairs]
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "clients": args.clients, "seconds": args.seconds, "pairs": pairs,
              "with_over_without": {"each": ratios, "median": statistics.median(ratios)},
              "deliveries": {"delivered": delivered, "received": len(receiver.arrivals),
                             "queued_at_the_end_of_the_run": queued, "drained_in_seconds": round(drain_seconds, 1),
                             "latency_p50_s": round(percentile(latencies, 0.5), 2),
                             "latency_p99_s": round(percentile(latencies, 0.99), 2)},
              "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "webhooks.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Webhooks — {report['measured_at']}, {report['machine']['cpus']} CPUs, {args.clients} buyers, "
             f"{args.seconds:.0f} s per side of each pair", "",
             "Checkout (POST /api/orders, one line) with no endpoint and with one endpoint subscribed to every "
             "order event, in interleaved pairs (orders/s):", "",
             "| pair | without | with | with ÷ without |", "|---:|---:|---:|---:|"]
    for n, (pair, ratio) in enumerate(zip(pairs, ratios, strict=True), start=1):
        lines.append(f"| {n} | {pair['without']['per_second']:.0f} | {pair['with']['per_second']:.0f} | {ratio:.0%} |")
    d = report["deliveries"]
    lines += ["", f"Median with ÷ without: **{report['with_over_without']['median']:.0%}** (goal: at least 90 %).", "",
              f"Deliveries: {d['delivered']} delivered, {d['received']} received (at least once: a repeat is "
              f"possible); {d['queued_at_the_end_of_the_run']} were still waiting when the last pair ended and were "
              f"drained in {d['drained_in_seconds']} s. Latency from the event's commit to its arrival: "
              f"p50 {d['latency_p50_s']} s, p99 {d['latency_p99_s']} s (the sender polls every 2 s).", ""]
    (RESULTS / "webhooks.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
