"""Staff console benchmark (not a test): the staff lists and the dashboard over HTTP at volume.

    .venv/bin/python bench/staff.py [--sizes 10000,1000000] [--levels 1,8] [--requests 20]

Uses the databases of bench/catalog.py under `--data-dir` (default var/bench-catalog; filled by it
when missing, kept between runs): per size, that many products, and here as many orders (with
their lines and payments, spread over three years, 10,000 customers) and audit log entries (a real
hash chain). Starts the real shop (gunicorn) on them, logs in as an admin, and times each staff
page with 1 and 8 concurrent clients; the audit pages also while the log grows (WRITTEN_MEANWHILE)
and with the page cache off (CACHE_OFF).
Writes bench/results/staff.json and bench/results/staff.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import http.cookiejar
import json
import multiprocessing
import random
import re
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.catalog import bench_arguments, bench_servers, fill, machine, open_size, percentile  # noqa: E402
from shop.adapters.mongo import MongoStore  # noqa: E402
from shop.adapters.postgres import PostgresDatabase  # noqa: E402
from shop.domain.accounts import Role  # noqa: E402
from shop.domain.audit import GENESIS_HASH, AuditEvent, chain_entry  # noqa: E402
from shop.domain.filters import RowPosition  # noqa: E402
from shop.services.accounts import hash_password  # noqa: E402
from shop.services.audit import AuditLog  # noqa: E402
from shop.services.staff_lists import catch_up_audit_index  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Sessions are bound to the browser that logged in (Flask-Login's strong protection): every request
# of the bench says it is this one.
USER_AGENT = "shop-bench/1"
ADMIN_EMAIL, ADMIN_PASSWORD = "bench-admin@example.com", "bench-admin-password-1"  # noqa: S105 - bench data
CUSTOMERS = 10_000
YEARS = 3
ACTIONS = ["login.succeeded", "login.failed", "order.placed", "order.paid", "order.shipped", "order.cancelled",
           "order.expired", "payment.declined", "product.updated", "product.created", "stock.adjusted",
           "user.updated", "review.hidden", "audit.exported", "logout"]


def fill_orders(db: PostgresDatabase, size: int) -> None:
    """`size` orders over three years, one to three lines each, a payment for each paid one."""
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM orders")
        if cur.fetchone()["n"] >= size:
            print(f"  {size:,}: reusing the orders", flush=True)
            fill_sales_rollups(db, size)
            return
        cur.execute("SELECT product_id FROM catalog_entries LIMIT 2000")
        products = [row["product_id"] for row in cur.fetchall()]
    began = time.perf_counter()
    with db.transaction() as cur:
        cur.execute("TRUNCATE order_items, payments, order_status_history, orders, sales_daily, product_sales_daily "
                    "RESTART IDENTITY CASCADE")
        cur.execute("DELETE FROM users WHERE email LIKE 'bench-%%'")
        cur.execute("""INSERT INTO users (email, full_name, password_hash, role)
                       SELECT 'bench-customer-' || n || '@example.com', 'Cliente ' || n, 'x', 'customer'
                       FROM generate_series(1, %s) AS n""", (CUSTOMERS,))
        cur.execute("SELECT min(user_id) AS first FROM users WHERE email LIKE 'bench-customer-%%'")
        first_user = cur.fetchone()["first"]
        # Status by age, as in a shop: old orders are shipped, cancelled or failed; recent ones pending.
        cur.execute(
            """INSERT INTO orders (user_id, total_amount, status, created_at, idempotency_key, request_hash, units)
               SELECT %(first)s + (random() * (%(customers)s - 1))::int, round((5 + random() * 500)::numeric, 2),
                      CASE WHEN r < 0.01 THEN 'pending' WHEN r < 0.55 THEN 'shipped' WHEN r < 0.80 THEN 'paid'
                           WHEN r < 0.92 THEN 'cancelled' ELSE 'failed' END,
                      now() - (%(years)s * 365 * interval '1 day') * (1 - n::float / %(size)s),
                      md5(n::text)::uuid, repeat('0', 64), 1 + (random() * 2)::int
               FROM (SELECT n, random() AS r FROM generate_series(1, %(size)s) AS n) AS s""",
            {"first": first_user, "customers": CUSTOMERS, "years": YEARS, "size": size})
        cur.execute(
            """INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity)
               SELECT order_id, (%(products)s::text[])[1 + (random() * (cardinality(%(products)s::text[]) - 1))::int],
                      'Producto', total_amount, 1 FROM orders""", {"products": products})
        cur.execute(
            """INSERT INTO payments (order_id, amount, status, method, provider_reference, created_at)
               SELECT order_id, total_amount, 'succeeded', 'card', 'sim-' || order_id,
                      created_at + interval '5 minutes' FROM orders WHERE status IN ('paid', 'shipped')
               UNION ALL
               SELECT order_id, total_amount, 'declined', 'card', NULL, created_at + interval '1 minute'
               FROM orders WHERE status = 'failed' OR mod(order_id, 10) = 0
               ORDER BY 6""")
    db.vacuum_analyze("orders")
    db.vacuum_analyze("payments")
    db.vacuum_analyze("order_items")
    print(f"  {size:,}: orders filled in {time.perf_counter() - began:.0f}s", flush=True)
    fill_sales_rollups(db, size)


def fill_sales_rollups(db: PostgresDatabase, size: int) -> None:
    """The dashboard's daily totals of the paid orders, as migration 0010 fills them (the orders above
    were written without the payment trigger that keeps them)."""
    with db.transaction() as cur:
        cur.execute("SELECT EXISTS (SELECT FROM sales_daily) AS filled")
        if cur.fetchone()["filled"]:
            return
        cur.execute("""INSERT INTO sales_daily (day, orders, revenue)
                       SELECT (created_at AT TIME ZONE 'UTC')::date, count(*), sum(total_amount)
                       FROM orders WHERE status IN ('paid', 'shipped') GROUP BY 1""")
        cur.execute("""INSERT INTO product_sales_daily (day, product_id, units, revenue)
                       SELECT (o.created_at AT TIME ZONE 'UTC')::date, i.product_id, sum(i.quantity),
                              sum(i.unit_price * i.quantity - i.discount_amount)
                       FROM orders o JOIN order_items i USING (order_id) WHERE o.status IN ('paid', 'shipped')
                       GROUP BY 1, 2""")
    db.vacuum_analyze("sales_daily")
    db.vacuum_analyze("product_sales_daily")
    print(f"  {size:,}: daily sales totals filled", flush=True)


def fill_audit(store: MongoStore, db: PostgresDatabase, size: int) -> None:
    """`size` audit entries (a valid hash chain) over three years, indexed as they are written."""
    have = store.audit.head_seq()
    if have < size:
        began = time.perf_counter()
        rng = random.Random(size)  # noqa: S311 - test data, not secrets
        last = store.audit.by_seq([have])[0]["hash"] if have else GENESIS_HASH
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=365 * YEARS)
        step = dt.timedelta(days=365 * YEARS) / size
        batch = []
        for seq in range(have + 1, size + 1):
            action = rng.choice(ACTIONS)
            target = (f"order:{rng.randint(1, size)}" if action.startswith(("order", "payment")) else
                      f"user:{rng.randint(1, CUSTOMERS)}" if action.startswith(("user", "login", "logout")) else None)
            at = start + step * seq
            event = AuditEvent(action, target, actor_id=rng.randint(1, CUSTOMERS), actor_role="customer",
                               ip="127.0.0.1", ts=at.replace(microsecond=at.microsecond // 1000 * 1000),
                               details={"n": seq})
            entry = chain_entry(event, seq, last)
            last = entry["hash"]
            batch.append(entry)
            if len(batch) == 5000 or seq == size:
                store.audit_logs.insert_many(batch, ordered=False)
                db.lists.add_audit_entries(batch)  # as the flusher does after appending
                batch = []
                if seq % 100_000 == 0:
                    print(f"  {size:,}: {seq:,} audit entries", flush=True)
        store.audit_head.update_one({"_id": "chain"}, {"$set": {"seq": size, "hash": last}}, upsert=True)
        print(f"  {size:,}: audit log filled in {time.perf_counter() - began:.0f}s", flush=True)
    began = time.perf_counter()
    indexed = catch_up_audit_index(db, store)
    db.vacuum_analyze("audit_index")
    print(f"  {size:,}: {indexed:,} audit entries indexed in {time.perf_counter() - began:.0f}s", flush=True)


# Pages also timed while the log grows: a new entry every APPEND_EVERY seconds (a busy shop's logins
# and orders) moves the chain's head, so no audit page can be reused (docs/audit.md, "Reusing a page").
WRITTEN_MEANWHILE = {"audit": "audit (log written meanwhile)",
                     "audit: action": "audit: action (log written meanwhile)",
                     "audit: actor": "audit: actor (log written meanwhile)",
                     "audit: action, that month": "audit: action, that month (log written meanwhile)"}
APPEND_EVERY = 0.02
# And with the page cache off: every view read and rendered anew (a log written before every view).
CACHE_OFF = {page: f"{page} (page cache off)" for page in ("audit", "audit: action", "audit: actor",
                                                            "audit: action, that month")}


@contextlib.contextmanager
def appending(store: MongoStore, db: PostgresDatabase, spool_dir: Path):
    """A thread that appends an audit entry every APPEND_EVERY seconds while the block runs, as the
    shop's flusher does (the chain, then the filter index)."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    log, stop = AuditLog(store, spool_dir / "audit-spool", index=db.lists), threading.Event()

    def run() -> None:
        serial = 0
        while not stop.wait(APPEND_EVERY):
            serial += 1
            log.record(AuditEvent(action="login.failed", target=f"user:{serial}", ip="10.0.0.1"))
            log.flush_spool()

    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join()


