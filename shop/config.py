"""All configuration, read from the environment (and an optional `.env`) in this one place."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shop.domain.taxes import DEFAULT_RATES, parse_tax_rates

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_ENVIRONMENTS = ("development", "testing", "production")
_MIN_SECRET_KEY_LENGTH = 32
_VARIABLE_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


class ConfigError(RuntimeError):
    """The configuration cannot run the shop; the message names the variable to fix."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    secret_key: str | None = None
    database_url: str | None = None
    database_read_url: str | None = None  # optional read-only replica: staff reports and lists only
    mongodb_url: str | None = None
    mongodb_db: str = "shop"
    data_dir: Path = PROJECT_ROOT / "var"
    host: str = "127.0.0.1"
    port: int = 5000
    web_workers: int = 2
    web_server: str = "gunicorn"  # "waitress" where gunicorn does not run (Windows: the default there)
    log_level: str = "INFO"
    metrics_token: str | None = None  # /metrics answers only with `Authorization: Bearer <token>`
    metrics_multiprocess_dir: str | None = None  # PROMETHEUS_MULTIPROC_DIR, set by shop.runner for gunicorn
    ratelimit_storage_uri: str = ""  # empty: REDIS_URL when set, else the shop's PostgreSQL
    redis_url: str | None = None  # optional: rate limits and the catalog page cache move to Redis
    login_rate_limit: str = "10 per minute"
    register_rate_limit: str = "10 per hour"  # registrations per client address
    activation_link_hours: int = 48
    discount_code_rate_limit: str = "10 per minute"  # code previews (cart, product page) per account and per address
    password_reset_rate_limit: str = "10 per hour"  # noqa: S105 - a rate, not a password ("forgot my password" per address)
    password_reset_link_minutes: int = 60
    # E-mail: SMTP when smtp_host is set; otherwise .eml files in <data_dir>/outbox (not in production)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_tls: bool = False  # implicit TLS (SMTPS) instead of STARTTLS
    smtp_ca_file: str | None = None
    mail_from: str = "Tienda <no-reply@localhost>"
    # IVA rates per tax class, in percent (TAX_RATES="general:21,reduced:10,super_reduced:4")
    tax_rates: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_RATES))
    # The seller on invoices (factura simplificada)
    seller_name: str = "Tienda Híbrida S.L."
    seller_tax_id: str = "B00000000"
    seller_address: str = "Calle Mayor 1, 28013 Madrid"
    # Every link in every mail starts with this, never with the Host a request came with; default
    # (development only): this machine
    public_url: str | None = None
    # Host names requests may carry (TRUSTED_HOSTS); others get a 400. Empty: PUBLIC_URL's host and
    # this machine's loopback names, or any host in development when PUBLIC_URL is unset too.
    trusted_hosts: tuple[str, ...] = ()
    mail_send_interval_seconds: float = 2.0  # how often the sender delivers the mail outbox
    mail_sender_nice: int = 10  # the sender process's CPU priority below the web workers' (0: the same)
    mail_sender_idle: bool = True  # where the OS has it (Linux), the sender only gets CPU nobody else wants
    session_cookie_secure: bool = False
    session_idle_minutes: int = 60  # a login unused this long ends (docs/security.md)
    session_max_hours: int = 12  # and any login ends this long after it started, however much it is used
    products_per_page: int = 12
    request_stuck_seconds: float = 30.0  # a request running longer is logged with its stack; /healthz says 503
    readiness_timeout_seconds: float = 2.0  # /readyz answers within this (load balancers wait 2–5 s)
    # A listener of its own for readiness (shop.health_server), answering however busy the request
    # threads are: what load balancers should check. 0: none (/readyz on PORT only).
    health_port: int = 0
    catalog_cache_seconds: int = 0  # a catalog page is reused this long (load_settings: 2, 0 in testing)
    low_stock_threshold: int = 5  # the dashboard's default; staff can change it per view
    # Checkout protocol timings (docs/checkout.md)
    checkout_lease_seconds: int = 30
    # What one account / one client address may hold in unpaid orders at once (0: no limit)
    max_unpaid_orders: int = 3
    max_unpaid_units: int = 50
    max_unpaid_orders_per_address: int = 10
    max_unpaid_units_per_address: int = 200
    payment_attempts_per_order: int = 5  # declined payments within the window before paying pauses
    payment_attempts_per_account: int = 10
    payment_attempt_window_minutes: int = 15
    checkout_rate_limit: str = "20 per minute"  # Comprar, cart checkout and POST /api/orders together
    trusted_proxies: int = 0  # load balancers in front that set X-Forwarded-For/-Proto (werkzeug ProxyFix)
    # The load balancers' own addresses (TRUSTED_PROXY_ADDRESSES, addresses or networks): when set,
    # X-Forwarded-* is believed only on connections from them; a client reaching an instance
    # directly is then seen as itself, whatever headers it forges.
    trusted_proxy_addresses: tuple[str, ...] = ()
    pending_order_ttl_minutes: int = 30
    recovery_interval_seconds: int = 30
    failpoints: str = ""
    demo_data: bool = True  # fill empty databases with the demo catalog and users

    @property
    def audit_spool_path(self) -> Path:
        """Where audit events wait for the hash chain (shop.services.audit), one file per host."""
        return self.data_dir / "audit-spool.jsonl"

    @property
    def base_url(self) -> str:
        """Where customers reach the shop (PUBLIC_URL), for links in mails."""
        return self.public_url or f"http://localhost:{self.port}"

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """The Host names the shop answers (Flask's TRUSTED_HOSTS); empty: any (development only)."""
        if self.trusted_hosts:
            return self.trusted_hosts
        if not self.public_url:
            return ()
        return (urlsplit(self.public_url).hostname or "", "localhost", "127.0.0.1", "::1")

    @property
    def outbox_dir(self) -> Path:
        """Where e-mails go as .eml files when no SMTP_HOST is set (shop.adapters.mail)."""
        return self.data_dir / "outbox"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def rate_limit_store(self) -> tuple[str, dict]:
        """Where rate-limit counters live (Flask-Limiter URI and options): RATELIMIT_STORAGE_URI when
        set (redis://…, mongodb://…, memory://), else REDIS_URL, else a table of the shop's own PostgreSQL, so every
        worker and every instance counts against the same limit (docs/security.md)."""
        if self.ratelimit_storage_uri:
            return self.ratelimit_storage_uri, {}
        if self.redis_url:
            return self.redis_url, {}
        if not self.database_url:
            return "memory://", {}
        return "shop+" + self.database_url, {}

    @property
    def uses_embedded_databases(self) -> bool:
        return not (self.database_url and self.mongodb_url)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _env_bool(environ: dict, name: str, default: bool) -> bool:
    """A yes/no setting; anything but the usual spellings is a start-up error naming the variable
    (a typo must never quietly turn a protection such as STARTTLS off)."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of {'/'.join(_TRUE)} or {'/'.join(_FALSE)}, got {raw!r}")


def _env_float(environ: dict, name: str, default: float) -> float:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def _networks(environ: dict, name: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (10.0.0.5, 10.0.0.0/24, ::1), each checked."""
    networks = []
    for part in (environ.get(name) or "").split(","):
        if part.strip():
            try:
                networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{name}: {part.strip()!r} is not an IP address or network") from None
    return tuple(networks)


