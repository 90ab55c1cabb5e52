"""`python app/app.py` / `make run`: start the databases, prepare them, serve the shop, stop cleanly.

Without DATABASE_URL / MONGODB_URL the databases are embedded child processes with their data
under SHOP_DATA_DIR (default var/). One run at a time per data directory (a file lock); Ctrl-C or
SIGTERM stops the web server first, then the databases, each through its own clean shutdown.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading

from shop import bootstrap
from shop.bootstrap import (
    AlreadyRunning,
    data_dir_lock,
    databases,
    demo_credentials,
    prepare_databases,
    write_run_file,
)
from shop.config import PROJECT_ROOT, ConfigError, Settings, development_secret_key, load_settings
from shop.embedded import EmbeddedServerError, port_is_free

log = logging.getLogger("shop.runner")


def _browser_host(host: str) -> str:
    """The host to type in a browser: `localhost` for a loopback or every-interface bind."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return "localhost" if address.is_loopback or address.is_unspecified else host


def _print_banner(settings: Settings, logins: list[dict]) -> None:
    url = f"http://{_browser_host(settings.host)}:{settings.port}"
    print(f"\n  Tienda lista en {url}", flush=True)
    if logins:
        print(f"  Usuarios de demostración (guardados en {settings.data_dir / 'demo-credentials.json'}):")
        for login in logins:
            print(f"    {login['role']:<9} {login['email']:<24} {login['password']}")
    print("  Ctrl-C para detener.\n", flush=True)


