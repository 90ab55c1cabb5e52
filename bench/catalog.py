"""Catalog benchmark (not a test): every catalog page over HTTP at 10k, 100k and 1M products.

    .venv/bin/python bench/catalog.py [--sizes 10000,100000,1000000] [--levels 1,8] [--requests 40]

Starts its own embedded PostgreSQL and SecantusDB under `--data-dir` (default var/bench-catalog; kept,
so a second run reuses the filled databases), fills one MongoDB database and one PostgreSQL database
per size with products shaped like a real shop's (14 categories, Spanish names with accents, nested
attributes, a unique ISBN per book, an SKU each, and a fifth of them sold in 3 to 6 sizes or colours
with their own SKUs and stock), builds the catalog index, starts the real shop (gunicorn) on
them and times each page with 1 and 8 concurrent clients (separate processes). In the same run it
measures the raw `find_one({_id})` of the same MongoDB server, the baseline no page can beat.
Writes bench/results/catalog.json and bench/results/catalog.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import random
import re
import sys
import time
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
from bson import ObjectId  # noqa: E402

from shop.adapters.mongo import MongoStore  # noqa: E402
from shop.adapters.postgres import PostgresDatabase  # noqa: E402
from shop.embedded import EmbeddedMongo, EmbeddedPostgres  # noqa: E402
from shop.services.catalog import REBUILD_TIMEOUT_MS, rebuild_catalog_index  # noqa: E402

RESULTS = ROOT / "bench" / "results"

CATEGORIES = {
    "Móviles": ("Móvil", {"ram_gb": [4, 6, 8, 12, 16], "almacenamiento_gb": [64, 128, 256, 512],
                          "red_5g": [True, False]}),
    "Portátiles": ("Portátil", {"ram_gb": [8, 16, 32, 64], "procesador": ["i5", "i7", "Ryzen 5", "Ryzen 7", "M3"]}),
    "Libros": ("Libro", {"idioma": ["español", "inglés", "francés", "alemán", "italiano"],
                         "tapa": ["blanda", "dura"]}),
    "Televisores": ("Televisor", {"pulgadas": [32, 43, 50, 55, 65, 75], "hdr": [True, False]}),
    "Auriculares": ("Auriculares", {"inalambricos": [True, False], "cancelacion_ruido": [True, False]}),
    "Cámaras": ("Cámara", {"megapixeles": [12, 20, 24, 33, 45, 61], "estabilizador": [True, False]}),
    "Zapatillas": ("Zapatillas", {"talla": [38, 39, 40, 41, 42, 43, 44, 45], "uso": ["running", "trail", "paseo"]}),
    "Camisetas": ("Camiseta", {"talla": ["XS", "S", "M", "L", "XL"], "manga": ["corta", "larga"]}),
    "Cafeteras": ("Cafetera", {"tipo": ["italiana", "espresso", "goteo", "cápsulas"], "presion_bar": [9, 15, 19]}),
    "Bicicletas": ("Bicicleta", {"cuadro": ["S", "M", "L"], "marchas": [1, 7, 18, 21, 24]}),
    "Juguetes": ("Juguete", {"edad_minima": [0, 3, 6, 8, 12], "pilas": [True, False]}),
    "Relojes": ("Reloj", {"sumergible": [True, False], "correa": ["acero", "cuero", "silicona"]}),
    "Muebles": ("Mueble", {"material": ["pino", "roble", "haya", "metal"], "montaje": [True, False]}),
    "Alimentación": ("Lote", {"ecologico": [True, False], "origen": ["España", "Italia", "Francia", "Portugal"]}),
}
ADJECTIVES = ["Ultra", "Compacto", "Clásico", "Ergonómico", "Inalámbrico", "Plegable", "Básico", "Térmico",
              "Eléctrico", "Rápido", "Ligero", "Pequeño", "Grande", "Económico", "Profesional", "Resistente",
              "Silencioso", "Elegante", "Práctico", "Robusto", "Versátil", "Clásica", "Moderno", "Óptimo",
              "Sólido", "Cómodo", "Único", "Nítido", "Ágil", "Fácil"]
BRANDS = ["Acmé", "Boreal", "Cénit", "Dúplex", "Estela", "Faro", "Górgola", "Hélice", "Íbera", "Jábega"]
COLORS = ["negro", "blanco", "rojo", "azul", "verde", "gris", "amarillo", "rosa"]
VARIANT_SHARE = 0.2  # products sold in options (sizes or colours), each with 3 to 6 variants
SIZED = {"Camisetas": ["XS", "S", "M", "L", "XL", "XXL"], "Zapatillas": [38, 39, 40, 41, 42, 43, 44, 45],
         "Bicicletas": ["S", "M", "L", "XL"]}


def product_doc(rng: random.Random, serial: int) -> dict:
    category = rng.choice(list(CATEGORIES))
    noun, specific = CATEGORIES[category]
    brand = rng.choice(BRANDS)
    adjectives = rng.sample(ADJECTIVES, rng.choice((1, 1, 2)))
    name = f"{noun} {' '.join(adjectives)} {brand} {serial % 9973}"
    attributes: dict = {"marca": brand, "color": rng.choice(COLORS)}
    attributes.update({key: rng.choice(values) for key, values in specific.items()})
    attributes["dimensiones"] = {"alto_cm": rng.randint(1, 200), "ancho_cm": rng.randint(1, 200)}
    if category == "Libros":
        attributes["isbn"] = f"978-84-{serial:09d}"
        attributes["paginas"] = rng.randint(80, 900)
    price = Decimal(rng.randint(199, 250_000)) / 100
    doc = {"_id": ObjectId(), "name": name, "category": category, "price": price, "stock": rng.randint(0, 500),
           "attributes": attributes, "description": f"{name}: descripción de prueba.", "revision": 1,
           "sku": f"B{serial}", "skus": [f"B{serial}"]}
    if rng.random() < VARIANT_SHARE:  # sold in options: 3 to 6 variants, each with its own SKU and stock
        sized = category in SIZED
        option, choices = ("Talla", SIZED[category]) if sized else ("Color", COLORS)
        values = [str(v) for v in rng.sample(choices, min(len(choices), rng.randint(3, 6)))]
        variants = {f"v{n}": {"sku": f"B{serial}-{n}", "values": [value], "stock": rng.randint(0, 40)}
                    for n, value in enumerate(values, start=1)}
        variants[f"v{len(values)}"]["price"] = price + Decimal("5.00")  # the dearest one: "desde" on the card
        attributes.pop("talla", None)
        doc.update(options=[{"name": option, "values": values}], variants=variants,
                   skus=[v["sku"] for v in variants.values()], stock=sum(v["stock"] for v in variants.values()))
        del doc["sku"]
    return doc


def fill(store: MongoStore, db: PostgresDatabase, size: int, mongo_url: str) -> None:
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM catalog_entries")
        indexed = cur.fetchone()["n"]
    if indexed >= size:
        print(f"  {size:,}: reusing {indexed:,} products", flush=True)
        return
    patient = MongoStore(mongo_url, store.db.name, timeout_ms=REBUILD_TIMEOUT_MS)
    have = patient.products.estimated_document_count()  # O(N) on SecantusDB too, but only here
    rng = random.Random(size * 7 + have)  # noqa: S311 - test data, not secrets
    began = time.perf_counter()
    for start in range(have, size, 5000):
        patient.products.insert_many([product_doc(rng, serial) for serial in range(start, min(size, start + 5000))],
                                     ordered=False)
        if (start // 5000) % 20 == 0:
            print(f"  {size:,}: {start:,} products inserted", flush=True)
    inserted = time.perf_counter()
    # A rebuild reads the whole collection in one cursor; SecantusDB answers its first batch only
    # after reading all of it, so this client must wait longer than the default 5 s.
    try:
        count = rebuild_catalog_index(db, patient)
    finally:
        patient.close()
    print(f"  {size:,}: filled in {inserted - began:.0f}s, catalog index built in {time.perf_counter() - inserted:.0f}s"
          f" ({count:,} products)", flush=True)


def bench_arguments(doc: str, default_sizes: str, default_requests: int):
    """The options both benches take: (arguments, sizes, client levels)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=default_sizes)
    parser.add_argument("--levels", default="1,8")
    parser.add_argument("--requests", type=int, default=default_requests, help="requests per client per page")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-catalog")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    return args, [int(s) for s in args.sizes.split(",")], [int(x) for x in args.levels.split(",")]


