"""All configuration, read from the environment (and an optional `.env`) in this one place."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from shop.config_fields import (
    ConfigError,
    as_amount,
    as_bool,
    as_hosts,
    as_int,
    as_networks,
    as_path,
    as_payment_provider,
    as_public_url,
    as_seconds,
    as_shipping_tax_rule,
    as_tax_rates,
    as_time_zone,
    as_upper,
    as_web_server,
    read_fields,
    var,
)
from shop.domain.invoicing import DEFAULT_SIMPLIFIED_LIMIT
from shop.domain.orders import UnpaidLimits
from shop.domain.payments import PaymentAttemptLimits
from shop.domain.taxes import DEFAULT_RATES

__all__ = ["PROJECT_ROOT", "BackupSettings", "ConfigError", "Settings", "check_production_settings",
           "development_secret_key", "load_backup_settings", "load_credentials", "load_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_ENVIRONMENTS = ("development", "testing", "production")
_MIN_SECRET_KEY_LENGTH = 32
_VARIABLE_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


@dataclass(frozen=True)
class Settings:
    """Every setting of the shop, each declared once: name, variable, default and how it is read.
    `load_settings` reads them from the environment; the README's table documents the same list
    (tests/unit/test_config.py compares the two)."""

    env: str = "development"  # SHOP_ENV, read first: some defaults depend on it
    secret_key: str | None = var("SECRET_KEY", None)
    database_url: str | None = var("DATABASE_URL", None)
    # optional read-only replica: staff reports and lists only
    database_read_url: str | None = var("DATABASE_READ_URL", None)
    mongodb_url: str | None = var("MONGODB_URL", None)
    mongodb_db: str = var("MONGODB_DB", "shop")
    data_dir: Path = var("SHOP_DATA_DIR", PROJECT_ROOT / "var", as_path)
    host: str = var("HOST", "127.0.0.1")
    port: int = var("PORT", 5000, as_int)
    web_workers: int = var("WEB_CONCURRENCY", 2, as_int)
    # "waitress" where gunicorn does not run (Windows: the default there)
    web_server: str = var("WEB_SERVER", "gunicorn", as_web_server, default_for=lambda env: as_web_server(None))
    log_level: str = var("LOG_LEVEL", "INFO", as_upper)
    # /metrics answers only with `Authorization: Bearer <token>`
    metrics_token: str | None = var("METRICS_TOKEN", None)
    # set by shop.runner for gunicorn's workers
    metrics_multiprocess_dir: str | None = var("PROMETHEUS_MULTIPROC_DIR", None)
    ratelimit_storage_uri: str = var("RATELIMIT_STORAGE_URI", "")  # empty: REDIS_URL when set, else PostgreSQL
    redis_url: str | None = var("REDIS_URL", None)  # optional: rate limits and the page cache move to Redis
    login_rate_limit: str = var("LOGIN_RATE_LIMIT", "10 per minute")
    register_rate_limit: str = var("REGISTER_RATE_LIMIT", "10 per hour")  # registrations per client address
    activation_link_hours: int = var("ACTIVATION_LINK_HOURS", 48, as_int)
    # code previews (cart, product page) per account and per address
    discount_code_rate_limit: str = var("DISCOUNT_CODE_RATE_LIMIT", "10 per minute")
    # "forgot my password" per address (a rate, not a password)
    password_reset_rate_limit: str = var("PASSWORD_RESET_RATE_LIMIT", "10 per hour")  # noqa: S105
    password_reset_link_minutes: int = var("PASSWORD_RESET_LINK_MINUTES", 60, as_int)
    # E-mail: SMTP when smtp_host is set; otherwise .eml files in <data_dir>/outbox (not in production)
    smtp_host: str | None = var("SMTP_HOST", None)
    smtp_port: int = var("SMTP_PORT", 587, as_int)
    smtp_user: str | None = var("SMTP_USER", None)
    smtp_password: str | None = var("SMTP_PASSWORD", None)
    # Where customers pay (docs/payments.md): the simulated provider, Redsys with the bank's data, or Stripe
    payment_provider: str = var("PAYMENT_PROVIDER", "simulated", as_payment_provider)
    redsys_merchant_code: str | None = var("REDSYS_MERCHANT_CODE", None)
    redsys_terminal: str = var("REDSYS_TERMINAL", "1")
    redsys_secret_key: str | None = var("REDSYS_SECRET_KEY", None)
    redsys_url: str = var("REDSYS_URL", "https://sis-t.redsys.es:25443/sis/realizarPago")
    stripe_secret_key: str | None = var("STRIPE_SECRET_KEY", None)  # sk_…
    stripe_webhook_secret: str | None = var("STRIPE_WEBHOOK_SECRET", None)  # whsec_…, the endpoint's signing secret
    stripe_api_base: str = var("STRIPE_API_BASE", "https://api.stripe.com")
    # hosts webhook endpoints may be on although they are not public internet addresses (tests, an
    # internal receiver): the shop refuses every other loopback, private or link-local address
    webhook_allowed_hosts: tuple[str, ...] = var("WEBHOOK_ALLOWED_HOSTS", (), as_hosts)
    redsys_rest_url: str = var("REDSYS_REST_URL", "https://sis-t.redsys.es:25443/sis/rest/trataPeticionREST")
    smtp_starttls: bool = var("SMTP_STARTTLS", True, as_bool)
    smtp_tls: bool = var("SMTP_TLS", False, as_bool)  # implicit TLS (SMTPS) instead of STARTTLS
    smtp_ca_file: str | None = var("SMTP_CA_FILE", None)
    mail_from: str = var("MAIL_FROM", "Tienda <no-reply@localhost>")
    # IVA rates per tax class, in percent (TAX_RATES="general:21,reduced:10,super_reduced:4")
    tax_rates: dict = var("TAX_RATES", DEFAULT_RATES, as_tax_rates)
    # Above this (IVA included) an order gets a full invoice, and checkout asks whom it is made out to
    simplified_invoice_limit: Decimal = var("SIMPLIFIED_INVOICE_LIMIT", DEFAULT_SIMPLIFIED_LIMIT, as_amount)
    # Shipping's IVA: follow_goods (the goods' rate, apportioned by base when mixed) or general
    shipping_tax_rule: str = var("SHIPPING_TAX_RULE", "follow_goods", as_shipping_tax_rule)
    # the shop's clock for people: every date and time a page or a mail shows (stored times stay UTC)
    time_zone: str = var("SHOP_TIME_ZONE", "Europe/Madrid", as_time_zone)
    # The shop's name, as the navbar and page titles show it (a name is not translated)
    shop_name: str = var("SHOP_NAME", "Tienda Híbrida")
    # The seller on invoices (factura simplificada) and in every page's footer
    seller_name: str = var("SELLER_NAME", "Tienda Híbrida S.L.")
    seller_tax_id: str = var("SELLER_TAX_ID", "B00000000")
    seller_address: str = var("SELLER_ADDRESS", "Calle Mayor 1, 28013 Madrid")
    # Every link in every mail starts with this, never with the Host a request came with; default
    # (development only): this machine
    public_url: str | None = var("PUBLIC_URL", None, as_public_url)
    # Host names requests may carry; others get a 400. Empty: PUBLIC_URL's host and this machine's
    # loopback names, or any host in development when PUBLIC_URL is unset too.
    trusted_hosts: tuple[str, ...] = var("TRUSTED_HOSTS", (), as_hosts)
    mail_send_interval_seconds: float = var("MAIL_SEND_INTERVAL_SECONDS", 2.0, as_seconds)
    # the sender process's CPU priority below the web workers' (0: the same)
    mail_sender_nice: int = var("MAIL_SENDER_NICE", 10, as_int)
    # where the OS has it (Linux), the sender only gets CPU nobody else wants
    mail_sender_idle: bool = var("MAIL_SENDER_IDLE", True, as_bool)
    session_cookie_secure: bool = var("SESSION_COOKIE_SECURE", False, as_bool,
                                       default_for=lambda env: env == "production")
    session_idle_minutes: int = var("SESSION_IDLE_MINUTES", 60, as_int)  # a login unused this long ends
    # and any login ends this long after it started, however much it is used
    session_max_hours: int = var("SESSION_MAX_HOURS", 12, as_int)
    products_per_page: int = var("PRODUCTS_PER_PAGE", 12, as_int)
    # connections each process keeps to PostgreSQL (and to its read replica)
    db_pool_size: int = var("DB_POOL_SIZE", 10, as_int)
    # a request running longer is logged with its stack, and readiness says "wedged"
    request_stuck_seconds: float = var("REQUEST_STUCK_SECONDS", 30.0, as_seconds)
    # readiness answers within this (load balancers wait 2–5 s)
    readiness_timeout_seconds: float = var("READINESS_TIMEOUT_SECONDS", 2.0, as_seconds)
    # A listener of its own for readiness (shop.health_server), answering however busy the request
    # threads are: what load balancers should check. 0: none (/readyz on PORT only).
    health_port: int = var("HEALTH_PORT", 0, as_int)
    # a catalog page is reused this long (0 in testing, where a page must show the last write)
    catalog_cache_seconds: int = var("CATALOG_CACHE_SECONDS", 2, as_int,
                                      default_for=lambda env: 0 if env == "testing" else 2)
    # How long a shared cache (nginx, a CDN) may serve a visitor's catalog page before asking the
    # shop again, and how much longer it may serve it while it asks (docs/http-caching.md)
    http_cache_seconds: int = var("HTTP_CACHE_SECONDS", 10, as_int)
    http_cache_stale_seconds: int = var("HTTP_CACHE_STALE_SECONDS", 30, as_int)
    low_stock_threshold: int = var("LOW_STOCK_THRESHOLD", 5, as_int)  # the dashboard's default
    checkout_lease_seconds: int = var("CHECKOUT_LEASE_SECONDS", 30, as_int)  # docs/checkout.md
    # What one account / one client address may hold in unpaid orders at once (0: no limit)
    max_unpaid_orders: int = var("MAX_UNPAID_ORDERS", 3, as_int)
    max_unpaid_units: int = var("MAX_UNPAID_UNITS", 50, as_int)
    max_unpaid_orders_per_address: int = var("MAX_UNPAID_ORDERS_PER_ADDRESS", 10, as_int)
    max_unpaid_units_per_address: int = var("MAX_UNPAID_UNITS_PER_ADDRESS", 200, as_int)
    # declined payments within the window before paying pauses
    payment_attempts_per_order: int = var("PAYMENT_ATTEMPTS_PER_ORDER", 5, as_int)
    payment_attempts_per_account: int = var("PAYMENT_ATTEMPTS_PER_ACCOUNT", 10, as_int)
    payment_attempt_window_minutes: int = var("PAYMENT_ATTEMPT_WINDOW_MINUTES", 15, as_int)
    # Comprar, cart checkout and POST /api/orders together
    checkout_rate_limit: str = var("CHECKOUT_RATE_LIMIT", "20 per minute")
    # every /api/v1 request, per token or key (per address when anonymous), on top of the above
    api_rate_limit: str = var("API_RATE_LIMIT", "300 per minute")
    # load balancers in front that set X-Forwarded-For/-Proto (werkzeug ProxyFix)
    trusted_proxies: int = var("TRUSTED_PROXIES", 0, as_int)
    # The load balancers' own addresses or networks: when set, X-Forwarded-* is believed only on
    # connections from them; a client reaching an instance directly is then seen as itself.
    trusted_proxy_addresses: tuple[str, ...] = var("TRUSTED_PROXY_ADDRESSES", (), as_networks)
    pending_order_ttl_minutes: int = var("PENDING_ORDER_TTL_MINUTES", 30, as_int)
    recovery_interval_seconds: int = var("RECOVERY_INTERVAL_SECONDS", 30, as_int)
    failpoints: str = var("SHOP_FAILPOINTS", "")  # tests only; refused in production
    # fill empty databases with the demo catalog and users
    demo_data: bool = var("SHOP_DEMO_DATA", True, as_bool, default_for=lambda env: env != "production")

    @property
    def audit_spool_path(self) -> Path:
        """Where audit events wait for the hash chain (shop.services.audit), one file per host."""
        return self.data_dir / "audit-spool.jsonl"

    @property
    def payment_limits(self) -> PaymentAttemptLimits:
        return PaymentAttemptLimits(self.payment_attempts_per_order, self.payment_attempts_per_account,
                                    self.payment_attempt_window_minutes)

    @property
    def unpaid_limits(self) -> UnpaidLimits:
        return UnpaidLimits(self.max_unpaid_orders, self.max_unpaid_units, self.max_unpaid_orders_per_address,
                            self.max_unpaid_units_per_address)

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
        from dotenv import load_dotenv  # only when a .env is to be read

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
    settings = read_fields(Settings, environ, env, env=env)
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
    if settings.payment_provider == "simulated":
        raise ConfigError("PAYMENT_PROVIDER must name a real provider in production (redsys, stripe): the simulated "
                          "one lets anyone mark an order paid (docs/payments.md)")
    if settings.payment_provider == "redsys" and not (settings.redsys_merchant_code and settings.redsys_secret_key):
        raise ConfigError("PAYMENT_PROVIDER=redsys needs REDSYS_MERCHANT_CODE and REDSYS_SECRET_KEY (the bank's "
                          "back office gives both; docs/payments.md)")
    if settings.payment_provider == "stripe" and not (settings.stripe_secret_key and settings.stripe_webhook_secret):
        raise ConfigError("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET (the Dashboard's "
                          "API key and the webhook endpoint's signing secret; docs/payments.md)")
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
    """The backups' settings (ops/backup_script.py, docs/backup.md), declared like the shop's."""

    directory: Path  # BACKUP_DIR, else <SHOP_DATA_DIR>/backups (worked out by load_backup_settings)
    keep_last: int = var("BACKUP_KEEP_LAST", 7, as_int)
    keep_daily: int = var("BACKUP_KEEP_DAILY", 7, as_int)
    keep_weekly: int = var("BACKUP_KEEP_WEEKLY", 4, as_int)
    keep_monthly: int = var("BACKUP_KEEP_MONTHLY", 6, as_int)
    key_file: str | None = var("BACKUP_ENCRYPTION_KEY_FILE", None)
    key: str | None = var("BACKUP_ENCRYPTION_KEY", None)  # urlsafe base64 in the environment; never on a command line
    destinations: str = var("BACKUP_DESTINATIONS", "")  # comma-separated file:// s3:// sftp:// ftp:// URLs
    ping_url: str | None = var("BACKUP_PING_URL", None)  # monitoring: <url>/success or <url>/fail after each run
    environ: Mapping[str, str] | None = None  # for the destinations' credentials (AWS_*, BACKUP_SFTP_*)


def load_backup_settings(environ: dict | None = None) -> BackupSettings:
    """Backup configuration (ops/backup_script.py), from the environment like everything else."""
    if environ is None:
        environ = _process_environment()
    data_dir = Path(environ.get("SHOP_DATA_DIR") or PROJECT_ROOT / "var")
    directory = Path(environ.get("BACKUP_DIR") or data_dir / "backups").resolve()
    return read_fields(BackupSettings, environ, "", directory=directory, environ=environ)
