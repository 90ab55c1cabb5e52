"""Image benchmark (not a test): product image sizes served per second, against nginx serving the same
file from disk in the same run (the anchor no Python server beats); and how long a 12-megapixel
photo takes from upload to visible.

    .venv/bin/python bench/images.py [--seconds 8] [--levels 1,8]

Starts its own embedded PostgreSQL and SecantusDB (under --data-dir), the real shop (gunicorn, 2
workers, the demo catalog with its illustrations) and nginx (`scripts/ensure-system-packages.sh`
installs it) on free ports. Each client is a process with one keep-alive connection asking for the
same 320-pixel WebP (a thumbnail, as a catalog page asks for twelve of) as fast as it is answered.
Upload to visible: a 4000 × 3000 JPEG is checked, cleaned and sized (`shop.services.images.add_image`,
what the admin's form calls), then the product page and the new image are fetched over HTTP.
Writes bench/results/images.json and bench/results/images.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from bench.catalog import bench_servers, open_size, percentile, write_results  # noqa: E402
from shop.embedded import free_port  # noqa: E402
from shop.services import images as image_service  # noqa: E402
from shop.services.catalog import load_demo_catalog  # noqa: E402

NGINX = "/usr/sbin/nginx"


def _client(args) -> tuple[int, list[float]]:
    port, path, seconds, barrier = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    barrier.wait(timeout=120)
    latencies, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        latencies.append(time.perf_counter() - began)
    connection.close()
    return len(latencies), latencies


def measure(pool, manager, port: int, path: str, clients: int, seconds: float) -> dict:
    _client((port, path, 0.2, manager.Barrier(1)))  # warm up
    barrier = manager.Barrier(clients)
    runs = pool.map(_client, [(port, path, seconds, barrier) for _ in range(clients)])
    latencies = [x for _, run in runs for x in run]
    return {"per_second": round(sum(n for n, _ in runs) / seconds),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2)}


@contextlib.contextmanager
def nginx_serving(directory: Path):
    """nginx on a free port serving `directory`, with the headers the shop sends for an image."""
    port = free_port()
    conf = directory.parent / "nginx.conf"
    conf.write_text(f"""