@contextlib.contextmanager
def bench_servers(data_dir: Path):
    """The bench's own embedded PostgreSQL and SecantusDB under `data_dir` (kept between runs):
    yields (PostgreSQL admin URL, MongoDB URL), stops both after."""
    pg, mongo = EmbeddedPostgres(data_dir / "pg"), EmbeddedMongo(data_dir / "mongo")
    admin_url, mongo_url = pg.start(), mongo.start()
    try:
        yield admin_url, mongo_url
    finally:
        mongo.stop()
        pg.stop()


def machine(levels: list[int]) -> dict:
    """The results' frame: the machine and the client levels."""
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "levels": levels, "sizes": {}}


def open_size(admin_url: str, mongo_url: str, size: int, mongo_timeout_ms: int | None = None):
    """The databases of one catalog size (created and migrated when missing): (name, PostgreSQL URL,
    PostgresDatabase, MongoStore). Shared by bench/catalog.py and bench/staff.py."""
    name = f"bench_catalog_{size}"
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')  # generated name, never input
    conn.close()
    pg_url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    db = PostgresDatabase(pg_url, max_connections=2)
    db.migrate()
    store = MongoStore(mongo_url, name, **({"timeout_ms": mongo_timeout_ms} if mongo_timeout_ms else {}))
    store.apply_schema()
    return name, pg_url, db, store