def _host_list(raw: str | None) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in (raw or "").split(",") if host.strip())


def _tax_rates(raw: str | None) -> dict:
    try:
        return parse_tax_rates(raw)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _env_int(environ: dict, name: str, default: int) -> int:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _web_server(raw: str | None) -> str:
    if not raw:
        return "waitress" if os.name == "nt" else "gunicorn"
    value = raw.strip().lower()
    if value not in ("gunicorn", "waitress"):
        raise ConfigError(f"WEB_SERVER must be gunicorn or waitress; got {raw!r}")
    if value == "gunicorn" and os.name == "nt":
        raise ConfigError("gunicorn does not run on Windows: leave WEB_SERVER unset (waitress)")
    return value


def load_credentials(environ) -> list[str]:
    """systemd's `LoadCredential=` (deploy/systemd): every file in $CREDENTIALS_DIRECTORY named like a
    variable (SECRET_KEY, DATABASE_URL, SMTP_PASSWORD, BACKUP_FTP_PASSWORD…) sets that variable in
    `environ`, unless it is set already. Secrets then live in files only root and the service can
    read, never in a unit file, an EnvironmentFile or a command line. Returns the names it set."""
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory or not Path(directory).is_dir():
        return []
    loaded = []
    for path in sorted(Path(directory).iterdir()):
        if _VARIABLE_NAME.fullmatch(path.name) and path.is_file() and not environ.get(path.name):
            environ[path.name] = path.read_text(encoding="utf-8").rstrip("\r\n")
            loaded.append(path.name)
    return loaded