worker_processes 2;
pid {directory.parent}/nginx.pid;
error_log {directory.parent}/nginx-error.log;
daemon off;
events {{ worker_connections 256; }}
http {{
  access_log off;
  types {{ image/webp webp; }}
  server {{
    listen 127.0.0.1:{port};
    root {directory};
    location / {{ add_header Cache-Control "public, max-age=31536000, immutable"; etag on; }}
  }}
}}""")
    process = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(directory.parent)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
                break
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def twelve_megapixels() -> bytes:
    """A 4000 × 3000 photo-like JPEG (gradients and detail, so it compresses as a photo does)."""
    image = Image.radial_gradient("L").resize((4000, 3000)).convert("RGB")
    noise = Image.effect_noise((4000, 3000), 40).convert("RGB")
    photo = Image.blend(image, noise, 0.35)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def upload_to_visible(store, shop_port: int, product_id: str, data: bytes) -> dict:
    began = time.perf_counter()
    image = image_service.add_image(store, product_id, data, "Foto de 12 megapíxeles")
    stored = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", shop_port, timeout=30)
    connection.request("GET", f"/products/{product_id}")
    page = connection.getresponse().read().decode()
    url = re.search(rf"/imagenes/{image.image_id}-640\.webp", page).group(0)
    connection.request("GET", url)
    response = connection.getresponse()
    response.read()
    visible = time.perf_counter()
    connection.close()
    return {"bytes": len(data), "check_clean_size_and_store_s": round(stored - began, 2),
            "upload_to_visible_s": round(visible - began, 2), "status": response.status}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--levels", default="1,8")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-images")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    if not os.access(NGINX, os.X_OK):
        sys.exit(f"{NGINX} is missing: run `bash scripts/ensure-system-packages.sh`")
    from tests.e2e.conftest import start_shop, stop_shop

    shutil.rmtree(args.data_dir, ignore_errors=True)
    args.data_dir.mkdir(parents=True)
    results: dict = {"machine": {"cpus": os.cpu_count()}, "levels": levels, "served": {}}
    ctx = multiprocessing.get_context("fork")
    with bench_servers(args.data_dir) as (admin_url, mongo_url), ctx.Manager() as manager, \
            ctx.Pool(max(levels)) as pool, tempfile.TemporaryDirectory() as scratch:
        name, pg_url, db, store = open_size(admin_url, mongo_url, 0)
        load_demo_catalog(db, store)
        shop = start_shop(args.data_dir / "shop", extra_env={
            "DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "MONGODB_DB": name, "SHOP_DEMO_DATA": "0",
            "LOG_LEVEL": "WARNING"})
        try:
            shop_port = int(shop.url.rsplit(":", 1)[1])
            product = next(p for p in store.catalog.by_ids(list(store.stock.levels())).values() if p.images)
            thumbnail = f"{product.main_image.image_id}-320.webp"
            files = Path(scratch) / "files"
            files.mkdir()
            (files / thumbnail).write_bytes(store.images.read(thumbnail))
            for path in (Path(scratch), files, files / thumbnail):  # nginx's workers run as another user
                path.chmod(0o755 if path.is_dir() else 0o644)
            with nginx_serving(files) as nginx_port:
                for level in levels:
                    targets = (("shop: /healthz (no database)", shop_port, "/healthz"),
                               ("shop: a 320 px WebP (GridFS, then kept)", shop_port, f"/imagenes/{thumbnail}"),
                               ("nginx: the same file from disk", nginx_port, f"/{thumbnail}"))
                    for what, port, path in targets:
                        result = measure(pool, manager, port, path, level, args.seconds)
                        results["served"].setdefault(what, {})[str(level)] = result
                        print(f"  {what:<34} {level} clients: {result}", flush=True)
            results["thumbnail_bytes"] = len(store.images.read(thumbnail))
            results["upload"] = upload_to_visible(store, shop_port, product.product_id, twelve_megapixels())
            print(f"  upload to visible: {results['upload']}", flush=True)
        finally:
            stop_shop(shop)
            db.close()
            store.close()
    write_results("images", results, markdown(results))


def markdown(results: dict) -> str:
    levels = results["levels"]
    lines = ["# Product images served, and upload to visible", "",
             f"{results['machine']['cpus']} cores; the shop (gunicorn, 2 workers, embedded SecantusDB) and nginx "
             f"(2 workers) on the same machine, each client a process on one keep-alive connection; the file is "
             f"a {results['thumbnail_bytes']:,}-byte 320 px WebP.", "",
             "| served | " + " | ".join(f"{n} client{'s' if n > 1 else ''}: per s, p50 / p99 ms" for n in levels)
             + " | ÷ nginx |", "|---|" + "---|" * (len(levels) + 1)]
    anchor = results["served"]["nginx: the same file from disk"]
    for what, by_level in results["served"].items():
        cells = [f"{by_level[str(n)]['per_second']:,} ({by_level[str(n)]['p50_ms']} / {by_level[str(n)]['p99_ms']})"
                 for n in levels]
        ratio = " / ".join(f"{by_level[str(n)]['per_second'] / anchor[str(n)]['per_second']:.2f}" for n in levels)
        lines.append(f"| {what} | " + " | ".join(cells) + f" | {ratio} |")
    upload = results["upload"]
    lines += ["", f"A 4000 × 3000 JPEG of {upload['bytes']:,} bytes: checked, cleaned, sized and stored in "
              f"{upload['check_clean_size_and_store_s']} s; on the product page and its 640 px size fetched "
              f"{upload['upload_to_visible_s']} s after the upload began."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
