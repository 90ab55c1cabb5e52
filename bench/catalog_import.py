"""Catalog import benchmark (not a test): how long `flask --app shop catalog-import` takes for a file
of 100,000 variants (20,000 T-shirts in five sizes), how much memory it holds, and what importing
the same file again costs (nothing should change).

    .venv/bin/python bench/catalog_import.py [--variants 100000] [--data-dir DIR]

Starts its own embedded PostgreSQL and SecantusDB on fresh data, writes the file, and runs the real
command in a child process (its peak memory is the child's maximum resident set, from getrusage).
Memory is "flat" when the peak for the whole file is about the peak for a tenth of it: the file is
streamed, never held. The anchor, measured in the same run on the same servers: inserting the same
products' documents with one `insert_many` per 1,000 (what a hand-written loader does, with no
checks, no audit and no catalog index) into a scratch database.
Writes bench/results/catalog_import.json and bench/results/catalog_import.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from bench.catalog import bench_servers, machine  # noqa: E402
from shop.adapters.mongo import MongoStore  # noqa: E402
from shop.adapters.postgres import PostgresDatabase  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SIZES = ("XS", "S", "M", "L", "XL")
HEADER = "handle,name,category,price,tax_class,description,option1_name,option1_value,sku,variant_price,stock\n"


def write_file(path: Path, variants: int) -> int:
    """A catalog of T-shirts in five sizes, with accents, quotes and a decimal comma; returns products."""
    products = variants // len(SIZES)
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(products):
            for size in SIZES:
                out.write(f'cam-{n},"Camiseta ""Ñandú"" {n}",Camisetas {n % 40},"{10 + n % 90},95",general,'
                          f'"Algodón, corte ""regular""",Talla,{size},CAM-{n}-{size},,{(n + len(size)) % 20}\n')
    return products


def database(admin_url: str, name: str) -> str:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # generated names, never input
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def run_import(pg_url: str, mongo_url: str, mongo_db: str, path: Path, data_dir: Path, *extra: str) -> dict:
    """The command in a child process: wall time, the child's peak memory, its last lines."""
    env = {**os.environ, "DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "MONGODB_DB": mongo_db,
           "SHOP_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen([str(ROOT / ".venv" / "bin" / "flask"), "--app", "shop", "catalog-import", *extra,
                                  str(path)], env=env, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise RuntimeError(stdout + stderr)
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "report": stdout.strip().splitlines()[0]}


def anchor(mongo_url: str, variants: int) -> float:
    """The same products inserted raw: documents built by hand, insert_many per 1,000."""
    store = MongoStore(mongo_url, "bench_import_anchor")
    store.client.drop_database("bench_import_anchor")
    docs = []
    began = time.perf_counter()
    for n in range(variants // len(SIZES)):
        docs.append({"name": f'Camiseta "Ñandú" {n}', "category": f"Camisetas {n % 40}",
                     "price": Decimal(f"{10 + n % 90}.95"), "stock": 0, "attributes": {},
                     "variants": {f"v{i + 1}": {"sku": f"CAM-{n}-{s}", "values": [s], "stock": 1}
                                  for i, s in enumerate(SIZES)}})
        if len(docs) == 1000:
            store.products.insert_many(docs, ordered=False)
            docs = []
    if docs:
        store.products.insert_many(docs, ordered=False)
    seconds = time.perf_counter() - began
    store.client.drop_database("bench_import_anchor")
    store.close()
    return round(seconds, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "shop-bench-import")
    args = parser.parse_args()
    shutil.rmtree(args.data_dir, ignore_errors=True)
    args.data_dir.mkdir(parents=True)
    results = {**machine([]), "variants": args.variants}
    with bench_servers(args.data_dir) as (admin_url, mongo_url):
        small, full = args.data_dir / "tenth.csv", args.data_dir / "catalog.csv"
        write_file(small, args.variants // 10)
        results["products"] = write_file(full, args.variants)
        results["file_mb"] = round(full.stat().st_size / 1e6, 1)
        results["anchor_raw_insert_s"] = anchor(mongo_url, args.variants)
        for label, path in (("tenth", small), ("full", full)):
            pg_url = database(admin_url, f"bench_import_{label}")
            PostgresDatabase(pg_url, max_connections=1).migrate()
            store = MongoStore(mongo_url, f"bench_import_{label}")
            store.client.drop_database(f"bench_import_{label}")
            store.apply_schema()
            store.close()
            shop_dir = args.data_dir / f"shop-{label}"
            results[label] = {
                "dry_run": run_import(pg_url, mongo_url, f"bench_import_{label}", path, shop_dir, "--dry-run"),
                "import": run_import(pg_url, mongo_url, f"bench_import_{label}", path, shop_dir),
                "again": run_import(pg_url, mongo_url, f"bench_import_{label}", path, shop_dir),
            }
            print(label, json.dumps(results[label], ensure_ascii=False), flush=True)
    full = results["full"]
    results["import_vs_anchor"] = round(full["import"]["seconds"] / results["anchor_raw_insert_s"], 1)
    tenth = results["tenth"]
    results["memory_full_vs_tenth"] = round(full["import"]["peak_rss_mb"] / tenth["import"]["peak_rss_mb"], 2)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "catalog_import.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# Catalog import benchmark", "",
        f"`{' '.join(['.venv/bin/python', 'bench/catalog_import.py', *sys.argv[1:]])}` on {results['machine']['cpus']} "
        f"CPUs: {args.variants:,} variants ({results['products']:,} products in five sizes), a "
        f"{results['file_mb']} MB CSV; fresh embedded PostgreSQL and SecantusDB.", "",
        "| file | run | seconds | peak memory (MB) | report |", "|---|---|---:|---:|---|"]
    for label in ("tenth", "full"):
        for run in ("dry_run", "import", "again"):
            r = results[label][run]
            lines.append(f"| {label} | {run} | {r['seconds']} | {r['peak_rss_mb']} | {r['report']} |")
    lines += ["", f"Anchor (same run): the same products as raw documents, `insert_many` per 1,000, no checks: "
                  f"{results['anchor_raw_insert_s']} s. The import takes {results['import_vs_anchor']}× that "
                  f"(it reads the file twice, plans each product against the store by SKU, writes the audit "
                  f"log and the catalog index).",
              f"Memory: the whole file's peak is {results['memory_full_vs_tenth']}× a tenth's (streamed)."]
    (RESULTS / "catalog_import.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
