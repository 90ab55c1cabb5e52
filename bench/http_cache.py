"""Shared-cache benchmark (not a test): visitors' catalog traffic through nginx's cache
(deploy/nginx/shop.conf, over TLS), against nginx serving a static file of the same size from disk
in the same run (the most this machine can serve), and the shop alone without nginx.

    .venv/bin/python bench/http_cache.py [--seconds 15] [--clients 64]

Starts its own embedded PostgreSQL and SecantusDB (under --data-dir), the real shop (gunicorn, the
demo catalog, the default CATALOG_CACHE_SECONDS) and nginx with the repository's site file, on free
ports. The load is wrk (Debian's package; `scripts/ensure-system-packages.sh` installs it): 2
threads, `--clients` keep-alive connections, each request drawn at random from the visitors' pages
(the home page, every category, a few searches and filters, every product page, in both
languages). Writes bench/results/http_cache.json and bench/results/http_cache.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.catalog import bench_servers, open_size, write_results  # noqa: E402
from shop.embedded import free_port  # noqa: E402
from shop.services.catalog import load_demo_catalog  # noqa: E402

WRK = "/usr/bin/wrk"
NGINX = "/usr/sbin/nginx"

# wrk's script: each request one of the paths, at random (the list is written in by `_script`).
_LUA = """
local paths = {%s}
math.randomseed(os.time())
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def visitor_paths(store) -> list[str]:
    """What visitors ask for: the home page, each category, searches, a filter, each product, in
    Spanish and in English."""
    ids = sorted({ref.split(":")[0] for ref in store.stock.levels()})  # a variant's ref is product:variant
    products = store.catalog.by_ids(ids)
    categories = sorted({product.category for product in products.values()})
    spanish = ["/", "/?q=taza", "/?q=libro", "/?q=cafe", "/?sort=price_asc", "/?sort=price_desc",
               *(f"/?category={urllib.parse.quote(c)}" for c in categories),
               *(f"/products/{product_id}" for product_id in products)]
    return spanish + ["/en" + path for path in spanish]


def run_wrk(url: str, paths: list[str], clients: int, seconds: int, work: Path) -> dict:
    script = work / f"paths-{len(paths)}.lua"
    script.write_text(_LUA % ", ".join(json.dumps(path) for path in paths))
    out = subprocess.run([WRK, "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _millis(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1)) for p in ("50", "99")}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_second": round(rate), "p50_ms": latency["50"], "p99_ms": latency["99"],
            "non_2xx": int(errors.group(1)) if errors else 0}


def _millis(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return round(float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-http-cache")
    args = parser.parse_args()
    for tool in (WRK, NGINX):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} is missing: run `bash scripts/ensure-system-packages.sh`")
    from tests.e2e.conftest import start_shop, stop_shop
    from tests.e2e.test_nginx_cache import nginx_in_front, self_signed_certificate

    shutil.rmtree(args.data_dir, ignore_errors=True)
    work = args.data_dir / "work"
    work.mkdir(parents=True)
    results: dict = {"machine": {"cpus": os.cpu_count()}, "clients": args.clients, "seconds": args.seconds}
    with bench_servers(args.data_dir) as (admin_url, mongo_url):
        name, pg_url, db, store = open_size(admin_url, mongo_url, 0)
        load_demo_catalog(db, store)
        paths = visitor_paths(store)
        https_port, http_port, static_port, shop_port = free_port(), free_port(), free_port(), free_port()
        shop = start_shop(args.data_dir / "shop", port=shop_port, extra_env={
            "DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "MONGODB_DB": name, "SHOP_DEMO_DATA": "0",
            "LOG_LEVEL": "WARNING", "PUBLIC_URL": f"https://127.0.0.1:{https_port}", "TRUSTED_PROXIES": "1",
            "TRUSTED_PROXY_ADDRESSES": "127.0.0.1"})
        nginx = None
        try:
            with urllib.request.urlopen(f"{shop.url}/") as response:  # noqa: S310 - the bench's own shop
                page = response.read()
            static = work / "static"
            static.mkdir()
            (static / "page.html").write_bytes(page)  # the home page's bytes: a file of the same size
            cert, key = self_signed_certificate(work)
            nginx = nginx_in_front(work / "nginx", shop_port, https_port, http_port, cert, key, extra_http=f"""
        server {{
            listen 127.0.0.1:{static_port} ssl http2;
            ssl_certificate {cert};
            ssl_certificate_key {key};
            location / {{ root {static}; }}
        }}""")
            time.sleep(1)
            results["page_bytes"] = len(page)
            results["paths"] = len(paths)
            targets = (
                ("nginx: a static file of the same size, from disk (TLS)", f"https://127.0.0.1:{static_port}",
                 ["/page.html"]),
                ("nginx's cache in front of the shop (TLS)", f"https://127.0.0.1:{https_port}", paths),
                ("the shop alone (HTTP, its 2 s page cache)", shop.url, paths),
            )
            run_wrk(targets[1][1], paths, 8, 3, work)  # every page once into the cache
            for what, url, wanted in targets:
                results[what] = run_wrk(url, wanted, args.clients, args.seconds, work)
                print(f"  {what}: {results[what]}", flush=True)
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait(10)
            stop_shop(shop)
            db.close()
            store.close()
    write_results("http_cache", results, markdown(results))


def markdown(results: dict) -> str:
    anchor = results["nginx: a static file of the same size, from disk (TLS)"]["requests_per_second"]
    lines = ["# Visitors' catalog traffic through the shared cache",
             "",
             f"`bench/http_cache.py`: {results['clients']} keep-alive clients (wrk, 2 threads), "
             f"{results['seconds']:.0f} s each, on {results['machine']['cpus']} cores shared by wrk, nginx, the shop "
             f"(gunicorn, 2 workers) and both databases. Each request is one of {results['paths']} visitor pages "
             f"at random; a page is about {results['page_bytes']:,} bytes.",
             "",
             "| Served by | requests/s | ÷ static file | p50 ms | p99 ms | non-2xx |",
             "|---|---|---|---|---|---|"]
    for what, figures in results.items():
        if not isinstance(figures, dict) or "requests_per_second" not in figures:
            continue
        lines.append(f"| {what} | {figures['requests_per_second']:,} | "
                     f"{figures['requests_per_second'] / anchor:.0%} | {figures['p50_ms']} | {figures['p99_ms']} | "
                     f"{figures['non_2xx']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
