"""Backup benchmark (not a test): backup and restore time and size at 10k and 100k products/orders.

    .venv/bin/python bench/backup.py [--sizes 10000,100000]

Starts its own embedded PostgreSQL and SecantusDB, fills them (N products with attributes, N orders
of one or two lines, their history rows), then times one backup (dump, archive, verify, publish) and
one restore into empty databases (validate, load, compare with the manifest). As a baseline from the
same run it times a bare `pg_dump -Fc` of the same PostgreSQL database. Writes
bench/results/backup.json and bench/results/backup.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from shop import backup  # noqa: E402
from shop.adapters.mongo import MongoStore  # noqa: E402
from shop.adapters.postgres import PostgresDatabase  # noqa: E402
from shop.domain.accounts import Role  # noqa: E402
from shop.embedded import EmbeddedMongo, EmbeddedPostgres  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def fill(db: PostgresDatabase, store: MongoStore, n: int) -> None:
    batch = []
    for i in range(n):
        batch.append({"name": f"Producto {i}", "category": f"Categoría {i % 12}", "price": Decimal(f"{i % 500}.99"),
                      "stock": 1000, "attributes": {"marca": f"Marca {i % 40}", "peso_g": i % 3000,
                                                    "dimensiones": {"ancho_cm": i % 90, "alto_cm": i % 70}},
                      "description": "Un producto de prueba para medir copias de seguridad."})
        if len(batch) == 5000:
            store.products.insert_many(batch, ordered=False)
            batch = []
    if batch:
        store.products.insert_many(batch, ordered=False)
    user = db.users.insert("bench@example.com", "Bench", "x", Role.CUSTOMER)
    with db.transaction() as cur:
        cur.execute(
            """INSERT INTO orders (user_id, total_amount, status, created_at)
               SELECT %s, (g %% 900) + 0.99, (ARRAY['pending','paid','shipped','cancelled'])[1 + g %% 4],
                      now() - make_interval(mins => g)
               FROM generate_series(1, %s) g""", (user.user_id, n))
        cur.execute(
            """INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity)
               SELECT order_id, lpad(to_hex(order_id), 24, '0'), 'Producto', total_amount, 1 FROM orders""")
        cur.execute(
            """INSERT INTO order_status_history (order_id, from_status, to_status, reason, reason_code)
               SELECT order_id, NULL, status, 'bench', 'placed' FROM orders""")


def timed(action):
    began = time.perf_counter()
    result = action()
    return result, time.perf_counter() - began


def measure(n: int, tmp: Path) -> dict:
    pg, mongo = EmbeddedPostgres(tmp / f"pg{n}"), EmbeddedMongo(tmp / f"mongo{n}")
    pg_url, mongo_url = pg.start(), mongo.start()
    try:
        db = PostgresDatabase(pg_url, max_connections=2)
        db.migrate()
        store = MongoStore(mongo_url, "bench")
        store.apply_schema()
        _, fill_s = timed(lambda: fill(db, store, n))
        source = backup.Source(pg_url, mongo_url, "bench")
        archive, backup_s = timed(lambda: backup.create_backup(source, tmp / f"sets{n}"))
        (summary,) = backup.list_sets(tmp / f"sets{n}")
        admin = psycopg2.connect(pg_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("CREATE DATABASE restored")
        admin.close()
        target = backup.Source(pg_url.rsplit("/", 1)[0] + "/restored", mongo_url, "restored")
        result, restore_s = timed(lambda: backup.restore(archive, summary, target, key=None))
        with backup.pgpass_env(pg_url) as env:
            tool = backup.find_pg_tool("pg_dump", 180000)
            _, pg_dump_s = timed(lambda: subprocess.run(
                [str(tool), "-Fc", "-f", str(tmp / f"bare{n}.dump")], env=env, check=True))
        db.close()
        store.close()
        return {"n": n, "fill_seconds": fill_s, "backup_seconds": backup_s, "restore_seconds": restore_s,
                "bare_pg_dump_seconds": pg_dump_s, "archive_bytes": archive.stat().st_size,
                "restore_ok": result["ok"], "orders": summary["postgres"]["row_counts"]["orders"],
                "products": summary["mongodb"]["collections"]["products"]["documents"]}
    finally:
        mongo.stop()
        pg.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="shop-bench-backup-") as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            row = measure(n, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {"cpus": os.cpu_count(), "rows": rows, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    lines = [f"Backup benchmark — {report['measured_at']}, {report['cpus']} CPUs, embedded PostgreSQL 18 + "
             "SecantusDB on the same machine.", "",
             "| products / orders | backup s | restore s | archive MB | bare pg_dump s (PostgreSQL only) "
             "| restore ok |",
             "|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['backup_seconds']:.1f} | {r['restore_seconds']:.1f} | "
                     f"{r['archive_bytes'] / 1e6:.1f} | {r['bare_pg_dump_seconds']:.2f} | {r['restore_ok']} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "backup.json").write_text(json.dumps(report, indent=2))
    (RESULTS / "backup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
