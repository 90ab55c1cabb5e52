"""Where a catalog request's time goes (not a test): each long-tail request kind profiled with
cProfile in one process, at bench/catalog.py's filled size, the page cache off.

    .venv/bin/python bench/catalog_profile.py [--size 1000000] [--requests 200]

Starts bench/catalog.py's embedded servers on its data directory (a catalog filled there by
bench/catalog.py or bench/catalog_long_tail.py is reused; otherwise it is filled), builds the app in this process and
sends each kind's requests (drawn as bench/catalog_long_tail.py draws them) through Flask's test
client: no HTTP server, no other process competing. Splits each kind's time into PostgreSQL
(psycopg2), MongoDB (pymongo and bson), templates (Jinja), and the rest (the shop's Python,
Flask, Werkzeug). Writes bench/results/catalog_profile.json and .md.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.catalog import bench_servers, fill, open_size, percentile, write_results  # noqa: E402
from bench.catalog_long_tail import NEXT_LINK, _draw  # noqa: E402

REST = "the rest (shop, Flask, Werkzeug, Python)"
# Where a function lives → the part of a request it belongs to (its own time, not its callees').
PARTS = (("PostgreSQL (psycopg2)", ("psycopg2", "_CountingCursor")), ("MongoDB (pymongo, bson)", ("pymongo", "bson")),
         # no HTTP here (the test client), so a socket is MongoDB's: its wait for an answer
         ("MongoDB's socket (waiting)", ("_socket.socket", "select.poll", "select.select")),
         ("templates (Jinja, MarkupSafe)", ("jinja2", "markupsafe", "/templates/")),
         ("Babel (formatting, translations)", ("babel", "flask_babel")))


def part_of(where: str) -> str:
    """`where`: a profiled function's file and name (a C function's name says its type's module)."""
    for part, markers in PARTS:
        if any(marker in where for marker in markers):
            return part
    return REST


def profile_kind(client, paths: list[str]) -> dict:
    profiler = cProfile.Profile()
    walls = []
    for path in paths:
        began = time.perf_counter()
        profiler.enable()
        response = client.get(path)
        profiler.disable()
        walls.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    stats = pstats.Stats(profiler)
    by_part: dict[str, float] = defaultdict(float)
    rest: dict[str, float] = defaultdict(float)
    for (filename, line, name), (_cc, _nc, own, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        part = part_of(f"{filename} {name}")
        by_part[part] += own
        if part == REST:
            rest[f"{Path(filename).name}:{line} {name}" if filename != "~" else name] += own
    total = sum(by_part.values())
    return {"requests": len(paths), "p50_ms": round(percentile(walls, 0.5) * 1000, 1),
            "profiled_ms_per_request": round(total / len(paths) * 1000, 1),
            "parts_ms_per_request": {part: round(seconds / len(paths) * 1000, 2)
                                     for part, seconds in sorted(by_part.items(), key=lambda kv: -kv[1])},
            "rest_top_ms_per_request": {where: round(seconds / len(paths) * 1000, 2)
                                        for where, seconds in sorted(rest.items(), key=lambda kv: -kv[1])[:12]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-catalog")
    args = parser.parse_args()
    from shop.config import Settings
    from shop.web.extensions import close_stores
    from shop.web.factory import create_app

    rng = random.Random(7)  # noqa: S311 - a benchmark's draw
    results: dict = {"size": args.size, "kinds": {}}
    with bench_servers(args.data_dir) as (admin_url, mongo_url):
        name, pg_url, db, store = open_size(admin_url, mongo_url, args.size)
        fill(store, db, args.size, mongo_url)  # reused when already filled
        with db.transaction() as cur:
            cur.execute("SELECT product_id FROM catalog_entries TABLESAMPLE SYSTEM (1) WHERE NOT archived LIMIT 5000")
            ids = [row["product_id"] for row in cur.fetchall()]
        settings = Settings(env="development", secret_key="p" * 48, database_url=pg_url, mongodb_url=mongo_url,
                            mongodb_db=name, data_dir=args.data_dir / "profile", catalog_cache_seconds=0,
                            demo_data=False)
        app = create_app({"RATELIMIT_ENABLED": False}, settings=settings)
        client = app.test_client()
        try:
            wanted: dict[str, list[str]] = defaultdict(list)
            while min((len(wanted[k]) for k in wanted), default=0) < args.requests or len(wanted) < 7:
                kind, path = _draw(rng, ids)
                if kind == "keyset page 2–20":  # follow the links to a page 2 to 20 deep
                    page = client.get(path).get_data(as_text=True)
                    for _ in range(rng.randint(1, 19)):
                        link = NEXT_LINK.search(page)
                        if link is None:
                            break
                        path = link.group(1).replace("&amp;", "&")
                        page = client.get(path).get_data(as_text=True)
                if len(wanted[kind]) < args.requests:
                    wanted[kind].append(path)
            client.get("/")  # warm: first connections, templates compiled
            wanted["floor: /healthz"] = ["/healthz"] * args.requests
            for kind, paths in sorted(wanted.items()):
                results["kinds"][kind] = profile_kind(client, paths)
                print(f"  {kind}: {json.dumps(results['kinds'][kind], ensure_ascii=False)}", flush=True)
        finally:
            close_stores(app)
            db.close()
            store.close()
    write_results("catalog_profile", results, markdown(results))


def markdown(results: dict) -> str:
    parts = [part for part, _ in PARTS] + [REST]
    lines = ["# Where a catalog request's time goes (cProfile, one process, page cache off)", "",
             f"`bench/catalog_profile.py` at {results['size']:,} products: each kind's requests through Flask's "
             "test client in one process (no HTTP server, no competing clients). `p50` is the wall time with the "
             "profiler on (cProfile adds its own cost, roughly in proportion to the number of Python calls); the "
             "parts are the profiled time per request, by where the functions live (own time, not callees'). "
             "Time spent waiting for a database's answer counts in its driver's part.", "",
             "| kind | p50 ms | profiled ms | " + " | ".join(parts) + " |", "|---|---|---|" + "---|" * len(parts)]
    for kind, figures in results["kinds"].items():
        cells = [str(figures["parts_ms_per_request"].get(part, 0.0)) for part in parts]
        lines.append(f"| {kind} | {figures['p50_ms']} | {figures['profiled_ms_per_request']} | " + " | ".join(cells)
                     + " |")
    lines += ["", "The largest own times in the rest, per request (ms):", ""]
    for kind, figures in results["kinds"].items():
        if kind.startswith("floor"):
            continue
        top = ", ".join(f"`{where}` {ms}" for where, ms in list(figures["rest_top_ms_per_request"].items())[:6])
        lines.append(f"- {kind}: {top}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