def serve(settings: Settings) -> None:
    """Serve with gunicorn (several worker processes) or, where gunicorn does not run (Windows) or
    WEB_SERVER=waitress, with waitress (one process, threads); returns when the server stops."""
    if settings.web_server == "waitress":
        _serve_with_waitress(settings)
        return
    from gunicorn.app.base import BaseApplication  # POSIX only (waitress above on Windows)

    class ShopApplication(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{settings.host}:{settings.port}")
            self.cfg.set("workers", settings.web_workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("timeout", 60)
            # The catalog's longest URL (a 200-character search in any script, a category, two
            # page cursors, percent-encoded) fits; gunicorn's default 4094 would answer it with its
            # own HTML 400. 8190 is gunicorn's maximum and nginx's default header buffer.
            self.cfg.set("limit_request_line", 8190)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("loglevel", "warning")
            self.cfg.set("proc_name", "shop")
            self.cfg.set("post_worker_init", lambda worker: _start_background_threads(settings, worker.wsgi))
            self.cfg.set("child_exit", _forget_worker_metrics)

        def load(self):
            from shop.web.factory import create_app  # in each worker, after the fork

            return create_app(settings=settings)

    children = [ChildProcess("shop.mail_sender", "mail sender"), *_health_listener(settings)]
    for child in children:
        child.start()
    owner_pid = os.getpid()
    try:
        ShopApplication().run()
    except SystemExit as stop:  # gunicorn exits through sys.exit() once it has stopped its workers
        if os.getpid() != owner_pid:
            _end_worker(stop.code)
        if stop.code not in (0, None):
            raise
    finally:
        if os.getpid() == owner_pid:  # not in a web worker unwinding after gunicorn's fork
            for child in children:
                child.stop()


def _health_listener(settings: Settings) -> list[ChildProcess]:
    """The readiness listener on HEALTH_PORT (shop.health_server), when one is configured."""
    return [ChildProcess("shop.health_server", "readiness listener")] if settings.health_port else []


def _end_worker(code) -> None:
    """A gunicorn worker is a fork of the runner: once gunicorn has finished with it, it ends here
    instead of unwinding through the runner's frames, whose database and mail-sender process
    handles are not its own (dropping them warned, and a second quit signal arriving meanwhile
    printed a traceback on Ctrl-C). Nothing of the worker's is lost: the audit spool is on disk."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)


class ChildProcess:
    """`python -m <module>` beside the web server — the mail sender (`shop.mail_sender`, beside
    gunicorn's workers) and the readiness listener (`shop.health_server`, when HEALTH_PORT is set) —
    started again (after a pause) if it dies. A child process, not a fork: it shares nothing with
    the runner but the environment (where the runner has put the databases' URLs), and gunicorn's
    own reaping of children cannot confuse it (`Popen.poll` reads a reaped child as ended)."""

    RESTART_PAUSE_SECONDS = 5.0

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name
        self.owner_pid = os.getpid()
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"{name}-watcher", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def _spawn(self) -> None:
        # `-m` finds the package from wherever the runner was started (`python /path/app/app.py`)
        path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        self._process = subprocess.Popen([sys.executable, "-m", self.module],
                                         env={**os.environ, "PYTHONPATH": path})

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            process = self._process
            if process is not None and process.poll() is not None:
                log.error("the %s stopped (exit %s); starting it again in %.0f s",
                          self.name, process.returncode, self.RESTART_PAUSE_SECONDS)
                if self._stopping.wait(self.RESTART_PAUSE_SECONDS):
                    return
                self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()


def _prepare_metrics_dir(settings: Settings) -> Settings:
    """Gunicorn's workers share their metrics through files (prometheus_client's multiprocess mode).
    The variable must be set before prometheus_client is first imported, in this process and so in
    every worker forked from it; the files of an earlier run are removed."""
    if settings.web_server != "gunicorn":
        return settings
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess directory was set")
    directory = settings.data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return dataclasses.replace(settings, metrics_multiprocess_dir=str(directory))


def _forget_worker_metrics(server, worker) -> None:
    from prometheus_client import multiprocess  # after PROMETHEUS_MULTIPROC_DIR is set

    multiprocess.mark_process_dead(worker.pid)


def _serve_with_waitress(settings: Settings) -> None:
    # Loaded only when this server is the one used (WEB_SERVER=waitress, or Windows).
    from waitress import serve as waitress_serve

    from shop.web.factory import create_app

    app = create_app(settings=settings)
    _start_background_threads(settings, app)
    _start_mail_sender_thread(settings, app)  # one process: the sender is a thread beside the server
    children = _health_listener(settings)
    for child in children:
        child.start()
    try:
        waitress_serve(app, host=settings.host, port=settings.port, threads=4 * max(settings.web_workers, 1),
                       ident="shop", _quiet=True)
    finally:
        for child in children:
            child.stop()


def _start_background_threads(settings: Settings, app) -> None:
    """Each web worker runs the request watchdog (shop.web.watchdog), the periodic recovery (an
    advisory lock lets one pass run at a time) and flushes the audit spool. Mail is delivered by
    MailSenderProcess (gunicorn) or `_start_mail_sender_thread` (waitress)."""
    # In each worker after the fork: the runner itself never loads the use cases or the web layer.
    from shop.services.audit import AuditFlusher, AuditLog
    from shop.services.recovery import RecoveryThread
    from shop.web.watchdog import Watchdog

    Watchdog(settings.request_stuck_seconds, settings.data_dir).start()

    RecoveryThread(lambda: (bootstrap.postgres(settings, 3), bootstrap.mongo(settings)),  # 3: one holds the lock
                   settings.recovery_interval_seconds, spool_path=settings.audit_spool_path,
                   make_gateway=lambda: bootstrap.payment_provider(settings, app.config["SECRET_KEY"])).start()
    AuditFlusher(lambda: AuditLog(bootstrap.mongo(settings), settings.audit_spool_path,
                                  index=bootstrap.postgres(settings, 1).lists)).start()



def _start_mail_sender_thread(settings: Settings, app) -> None:
    # Only under waitress (one process); under gunicorn the sender is a process (shop.mail_sender).
    from shop.adapters.mail import mailer_for
    from shop.services.notifications import MailSender
    from shop.web.mail_compose import mail_composer

    mail_db = bootstrap.postgres(settings, 1)
    MailSender(lambda: mail_db, mailer_for(settings), mail_composer(app, mail_db),
               settings.mail_send_interval_seconds).start()
    start_webhook_sender(settings, app)


def start_webhook_sender(settings: Settings, app) -> None:
    """The webhook deliveries' loop, a daemon thread beside the mail sender (docs/webhooks.md)."""
    from shop.adapters.webhook_sender import WebhookSender
    from shop.services.webhooks import SecretBox, WebhookLoop

    hooks_db = bootstrap.postgres(settings, 1)
    loop = WebhookLoop(lambda: hooks_db, WebhookSender(settings.webhook_allowed_hosts),
                       SecretBox(app.config["SECRET_KEY"]))
    threading.Thread(target=loop.run, name="webhook-sender", daemon=True).start()


def _raise_on_sigterm(signum, frame):
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    from shop.web.requestlog import configure_logging  # the web layer loads only when the shop is run

    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"error de configuración: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json_lines=settings.is_production)
    for variable, port in (("PORT", settings.port), ("HEALTH_PORT", settings.health_port)):
        if port and not port_is_free(settings.host, port):
            print(f"error: el puerto {port} ya está en uso en {settings.host}; "
                  f"¿ya hay una tienda en marcha? Usa {variable}=otro_puerto para elegir otro.", file=sys.stderr)
            return 1
    # Until gunicorn installs its own handlers, SIGTERM must unwind through the `finally` blocks
    # that stop the databases, not kill the process outright.
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    owner_pid = os.getpid()
    try:
        with data_dir_lock(settings.data_dir), databases(settings) as ready:
            ready = _prepare_metrics_dir(ready)
            if not ready.secret_key:  # made here, before the workers exist, so they all read one key
                development_secret_key(ready.data_dir)
            os.environ["DATABASE_URL"] = ready.database_url or ""  # both set by databases()
            os.environ["MONGODB_URL"] = ready.mongodb_url or ""
            write_run_file(settings.data_dir, ready)
            new_logins = prepare_databases(ready, demo=settings.demo_data)
            _print_banner(ready, demo_credentials(settings.data_dir, new_logins) if settings.demo_data else [])
            serve(ready)
    except AlreadyRunning as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except EmbeddedServerError as error:
        print(f"error: no se pudo arrancar una base de datos: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    if os.getpid() != owner_pid:  # a web worker unwinding after gunicorn's fork: not ours to report
        return 0
    (settings.data_dir / "run.json").unlink(missing_ok=True)
    print("Tienda detenida.", flush=True)
    return 0