def _process_environment(read_dotenv: bool = True) -> dict:
    """This process's environment: `.env` in the project root and the service's credentials fill in
    what is unset. Both go into os.environ, so the libraries that read it (boto3) see them too."""
    if read_dotenv:
        from dotenv import load_dotenv

        load_dotenv(PROJECT_ROOT / ".env", override=False)
    load_credentials(os.environ)
    return dict(os.environ)


def load_settings(environ: dict | None = None, *, read_dotenv: bool = True) -> Settings:
    """Settings from the environment; a `.env` in the project root and systemd credentials
    (load_credentials) fill in what is unset."""
    if environ is None:
        environ = _process_environment(read_dotenv)
    env = environ.get("SHOP_ENV", "development").strip().lower()
    if env not in _ENVIRONMENTS:
        raise ConfigError(f"SHOP_ENV must be one of {', '.join(_ENVIRONMENTS)}; got {env!r}")
    settings = Settings(
        env=env,
        secret_key=environ.get("SECRET_KEY") or None,
        database_url=environ.get("DATABASE_URL") or None,
        database_read_url=environ.get("DATABASE_READ_URL") or None,
        mongodb_url=environ.get("MONGODB_URL") or None,
        mongodb_db=environ.get("MONGODB_DB", "shop"),
        data_dir=Path(environ.get("SHOP_DATA_DIR") or PROJECT_ROOT / "var").resolve(),
        host=environ.get("HOST", "127.0.0.1"),
        port=_env_int(environ, "PORT", 5000),
        web_workers=_env_int(environ, "WEB_CONCURRENCY", 2),
        web_server=_web_server(environ.get("WEB_SERVER")),
        log_level=environ.get("LOG_LEVEL", "INFO").upper(),
        metrics_token=environ.get("METRICS_TOKEN") or None,
        metrics_multiprocess_dir=environ.get("PROMETHEUS_MULTIPROC_DIR") or None,
        ratelimit_storage_uri=environ.get("RATELIMIT_STORAGE_URI", ""),
        redis_url=environ.get("REDIS_URL") or None,
        login_rate_limit=environ.get("LOGIN_RATE_LIMIT", "10 per minute"),
        register_rate_limit=environ.get("REGISTER_RATE_LIMIT", "10 per hour"),
        activation_link_hours=_env_int(environ, "ACTIVATION_LINK_HOURS", 48),
        discount_code_rate_limit=environ.get("DISCOUNT_CODE_RATE_LIMIT", "10 per minute"),
        password_reset_rate_limit=environ.get("PASSWORD_RESET_RATE_LIMIT", "10 per hour"),
        password_reset_link_minutes=_env_int(environ, "PASSWORD_RESET_LINK_MINUTES", 60),
        smtp_host=environ.get("SMTP_HOST") or None,
        smtp_port=_env_int(environ, "SMTP_PORT", 587),
        smtp_user=environ.get("SMTP_USER") or None,
        smtp_password=environ.get("SMTP_PASSWORD") or None,
        smtp_starttls=_env_bool(environ, "SMTP_STARTTLS", True),
        smtp_tls=_env_bool(environ, "SMTP_TLS", False),
        smtp_ca_file=environ.get("SMTP_CA_FILE") or None,
        mail_from=environ.get("MAIL_FROM", "Tienda <no-reply@localhost>"),
        public_url=(environ.get("PUBLIC_URL") or "").strip().rstrip("/") or None,
        trusted_hosts=_host_list(environ.get("TRUSTED_HOSTS")),
        tax_rates=_tax_rates(environ.get("TAX_RATES")),
        seller_name=environ.get("SELLER_NAME", "Tienda Híbrida S.L."),
        seller_tax_id=environ.get("SELLER_TAX_ID", "B00000000"),
        seller_address=environ.get("SELLER_ADDRESS", "Calle Mayor 1, 28013 Madrid"),
        mail_send_interval_seconds=_env_float(environ, "MAIL_SEND_INTERVAL_SECONDS", 2.0),
        mail_sender_nice=_env_int(environ, "MAIL_SENDER_NICE", 10),
        mail_sender_idle=_env_bool(environ, "MAIL_SENDER_IDLE", True),
        session_cookie_secure=_env_bool(environ, "SESSION_COOKIE_SECURE", env == "production"),
        session_idle_minutes=_env_int(environ, "SESSION_IDLE_MINUTES", 60),
        session_max_hours=_env_int(environ, "SESSION_MAX_HOURS", 12),
        products_per_page=_env_int(environ, "PRODUCTS_PER_PAGE", 12),
        catalog_cache_seconds=_env_int(environ, "CATALOG_CACHE_SECONDS", 0 if env == "testing" else 2),
        readiness_timeout_seconds=_env_float(environ, "READINESS_TIMEOUT_SECONDS", 2.0),
        request_stuck_seconds=_env_float(environ, "REQUEST_STUCK_SECONDS", 30.0),
        health_port=_env_int(environ, "HEALTH_PORT", 0),
        low_stock_threshold=_env_int(environ, "LOW_STOCK_THRESHOLD", 5),
        checkout_lease_seconds=_env_int(environ, "CHECKOUT_LEASE_SECONDS", 30),
        max_unpaid_orders=_env_int(environ, "MAX_UNPAID_ORDERS", 3),
        max_unpaid_units=_env_int(environ, "MAX_UNPAID_UNITS", 50),
        max_unpaid_orders_per_address=_env_int(environ, "MAX_UNPAID_ORDERS_PER_ADDRESS", 10),
        max_unpaid_units_per_address=_env_int(environ, "MAX_UNPAID_UNITS_PER_ADDRESS", 200),
        payment_attempts_per_order=_env_int(environ, "PAYMENT_ATTEMPTS_PER_ORDER", 5),
        payment_attempts_per_account=_env_int(environ, "PAYMENT_ATTEMPTS_PER_ACCOUNT", 10),
        payment_attempt_window_minutes=_env_int(environ, "PAYMENT_ATTEMPT_WINDOW_MINUTES", 15),
        checkout_rate_limit=environ.get("CHECKOUT_RATE_LIMIT", "20 per minute"),
        trusted_proxies=_env_int(environ, "TRUSTED_PROXIES", 0),
        trusted_proxy_addresses=_networks(environ, "TRUSTED_PROXY_ADDRESSES"),
        pending_order_ttl_minutes=_env_int(environ, "PENDING_ORDER_TTL_MINUTES", 30),
        recovery_interval_seconds=_env_int(environ, "RECOVERY_INTERVAL_SECONDS", 30),
        failpoints=environ.get("SHOP_FAILPOINTS", ""),
        demo_data=_env_bool(environ, "SHOP_DEMO_DATA", env != "production"),
    )
    if not 0 <= settings.mail_sender_nice <= 19:
        raise ConfigError(f"MAIL_SENDER_NICE must be 0 to 19 (how much lower than the web workers the mail "
                          f"sender runs), got {settings.mail_sender_nice}")
    check_production_settings(settings)
    return settings