def ensure_admin(db: PostgresDatabase) -> None:
    if db.users.credentials(ADMIN_EMAIL) is None:
        db.users.insert(ADMIN_EMAIL, "Bench Admin", hash_password(ADMIN_PASSWORD), Role.ADMIN)


def login(base_url: str) -> str:
    """The session cookie of the admin, logged in through the form as a person would."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    form = opener.open(f"{base_url}/auth/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}).encode()
    opener.open(f"{base_url}/auth/login", data=data).read()
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def _client(args) -> list[float]:
    host, port, path, cookie, requests, barrier = args
    barrier.wait(timeout=120)
    latencies = []
    for _ in range(requests):
        began = time.perf_counter()
        conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.request("GET", path, headers={"Cookie": cookie, "User-Agent": USER_AGENT})
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        latencies.append(time.perf_counter() - began)
    return latencies


def measure(pool, manager, base_url: str, cookie: str, path: str, clients: int, requests: int) -> dict:
    parts = urllib.parse.urlsplit(base_url)
    _client((parts.hostname, parts.port, path, cookie, 2, manager.Barrier(1)))  # warm up this page
    barrier = manager.Barrier(clients)
    runs = pool.map(_client, [(parts.hostname, parts.port, path, cookie, requests, barrier) for _ in range(clients)])
    latencies = [x for run in runs for x in run]
    return {"p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1), "samples": len(latencies)}


def pages(db: PostgresDatabase, base_url: str, cookie: str, size: int) -> dict[str, str]:
    with db.transaction() as cur:
        cur.execute("SELECT order_id, created_at FROM orders WHERE order_id = %s", (size // 2,))
        middle = cur.fetchone()
        cur.execute("SELECT payment_id, created_at FROM payments WHERE payment_id = "
                    "(SELECT max(payment_id) / 2 FROM payments)")
        middle_payment = cur.fetchone()
    old = (dt.date.today() - dt.timedelta(days=400)).replace(day=1)
    month = {"from": old.isoformat(), "to": (old + dt.timedelta(days=30)).isoformat()}
    q = urllib.parse.urlencode
    opener = urllib.request.build_opener()
    opener.addheaders = [("Cookie", cookie), ("User-Agent", USER_AGENT)]
    first = opener.open(f"{base_url}/admin/orders/").read().decode()
    second = re.search(r'rel="next" href="([^"#]+)"', first).group(1).replace("&amp;", "&")
    return {
        "floor: /healthz": "/healthz",
        "dashboard": "/admin/",
        "products: search": "/admin/products/?q=ultra",
        "orders": "/admin/orders/",
        "orders: page 2": second,
        "orders: deep page": "/admin/orders/?" + q({"after": RowPosition("orders", middle["order_id"],
                                                                          middle["created_at"]).token()}),
        "orders: status pending": "/admin/orders/?status=pending",
        "orders: customer e-mail": "/admin/orders/?" + q({"email": "bench-customer-17@example.com"}),
        "orders: a month a year ago": "/admin/orders/?" + q(month),
        "orders: cancelled, that month": "/admin/orders/?" + q({"status": "cancelled", **month}),
        "orders: number": f"/admin/orders/?order={size // 3}",
        "payments": "/admin/orders/payments",
        "payments: declined": "/admin/orders/payments?status=declined",
        "payments: deep page": "/admin/orders/payments?" + q({"after": RowPosition(
            "payments", middle_payment["payment_id"], middle_payment["created_at"]).token()}),
        "audit": "/admin/audit/",
        "audit: deep page": "/admin/audit/?" + q({"after": RowPosition("audit", size // 2).token()}),
        "audit: action": "/admin/audit/?action=login.failed",
        "audit: actor": "/admin/audit/?actor=17",
        "audit: target": f"/admin/audit/?target=order:{size // 3}",
        "audit: a month a year ago": "/admin/audit/?" + q(month),
        "audit: action, that month": "/admin/audit/?" + q({"action": "order.cancelled", **month}),
    }


def main() -> None:
    args, sizes, levels = bench_arguments(__doc__, "10000,1000000", 20)

    from tests.e2e.conftest import start_shop, stop_shop

    results: dict = machine(levels)
    ctx = multiprocessing.get_context("fork")
    with bench_servers(args.data_dir) as (admin_url, mongo_url), ctx.Manager() as manager, \
            ctx.Pool(max(levels)) as pool:
        for size in sizes:
            name, pg_url, db, store = open_size(admin_url, mongo_url, size, mongo_timeout_ms=600_000)
            fill(store, db, size, mongo_url)
            fill_orders(db, size)
            fill_audit(store, db, size)
            ensure_admin(db)
            size_result: dict = {"pages": {}}
            # The shop as configured by default (the dashboard's figures and the audit pages reused for
            # 2 s; tests turn that off), then once more with the page cache off for the audit pages:
            # what each of their views costs when it cannot be reused.
            for cache_seconds in ("2", "0"):
                shop = start_shop(args.data_dir / f"staff-shop-{size}-{cache_seconds}", extra_env={
                    "DATABASE_URL": pg_url, "MONGODB_URL": mongo_url, "MONGODB_DB": name,
                    "SHOP_DEMO_DATA": "0", "LOG_LEVEL": "WARNING", "CATALOG_CACHE_SECONDS": cache_seconds})
                try:
                    cookie = login(shop.url)
                    timed = pages(db, shop.url, cookie, size)
                    if cache_seconds == "0":
                        runs = [(label, timed[page], False) for page, label in CACHE_OFF.items()]
                    else:
                        runs = [(page, path, False) for page, path in timed.items()]
                        runs += [(label, timed[page], True) for page, label in WRITTEN_MEANWHILE.items()]
                    for page, path, written in runs:
                        for level in levels:
                            with appending(store, db, args.data_dir / f"staff-writer-{size}") if written \
                                    else contextlib.nullcontext():
                                result = measure(pool, manager, shop.url, cookie, path, level, args.requests)
                            size_result["pages"].setdefault(page, {})[str(level)] = result
                            print(f"  {size:>9,} {page:<30} {level:>2}: p50 {result['p50_ms']:6.1f} "
                                  f"p99 {result['p99_ms']:6.1f}", flush=True)
                finally:
                    stop_shop(shop)
            db.close()
            store.close()
            results["sizes"][str(size)] = size_result
    write(results, sizes, levels)


def write(results: dict, sizes: list[int], levels: list[int]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "staff.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    small, large = str(sizes[0]), str(sizes[-1])
    lines = ["# Staff lists and dashboard over HTTP", "",
             f"{results['machine']['cpus']} cores; the real shop (gunicorn, 2 workers) on embedded PostgreSQL + "
             "SecantusDB, logged in as an admin; at each size that many products, orders and audit entries. "
             "p50 / p99 in ms; `growth` = p50 at the largest size ÷ p50 at the smallest. `floor: /healthz` is the "
             "HTTP stack alone.", ""]
    header = "| page | " + " | ".join(f"{int(s) // 1000:,}k: {lv}" for s in map(str, sizes) for lv in levels) + \
        " | growth (" + " / ".join(map(str, levels)) + ") |"
    lines += [header, "|---" * (2 + len(sizes) * len(levels)) + "|"]
    for page in results["sizes"][small]["pages"]:
        cells = []
        for size in map(str, sizes):
            for level in map(str, levels):
                r = results["sizes"][size]["pages"].get(page, {}).get(level)
                cells.append(f"{r['p50_ms']} / {r['p99_ms']}" if r else "–")
        p50 = {size: results["sizes"][size]["pages"][page] for size in (small, large)}
        growth = " / ".join(f"{p50[large][str(lv)]['p50_ms'] / max(0.1, p50[small][str(lv)]['p50_ms']):.2f}×"
                            for lv in levels)
        lines.append(f"| {page} | " + " | ".join(cells) + f" | {growth} |")
    (RESULTS / "staff.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
