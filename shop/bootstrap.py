"""Bringing the shop's databases up, for `python app/app.py` (shop.runner) and the CLI alike: one
run per data directory, the configured or embedded servers, schemas, start-up recovery, demo data.
Nothing here imports the web layer, so the runner, the CLI and the backup script share it without
importing each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from shop.config import ConfigError, Settings
from shop.embedded import EmbeddedMongo, EmbeddedPostgres

if TYPE_CHECKING:
    from shop.adapters.mongo import MongoStore
    from shop.adapters.payments import SimulatedPaymentProvider
    from shop.adapters.postgres import PostgresDatabase
    from shop.adapters.redsys import RedsysProvider
    from shop.adapters.stripe import StripeProvider

log = logging.getLogger("shop.runner")


class AlreadyRunning(RuntimeError):
    pass


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Exclusive use of the data directory: two runs must never start servers on the same data."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pid_path = data_dir / "shop.pid"
    lock = FileLock(data_dir / "shop.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = pid_path.read_text().strip() if pid_path.exists() else "?"
        raise AlreadyRunning(
            f"la tienda ya está en marcha con los datos de {data_dir} (pid {holder}); "
            "detenla primero o usa otro SHOP_DATA_DIR"
        ) from None
    try:
        pid_path.write_text(f"{os.getpid()}\n")
        yield
    finally:
        pid_path.unlink(missing_ok=True)
        lock.release()


@contextlib.contextmanager
def databases(settings: Settings) -> Iterator[Settings]:
    """Settings with both database URLs: the configured servers, or embedded ones started here."""
    started: list[EmbeddedPostgres | EmbeddedMongo] = []
    try:
        pg_url = settings.database_url
        if not pg_url:
            print("· Arrancando PostgreSQL embebido…", flush=True)
            pg = EmbeddedPostgres(settings.data_dir / "postgres")
            started.append(pg)
            pg_url = pg.start()
        mongo_url = settings.mongodb_url
        if not mongo_url:
            print("· Arrancando MongoDB (SecantusDB) embebido…", flush=True)
            mongo = EmbeddedMongo(settings.data_dir / "mongo")
            started.append(mongo)
            mongo_url = mongo.start()
        yield _with_urls(settings, pg_url, mongo_url)
    finally:
        for server in reversed(started):
            server.stop()


def _with_urls(settings: Settings, pg_url: str, mongo_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=pg_url, mongodb_url=mongo_url)


def postgres(settings: Settings, connections: int) -> PostgresDatabase:
    """A pool of up to `connections` to the configured PostgreSQL (recovery needs 3: one holds the
    pass lock)."""
    from shop.adapters.postgres import PostgresDatabase  # the drivers load after the runner's checks

    return PostgresDatabase(_url(settings.database_url, "DATABASE_URL"), max_connections=connections,
                            time_zone=settings.time_zone, issuer_tax_id=settings.seller_tax_id)


def payment_provider(settings: Settings, secret_key: str, simulated_page_url: str = "/pasarela-simulada"
                     ) -> SimulatedPaymentProvider | RedsysProvider | StripeProvider:
    """The provider customers pay through (PAYMENT_PROVIDER): cheap to make. The simulated one signs
    with the app's `secret_key`, and its page is part of the shop (`simulated_page_url`)."""
    from shop.adapters.payments import SimulatedPaymentProvider
    from shop.adapters.redsys import RedsysProvider, RedsysSettings
    from shop.adapters.stripe import StripeProvider, StripeSettings

    if settings.payment_provider == "stripe":
        return StripeProvider(StripeSettings(settings.stripe_secret_key or "", settings.stripe_webhook_secret or "",
                                             settings.stripe_api_base))
    if settings.payment_provider == "redsys":
        return RedsysProvider(RedsysSettings(settings.redsys_merchant_code or "", settings.redsys_terminal,
                                             settings.redsys_secret_key or "", settings.redsys_url,
                                             settings.redsys_rest_url))
    return SimulatedPaymentProvider(secret_key, page_url=simulated_page_url)


def mongo(settings: Settings, timeout_ms: int | None = None) -> MongoStore:
    """The configured MongoDB; `timeout_ms` for work that reads the whole catalog (a rebuild)."""
    from shop.adapters.mongo import MongoStore  # the drivers load after the runner's checks

    url = _url(settings.mongodb_url, "MONGODB_URL")
    if timeout_ms is None:
        return MongoStore(url, settings.mongodb_db)
    return MongoStore(url, settings.mongodb_db, timeout_ms=timeout_ms)


def _url(value: str | None, name: str) -> str:
    """A database URL `databases()` has filled in (with an embedded server's when it was unset)."""
    if not value:
        raise ConfigError(f"{name} is not set, and no embedded server was started for it")
    return value


@contextlib.contextmanager
def open_stores(settings: Settings, *, connections: int = 3,
                timeout_ms: int | None = None) -> Iterator[tuple[PostgresDatabase, MongoStore]]:
    """Both databases for the length of a block (a command, a start-up step), closed afterwards."""
    db = postgres(settings, connections)
    try:
        store = mongo(settings, timeout_ms)
    except BaseException:
        db.close()
        raise
    try:
        yield db, store
    finally:
        db.close()
        store.close()


def prepare_databases(settings: Settings, *, demo: bool) -> list[dict] | None:
    """Apply both schemas; with `demo`, fill empty databases. Returns new demo logins, if any."""
    # The use cases load only once the databases are up (the runner reports start-up as it goes).
    from shop.services.catalog import REBUILD_TIMEOUT_MS, ensure_catalog_index
    from shop.services.demo import load_demo_data
    from shop.services.recovery import recover

    with open_stores(settings) as (db, store):
        applied = db.migrate()
        store.apply_schema()
        if applied:
            log.info("applied PostgreSQL migrations: %s", ", ".join(applied))
        patient = mongo(settings, REBUILD_TIMEOUT_MS)
        try:
            ensure_catalog_index(db, patient)  # first start after an upgrade or a restore
        finally:
            patient.close()
        report = recover(db, store)  # finish whatever a previous run left half-done
        if report.aborted or report.expired or report.stock_returned:
            log.info("start-up recovery settled orders %s", report.aborted + report.expired + report.stock_returned)
        if not demo:
            return None
        added, logins = load_demo_data(db, store)
        if added:
            log.info("loaded %d demo products", added)
        return logins


def demo_credentials(data_dir: Path, new_logins: list[dict] | None) -> list[dict]:
    """Demo logins are generated once and kept (mode 0600) under the data directory."""
    path = data_dir / "demo-credentials.json"
    if new_logins:
        # With external servers nothing else creates the data directory, and these passwords exist
        # nowhere else: create it rather than lose them.
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(new_logins, handle, indent=2)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return []


def write_run_file(data_dir: Path, ready: Settings) -> None:
    """Where the running shop's databases are (mode 0600), for ops/backup_script.py in development."""
    path = data_dir / "run.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"pid": os.getpid(), "database_url": ready.database_url, "mongodb_url": ready.mongodb_url,
                   "mongodb_db": ready.mongodb_db}, handle)


def running_shop_databases(data_dir: Path) -> dict | None:
    """The databases of the shop running on `data_dir`, if one is running."""
    try:
        info = json.loads((data_dir / "run.json").read_text())
    except (OSError, ValueError):
        return None
    import psutil  # not os.kill(pid, 0): on Windows that terminates the process

    pid = info.get("pid") if isinstance(info, dict) else None
    return info if isinstance(pid, int) and pid > 0 and psutil.pid_exists(pid) else None