def check_production_settings(settings: Settings) -> None:
    """In production, a missing secret or database is a start-up error, never a silent default."""
    if not settings.is_production:
        return
    if settings.failpoints:
        raise ConfigError("SHOP_FAILPOINTS is for tests only and must not be set in production")
    if not settings.secret_key or len(settings.secret_key) < _MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"SECRET_KEY must be set to a random string of at least {_MIN_SECRET_KEY_LENGTH} characters "
            "in production (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if not settings.database_url or not settings.mongodb_url:
        raise ConfigError("DATABASE_URL and MONGODB_URL must both be set in production")
    if not settings.smtp_host:
        raise ConfigError("SMTP_HOST must be set in production: registration and account e-mails are sent "
                          "through it (SMTP_PORT, SMTP_USER, SMTP_PASSWORD, MAIL_FROM; docs/security.md)")
    if not settings.public_url:
        raise ConfigError("PUBLIC_URL must be set in production (e.g. https://shop.example.com): every link in "
                          "every e-mail starts with it, never with the Host header a request came with")
    if settings.ratelimit_storage_uri.startswith("memory://") and settings.web_workers > 1:
        raise ConfigError(
            "RATELIMIT_STORAGE_URI=memory:// keeps a separate count in each of the "
            f"{settings.web_workers} workers, so every limit would be {settings.web_workers} times looser: "
            "leave it unset (the shop's PostgreSQL) or use redis://…")


