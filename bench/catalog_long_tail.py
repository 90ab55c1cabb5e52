"""Catalog long-tail benchmark (not a test): requests drawn at random from spaces too large for any
page cache, as real traffic is, at 1M products.

    .venv/bin/python bench/catalog_long_tail.py [--size 1000000] [--levels 1,8] [--seconds 30]

Uses bench/catalog.py's databases (under --data-dir, the same default: a catalog filled there is
reused). Each client is a process with its own connection per request, drawing every request at
random from:
- a search for any word of the catalog's vocabulary, and for any 2–5-letter prefix of one;
- a two-word search;
- any category with any value of one of its attributes;
- a category or the whole catalog sorted by price, up or down;
- keyset pages 2–20 deep, reached by following the "next" links from a random category;
- any product of the whole collection (a random sample of ids from the catalog index).
Each run is done with the page cache off (CATALOG_CACHE_SECONDS=0) and on (2 s, the default), the
hit rate read from the shop's own counter (`shop_page_cache_lookups_total`). The `/healthz` floor
is measured in the same run. Writes bench/results/catalog_long_tail.json and .md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.catalog import (  # noqa: E402
    ADJECTIVES,
    BRANDS,
    CATEGORIES,
    COLORS,
    bench_servers,
    fill,
    open_size,
    percentile,
    write_results,
)

NEXT_LINK = re.compile(r'rel="next" href="([^"#]+)"')
METRICS_TOKEN = secrets.token_urlsafe(24)  # this run's shop only
VOCABULARY = sorted({*ADJECTIVES, *BRANDS, *COLORS, *(noun for noun, _ in CATEGORIES.values())})


def _get(base: str, path: str) -> tuple[float, str]:
    """(seconds, body). An answer other than 200 stops the bench: every drawn request is one a
    visitor could make from the pages, so the shop must answer it."""
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:  # noqa: S310 - the bench's own shop
            body = response.read().decode()
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{path} answered {error.code}") from None
    return time.perf_counter() - began, body


def _draw(rng: random.Random, ids: list[str]) -> tuple[str, str]:
    """One request: (its kind, its path). Deep pages are drawn as their starting category."""
    q = urllib.parse.quote
    kind = rng.choice(("search: any word", "search: a prefix", "search: two words", "category × attribute",
                       "price sort", "keyset page 2–20", "any product"))
    if kind == "search: any word":
        return kind, f"/?q={q(rng.choice(VOCABULARY).lower())}"
    if kind == "search: a prefix":
        word = rng.choice([w for w in VOCABULARY if len(w) >= 2])
        return kind, f"/?q={q(word[:rng.randint(2, min(5, len(word)))].lower())}"
    if kind == "search: two words":
        return kind, f"/?q={q(' '.join(rng.sample(VOCABULARY, 2)).lower())}"
    if kind == "category × attribute":
        category = rng.choice(list(CATEGORIES))
        key, values = rng.choice(list(CATEGORIES[category][1].items()))
        value = rng.choice(values)
        shown = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return kind, f"/?category={q(category)}&attr.{key}={q(shown)}"
    if kind == "price sort":
        where = rng.choice([None, *CATEGORIES])
        sort = rng.choice(("price_asc", "price_desc"))
        return kind, f"/?sort={sort}" + (f"&category={q(where)}" if where else "")
    if kind == "keyset page 2–20":
        return kind, f"/?category={q(rng.choice(list(CATEGORIES)))}"
    return kind, f"/products/{rng.choice(ids)}"


def _client(args) -> dict[str, list[float]]:
    base, ids, seconds, seed, barrier = args
    rng = random.Random(seed)  # noqa: S311 - a benchmark's draw, not a secret
    barrier.wait(timeout=120)
    timings: dict[str, list[float]] = defaultdict(list)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind, path = _draw(rng, ids)
        if kind != "keyset page 2–20":
            timings[kind].append(_get(base, path)[0])
            continue
        _, page = _get(base, path)  # page 1: the start, not timed as a deep page
        for _ in range(rng.randint(1, 19)):
            link = NEXT_LINK.search(page)
            if link is None:
                break
            took, page = _get(base, link.group(1).replace("&amp;", "&"))
            timings[kind].append(took)
        if rng.random() < 0.1:
            timings["floor: /healthz"].append(_get(base, "/healthz")[0])
    return timings


def cache_lookups(base: str) -> tuple[float, float]:
    """(hits, misses) of the page cache so far, summed over every kind, from the shop's /metrics."""
    request = urllib.request.Request(base + "/metrics",  # noqa: S310 - the bench's own shop
                                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    text = urllib.request.urlopen(request, timeout=10).read().decode()  # noqa: S310 - the bench's own shop
    counts = {"hit": 0.0, "miss": 0.0}
    for result, value in re.findall(r'^shop_page_cache_lookups_total\{[^}]*result="(hit|miss)"[^}]*\} (\S+)$',
                                    text, re.M):
        counts[result] += float(value)
    return counts["hit"], counts["miss"]


def run(pool, manager, base: str, ids: list[str], clients: int, seconds: int) -> dict:
    barrier = manager.Barrier(clients)
    before = cache_lookups(base)
    runs = pool.map(_client, [(base, ids, seconds, 1000 * clients + n, barrier) for n in range(clients)])
    after = cache_lookups(base)
    merged: dict[str, list[float]] = defaultdict(list)
    for timings in runs:
        for kind, values in timings.items():
            merged[kind].extend(values)
    hits, misses = after[0] - before[0], after[1] - before[1]
    return {"kinds": {kind: {"p50_ms": round(percentile(v, 0.5) * 1000, 1),
                             "p99_ms": round(percentile(v, 0.99) * 1000, 1), "samples": len(v)}
                      for kind, v in sorted(merged.items())},
            "requests_per_second": round(sum(len(v) for v in merged.values()) / seconds, 1),
            "page_cache_hit_rate": round(hits / (hits + misses), 3) if hits + misses else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--levels", default="1,8")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-catalog")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    levels = [int(x) for x in args.levels.split(",")]

    from tests.e2e.conftest import start_shop, stop_shop

    results: dict = {"machine": {"cpus": os.cpu_count()}, "size": args.size, "seconds": args.seconds, "runs": {}}
    ctx = multiprocessing.get_context("fork")
    with bench_servers(args.data_dir) as (admin_url, mongo_url), ctx.Manager() as manager, \
            ctx.Pool(max(levels)) as pool:
        name, pg_url, db, store = open_size(admin_url, mongo_url, args.size)
        fill(store, db, args.size, mongo_url)
        with db.transaction() as cur:  # a random sample of the whole collection, not its first rows
            cur.execute("SELECT product_id FROM catalog_entries TABLESAMPLE SYSTEM (1) WHERE NOT archived LIMIT 5000")
            ids = [row["product_id"] for row in cur.fetchall()]
        for cache_seconds in (0, 2):
            shop = start_shop(args.data_dir / f"shop-long-tail-{args.size}", extra_env={
                "DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "MONGODB_DB": name, "SHOP_DEMO_DATA": "0",
                "LOG_LEVEL": "WARNING", "CATALOG_CACHE_SECONDS": str(cache_seconds), "METRICS_TOKEN": METRICS_TOKEN})
            try:
                for level in levels:
                    label = f"{level} clients, page cache {'on (2 s)' if cache_seconds else 'off'}"
                    results["runs"][label] = run(pool, manager, shop.url, ids, level, args.seconds)
                    print(f"  {label}: {json.dumps(results['runs'][label], ensure_ascii=False)}", flush=True)
            finally:
                stop_shop(shop)
        db.close()
        store.close()
    write_results("catalog_long_tail", results, markdown(results))


def markdown(results: dict) -> str:
    lines = ["# Catalog long tail: random requests a page cache cannot absorb", "",
             f"`bench/catalog_long_tail.py` at {results['size']:,} products, {results['seconds']} s per run, on "
             f"{results['machine']['cpus']} cores shared by the clients, the shop (gunicorn, 2 workers) and both "
             "databases. p50 / p99 in ms per request kind; `floor: /healthz` is the HTTP stack alone, measured "
             "between the same requests. Goal (8 clients, cache off): p50 ≤ 25 ms and p99 ≤ 100 ms for every kind.",
             ""]
    runs = results["runs"]
    kinds = sorted({kind for run in runs.values() for kind in run["kinds"]})
    lines += ["| kind | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    for kind in kinds:
        cells = [f"{run['kinds'][kind]['p50_ms']} / {run['kinds'][kind]['p99_ms']}" if kind in run["kinds"] else "–"
                 for run in runs.values()]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines.append("| requests/s | " + " | ".join(str(run["requests_per_second"]) for run in runs.values()) + " |")
    lines.append("| page cache hit rate | " + " | ".join(
        "–" if run["page_cache_hit_rate"] is None else f"{run['page_cache_hit_rate']:.1%}" for run in runs.values())
        + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