def write_results(name: str, results: dict, markdown: str) -> None:
    """bench/results/<name>.json and <name>.md, and the table on the terminal."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    print(markdown)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _client(args) -> list[float]:
    host, port, path, requests, barrier = args
    barrier.wait(timeout=120)
    latencies = []
    for _ in range(requests):
        began = time.perf_counter()
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        latencies.append(time.perf_counter() - began)
    return latencies


def measure(pool, manager, base_url: str, path: str, clients: int, requests: int) -> dict:
    parts = urllib.parse.urlsplit(base_url)
    barrier = manager.Barrier(clients)
    _client((parts.hostname, parts.port, path, 2, manager.Barrier(1)))  # warm up this page
    runs = pool.map(_client, [(parts.hostname, parts.port, path, requests, barrier) for _ in range(clients)])
    latencies = [x for run in runs for x in run]
    return {"p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1), "samples": len(latencies)}


def raw_find_one(store: MongoStore, ids: list[ObjectId], n: int = 2000) -> dict:
    latencies = []
    for i in range(n):
        began = time.perf_counter()
        store.products.find_one({"_id": ids[i % len(ids)]})
        latencies.append(time.perf_counter() - began)
    return {"p50_ms": round(percentile(latencies, 0.5) * 1000, 2), "per_second": round(n / sum(latencies))}


def stock_operations(store: MongoStore, ids: list[ObjectId], n: int = 200) -> dict:
    """The MongoDB side of a checkout at this catalog size: reserve one unit and release it (point
    read + conditional update, as the shop does), and for comparison the findAndModify the shop
    used before (a collection scan on SecantusDB: only 3 calls)."""
    from pymongo import ReturnDocument

    latencies = []
    for i in range(n):
        product_id, order_id = str(ids[i % len(ids)]), 10_000_000 + i
        began = time.perf_counter()
        if store.stock.reserve(product_id, order_id, 1) is not None:
            store.stock.release(product_id, order_id, 1)
        latencies.append(time.perf_counter() - began)
    old = []
    for i in range(3):
        began = time.perf_counter()
        store.products.find_one_and_update({"_id": ids[i], "stock": {"$gte": 0}}, {"$inc": {"stock": 0}},
                                           projection={"name": 1, "price": 1}, return_document=ReturnDocument.BEFORE)
        old.append(time.perf_counter() - began)
    return {"reserve_and_release_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "reserve_and_release_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "find_and_modify_p50_ms": round(percentile(old, 0.5) * 1000, 1)}


def pages(db: PostgresDatabase, base_url: str, sample_id: str, sized: tuple[str, str]) -> dict[str, str]:
    """The page paths to time; page 2 and a deep page use the links a person would follow. `sized`:
    a product sold in sizes (its id, and one of its SKUs)."""
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM catalog_entries WHERE category = 'Libros' AND NOT archived")
        books = cur.fetchone()["n"]
        cur.execute("SELECT name_key, product_id FROM catalog_entries WHERE category = 'Libros' AND NOT archived "
                    "ORDER BY name_key, product_id OFFSET %s LIMIT 1", (books // 2,))
        middle = cur.fetchone()
    from shop.domain.listing import Position

    deep = Position("name", middle["name_key"], middle["product_id"]).token()
    first = urllib.request.urlopen(f"{base_url}/?category=Libros").read().decode()  # noqa: S310 - loopback
    second = re.search(r'rel="next" href="([^"#]+)"', first).group(1).replace("&amp;", "&")
    q = urllib.parse.quote
    return {
        "floor: /healthz": "/healthz",
        "home": "/",
        "category": f"/?category={q('Libros')}",
        "category + 1 filter": f"/?category={q('Libros')}&attr.idioma={q('francés')}",
        "category + 2 filters": f"/?category={q('Móviles')}&attr.ram_gb=8&attr.color=azul",
        "sort by name": f"/?category={q('Móviles')}&sort=name",
        "sort by price ↑": f"/?category={q('Móviles')}&sort=price_asc",
        "sort by price ↓": f"/?category={q('Móviles')}&sort=price_desc",
        "home by price ↑": "/?sort=price_asc",
        "search: one word": "/?q=ultra",
        "search: two words": f"/?q={q('ligero rápido')}",
        "search: accented": f"/?q={q('eléctrico')}",
        "search: unaccented": "/?q=electrico",
        "search: prefix": "/?q=port",
        "search: miss": "/?q=zzzxq",
        "page 2": second,
        "deep page": f"/?category=Libros&after={deep}",
        "product page": f"/products/{sample_id}",
        "category + size in stock": "/?category=Camisetas&attr.talla=M",
        "search: an SKU": f"/?q={q(sized[1])}",
        "product page with sizes": f"/products/{sized[0]}",
        # The REST API's product list and product (JSON, the same index and documents as the pages)
        "API: products": "/api/v1/products?limit=12",
        "API: category + 1 filter": f"/api/v1/products?category={q('Libros')}&attr.idioma={q('francés')}&limit=12",
        "API: search two words": f"/api/v1/products?q={q('ligero rápido')}&limit=12",
        "API: deep page": f"/api/v1/products?category=Libros&after={deep}&limit=12",
        "API: product with sizes": f"/api/v1/products/{sized[0]}",
    }


def main() -> None:
    args, sizes, levels = bench_arguments(__doc__, "10000,100000,1000000", 40)

    from tests.e2e.conftest import start_shop, stop_shop

    results: dict = machine(levels)
    ctx = multiprocessing.get_context("fork")
    with bench_servers(args.data_dir) as (admin_url, mongo_url), ctx.Manager() as manager, \
            ctx.Pool(max(levels)) as pool:
        for size in sizes:
            name, pg_url, db, store = open_size(admin_url, mongo_url, size)
            fill(store, db, size, mongo_url)
            with db.transaction() as cur:  # (a MongoDB find without an index reads every product)
                cur.execute("SELECT product_id FROM catalog_entries WHERE NOT archived LIMIT 500")
                ids = [ObjectId(row["product_id"]) for row in cur.fetchall()]
                cur.execute("""SELECT product_id FROM catalog_entries WHERE category = 'Camisetas' AND NOT archived
                               AND facets @> '{"_options": ["talla"]}' LIMIT 1""")
                sized_id = cur.fetchone()["product_id"]
            sized = (sized_id, store.catalog.get(sized_id).variants[1].sku)
            size_result = {"raw_find_one": raw_find_one(store, ids),
                           "stock_operations": stock_operations(store, ids), "pages": {}}
            print(f"  {size:>9,} {size_result['raw_find_one']} {size_result['stock_operations']}", flush=True)
            # Pass 1: every request reads the index and MongoDB (no page cache): what the design costs.
            # Pass 2: the page cache on (CATALOG_CACHE_SECONDS=2), 8 clients: a page many people view.
            for cache_seconds, pass_levels in ((0, levels), (2, [max(levels)])):
                shop = start_shop(args.data_dir / f"shop-{size}", extra_env={
                    "DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "MONGODB_DB": name,
                    "SHOP_DEMO_DATA": "0", "LOG_LEVEL": "WARNING", "CATALOG_CACHE_SECONDS": str(cache_seconds),
                    # the API counts every call in the shared limit store (as configured), but must not refuse
                    "API_RATE_LIMIT": "100000000 per minute"})
                try:
                    for page, path in pages(db, shop.url, str(ids[0]), sized).items():
                        for level in pass_levels:
                            label = str(level) if cache_seconds == 0 else f"{level} cached"
                            result = measure(pool, manager, shop.url, path, level, args.requests)
                            size_result["pages"].setdefault(page, {})[label] = result
                            print(f"  {size:>9,} {page:<22} {label:>9}: p50 {result['p50_ms']:6.1f} "
                                  f"p99 {result['p99_ms']:6.1f}", flush=True)
                finally:
                    stop_shop(shop)
            db.close()
            store.close()
            results["sizes"][str(size)] = size_result
    write(results, sizes, levels)


def write(results: dict, sizes: list[int], levels: list[int]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "catalog.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    small, large = str(sizes[0]), str(sizes[-1])
    lines = ["# Catalog pages over HTTP", "",
             f"{results['machine']['cpus']} cores; the real shop (gunicorn, 2 workers) on embedded PostgreSQL + "
             "SecantusDB; p50 / p99 in ms; `growth` = p50 at the largest size ÷ p50 at the smallest. "
             "`floor: /healthz` is the HTTP stack alone (no database): the least any page can cost.", "",
             "Raw MongoDB `find_one({_id})` in the same run: " + ", ".join(
                 f"{int(s):,} products {results['sizes'][s]['raw_find_one']['p50_ms']} ms "
                 f"({results['sizes'][s]['raw_find_one']['per_second']}/s)" for s in results["sizes"]), ""]
    lines += ["MongoDB side of one checkout line (reserve one unit, then release it: a point read and two "
              "conditional updates), p50 / p99, and the `findAndModify` reservation used before this change: "
              + ", ".join(f"{int(s):,} products {v['stock_operations']['reserve_and_release_p50_ms']} / "
                          f"{v['stock_operations']['reserve_and_release_p99_ms']} ms (findAndModify "
                          f"{v['stock_operations']['find_and_modify_p50_ms']} ms)"
                          for s, v in results["sizes"].items()), ""]
    columns = [str(lv) for lv in levels] + [f"{max(levels)} cached"]
    header = "| page | " + " | ".join(f"{int(s) // 1000:,}k: {c}" for s in map(str, sizes) for c in columns) + \
        " | growth (1 / 8 / 8 cached) |"
    lines += ["Columns: clients (`cached`: the page cache on, 2 s).", "", header,
              "|" + "---|" * (2 + len(sizes) * len(columns))]
    for page in results["sizes"][small]["pages"]:
        cells = []
        for s in map(str, sizes):
            for c in columns:
                v = results["sizes"][s]["pages"][page][c]
                cells.append(f"{v['p50_ms']:.1f} / {v['p99_ms']:.1f}")
        by_size = {s: results["sizes"][s]["pages"][page] for s in (small, large)}
        growth = [by_size[large][c]["p50_ms"] / by_size[small][c]["p50_ms"] for c in columns]
        lines.append(f"| {page} | " + " | ".join(cells) + " | " + " / ".join(f"{g:.2f}×" for g in growth) + " |")
    (RESULTS / "catalog.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