def development_secret_key(data_dir: Path) -> str:
    """A random key kept under the data directory, so sessions survive restarts in development.

    Every worker process of one shop must get the same key, and they start at the same moment: the
    key is written to a private temporary file and linked into place, so a reader never sees a
    half-written file, and whoever links first wins (the others read the winner's key).
    """
    path = data_dir / "secret_key"
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(temporary, path)  # atomic, and fails if another process's key is already there
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text().strip()


@dataclass(frozen=True)
class BackupSettings:
    directory: Path
    keep_last: int = 7
    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6
    key_file: str | None = None
    key: str | None = None  # urlsafe base64 in the environment; never on a command line
    destinations: str = ""  # comma-separated file:// s3:// sftp:// URLs (shop/backup/remote.py)
    ping_url: str | None = None  # monitoring: <url>/success or <url>/fail after each run
    environ: dict | None = None  # for the destinations' credentials (AWS_*, BACKUP_SFTP_*)


def load_backup_settings(environ: dict | None = None) -> BackupSettings:
    """Backup configuration (ops/backup_script.py), from the environment like everything else."""
    if environ is None:
        environ = _process_environment()
    data_dir = Path(environ.get("SHOP_DATA_DIR") or PROJECT_ROOT / "var")
    return BackupSettings(
        directory=Path(environ.get("BACKUP_DIR") or data_dir / "backups").resolve(),
        keep_last=_env_int(environ, "BACKUP_KEEP_LAST", 7),
        keep_daily=_env_int(environ, "BACKUP_KEEP_DAILY", 7),
        keep_weekly=_env_int(environ, "BACKUP_KEEP_WEEKLY", 4),
        keep_monthly=_env_int(environ, "BACKUP_KEEP_MONTHLY", 6),
        key_file=environ.get("BACKUP_ENCRYPTION_KEY_FILE") or None,
        key=environ.get("BACKUP_ENCRYPTION_KEY") or None,
        destinations=environ.get("BACKUP_DESTINATIONS", ""),
        ping_url=environ.get("BACKUP_PING_URL") or None,
        environ=environ,
    )
