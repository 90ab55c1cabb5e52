"""Page cache benchmark (not a test): is the single-flight guard of `shop.web.extensions.reused`
worth its concepts?

    .venv/bin/python bench/page_cache.py [--seconds 15] [--threads 4,16]

Starts its own embedded PostgreSQL and SecantusDB, loads the demo catalog, and serves the real app
in this process (Flask's test client, no HTTP) to N threads that all ask for the home page as fast
as they can, with CATALOG_CACHE_SECONDS=2 — so every two seconds the page expires while every
thread wants it. Three variants, each
measured in the same run:
- guard: the shipped `reused` (one thread renders a missing page, the others wait for it);
- no guard: the same cache, but a thread that finds a page missing renders it itself
  (FLIGHT_WAIT_SECONDS = 0: what the cache did without the guard);
- no cache: every request renders (CATALOG_CACHE_SECONDS=0), the baseline.
It counts renders (of the catalog results, the part `reused` keeps) per page expiry, and
requests per second with p50 and p99 latency. 4 threads is one gunicorn worker (4 threads each);
16 would be a process four times as wide. Writes bench/results/page_cache.json and bench/results/page_cache.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.catalog import percentile  # noqa: E402
from shop.bootstrap import prepare_databases  # noqa: E402
from shop.config import load_settings  # noqa: E402
from shop.embedded import EmbeddedMongo, EmbeddedPostgres  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PAGES = ["/"]  # the worst case for a stampede: everyone on the home page


def measure(app, threads: int, seconds: float) -> dict:
    from flask import template_rendered

    renders = 0
    count_lock = threading.Lock()

    def count_render(sender, template, context, **extra) -> None:  # the part `reused` keeps
        nonlocal renders
        if template.name == "catalog/_results.html":
            with count_lock:
                renders += 1

    template_rendered.connect(count_render, app)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    failures = []
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def client(index: int) -> None:
        browser = app.test_client()
        start.wait()
        n = 0
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            status = browser.get(PAGES[n % len(PAGES)]).status_code
            latencies[index].append(time.perf_counter() - began)
            if status != 200:
                failures.append(status)
            n += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    template_rendered.disconnect(count_render, app)
    every = [value for per_thread in latencies for value in per_thread]
    cache_seconds = app.config["CATALOG_CACHE_SECONDS"]
    expiries = elapsed / cache_seconds if cache_seconds else None
    return {"requests": len(every), "requests_per_second": round(len(every) / elapsed, 1),
            "p50_ms": round(percentile(every, 0.5) * 1000, 2), "p99_ms": round(percentile(every, 0.99) * 1000, 2),
            "renders": renders,
            "renders_per_page_expiry": round(renders / expiries / len(PAGES), 2) if expiries else None,
            "failures": len(failures)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--threads", default="4,16")
    args = parser.parse_args()
    levels = [int(n) for n in args.threads.split(",")]
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                     "seconds": args.seconds, "pages": PAGES, "threads": {}}
    with tempfile.TemporaryDirectory(prefix="bench-page-cache-") as tmp:
        pg, mongo = EmbeddedPostgres(Path(tmp) / "pg"), EmbeddedMongo(Path(tmp) / "mongo")
        pg_url, mongo_url = pg.start(), mongo.start()
        try:
            settings = load_settings({"DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "SHOP_DATA_DIR": tmp,
                                      "CATALOG_CACHE_SECONDS": "2", "LOG_LEVEL": "WARNING"}, read_dotenv=False)
            prepare_databases(settings, demo=True)
            from shop.web import extensions
            from shop.web.factory import create_app

            variants = {"guard": (settings, extensions.FLIGHT_WAIT_SECONDS),
                        "no guard": (settings, 0.0),
                        "no cache": (dataclasses.replace(settings, catalog_cache_seconds=0), 0.0)}
            for threads in levels:
                results["threads"][threads] = {}
                for name, (variant_settings, wait) in variants.items():
                    app = create_app({"RATELIMIT_ENABLED": False}, settings=variant_settings)
                    extensions.FLIGHT_WAIT_SECONDS = wait
                    with app.app_context():
                        extensions.cache.clear()
                    measure(app, threads, 2.0)  # warm up: connections, templates
                    figures = measure(app, threads, args.seconds)
                    results["threads"][threads][name] = figures
                    print(f"{threads:>3} threads  {name:<9} {figures}", flush=True)
                    extensions.close_stores(app)
        finally:
            mongo.stop()
            pg.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "page_cache.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Page cache: the single-flight guard against no guard and no cache", "",
             f"`{' '.join(['bench/page_cache.py', *sys.argv[1:]])}` — {results['machine']['cpus']} CPUs, "
             f"Python {results['machine']['python']}, {args.seconds:g} s per variant, pages: {', '.join(PAGES)}, "
             "CATALOG_CACHE_SECONDS=2.", "",
             "| threads | variant | requests/s | vs no cache | p50 ms | p99 ms | renders | renders per page expiry |",
             "|---|---|---|---|---|---|---|---|"]
    for threads, variants_figures in results["threads"].items():
        base = variants_figures["no cache"]["requests_per_second"]
        for name, f in variants_figures.items():
            ratio = f["requests_per_second"] / base
            lines.append(f"| {threads} | {name} | {f['requests_per_second']} | {ratio:.2f}× | {f['p50_ms']} | "
                         f"{f['p99_ms']} | {f['renders']} | {f['renders_per_page_expiry'] or '—'} |")
    (RESULTS / "page_cache.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
