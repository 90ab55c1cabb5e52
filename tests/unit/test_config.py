"""Configuration comes from the environment; production refuses unsafe defaults."""

import re
from pathlib import Path

import pytest

from shop.config import ConfigError, load_settings


def test_development_defaults_need_no_environment(tmp_path):
    settings = load_settings({"SHOP_DATA_DIR": str(tmp_path)})
    assert settings.env == "development"
    assert settings.uses_embedded_databases
    assert settings.port == 5000


def test_production_refuses_to_start_without_a_real_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"SHOP_ENV": "production", "DATABASE_URL": "postgresql://x", "MONGODB_URL": "mongodb://x"})
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"SHOP_ENV": "production", "SECRET_KEY": "short", "DATABASE_URL": "postgresql://x",
                       "MONGODB_URL": "mongodb://x"})


def test_production_refuses_to_start_without_database_urls():
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings({"SHOP_ENV": "production", "SECRET_KEY": "k" * 40})


_PRODUCTION = {"SHOP_ENV": "production", "SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://x",
               "MONGODB_URL": "mongodb://db.example:27017", "SMTP_HOST": "smtp.example",
               "PUBLIC_URL": "https://tienda.example/", "PAYMENT_PROVIDER": "redsys",
               "REDSYS_MERCHANT_CODE": "999008881", "REDSYS_SECRET_KEY": "sq7HjrUOBfKmC576ILgskD5srU870gJ7"}


def test_production_cookies_are_secure_by_default():
    settings = load_settings({**_PRODUCTION, "PUBLIC_URL": "https://tienda.example"})
    assert settings.session_cookie_secure


def test_bad_values_name_the_variable():
    with pytest.raises(ConfigError, match="PORT"):
        load_settings({"PORT": "http"})
    with pytest.raises(ConfigError, match="SHOP_ENV"):
        load_settings({"SHOP_ENV": "staging"})


def test_the_banner_names_a_host_a_browser_can_open():
    from shop.runner import _browser_host

    assert _browser_host("127.0.0.1") == "localhost"
    assert _browser_host("0.0.0.0") == "localhost"
    assert _browser_host("shop.example.com") == "shop.example.com"
    assert _browser_host("192.0.2.10") == "192.0.2.10"


def test_production_refuses_the_simulated_payment_provider_and_an_incomplete_redsys():
    with pytest.raises(ConfigError, match="PAYMENT_PROVIDER"):
        load_settings({**_PRODUCTION, "PAYMENT_PROVIDER": "simulated"})
    with pytest.raises(ConfigError, match="REDSYS_SECRET_KEY"):
        load_settings({k: v for k, v in _PRODUCTION.items() if k != "REDSYS_SECRET_KEY"})
    with pytest.raises(ConfigError, match="PAYMENT_PROVIDER"):
        load_settings({**_PRODUCTION, "PAYMENT_PROVIDER": "paypal"})


def test_production_refuses_to_start_without_a_mail_server():
    with pytest.raises(ConfigError, match="SMTP_HOST"):
        load_settings({k: v for k, v in _PRODUCTION.items() if k != "SMTP_HOST"})


def test_production_refuses_a_per_process_rate_limit_store_with_several_workers():
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI=memory://"):
        load_settings({**_PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": "4"})
    assert load_settings({**_PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": "1"})


def test_rate_limits_are_counted_in_the_shops_postgresql_unless_another_store_is_set():
    assert load_settings(_PRODUCTION).rate_limit_store == ("shop+postgresql://x", {})
    assert load_settings({**_PRODUCTION, "RATELIMIT_STORAGE_URI": "redis://r:6379/0"}).rate_limit_store == (
        "redis://r:6379/0", {})


def test_workers_starting_together_all_get_the_same_development_key(tmp_path):
    """The race that made a session signed by one gunicorn worker unreadable by the other."""
    from concurrent.futures import ThreadPoolExecutor

    from shop.config import development_secret_key

    with ThreadPoolExecutor(16) as pool:
        keys = set(pool.map(lambda _: development_secret_key(tmp_path), range(64)))
    (key,) = keys
    assert len(key) >= 32 and (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left


def test_production_refuses_to_start_without_the_public_url_that_mail_links_use():
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_settings({k: v for k, v in _PRODUCTION.items() if k != "PUBLIC_URL"})


def test_the_shop_answers_only_its_public_hosts_unless_told_otherwise():
    assert load_settings(_PRODUCTION).allowed_hosts == ("tienda.example", "localhost", "127.0.0.1", "::1")
    assert load_settings({**_PRODUCTION, "TRUSTED_HOSTS": "a.example, .b.example"}).allowed_hosts == (
        "a.example", ".b.example")
    assert load_settings({}).allowed_hosts == ()  # development without PUBLIC_URL: any host


@pytest.mark.parametrize("name", ["SMTP_STARTTLS", "SMTP_TLS", "SESSION_COOKIE_SECURE", "SHOP_DEMO_DATA",
                                  "MAIL_SENDER_IDLE"])
@pytest.mark.parametrize("raw", ["maybe", "ture", "2"])
def test_a_yes_no_setting_that_cannot_be_read_stops_the_start_naming_it(name, raw):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: raw})


@pytest.mark.parametrize(("raw", "expected"), [("off", False), ("NO", False), ("0", False), ("on", True),
                                               ("Yes", True), ("", True)])
def test_yes_no_settings_read_the_usual_spellings(raw, expected):
    assert load_settings({"SMTP_STARTTLS": raw}).smtp_starttls is expected


def test_second_settings_take_fractions_and_refuse_what_is_not_a_number():
    settings = load_settings({"MAIL_SEND_INTERVAL_SECONDS": "0.5", "READINESS_TIMEOUT_SECONDS": "1.5"})
    assert (settings.mail_send_interval_seconds, settings.readiness_timeout_seconds) == (0.5, 1.5)
    for name in ("MAIL_SEND_INTERVAL_SECONDS", "READINESS_TIMEOUT_SECONDS"):
        for raw in ("soon", "0", "-1", "nan"):
            with pytest.raises(ConfigError, match=name):
                load_settings({name: raw})


def test_systemd_credentials_fill_in_secrets_the_environment_does_not_set(tmp_path):
    from shop.config import load_credentials

    (tmp_path / "SECRET_KEY").write_text("k" * 48 + "\n")
    (tmp_path / "SMTP_PASSWORD").write_text("from the credential")
    (tmp_path / "not a variable").write_text("ignored")
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path), "SMTP_PASSWORD": "set by the operator"}
    assert load_credentials(environ) == ["SECRET_KEY"]
    assert environ["SECRET_KEY"] == "k" * 48  # the file's final newline is not part of the secret
    assert environ["SMTP_PASSWORD"] == "set by the operator"
    assert "not a variable" not in environ
    assert load_credentials({}) == [] and load_credentials({"CREDENTIALS_DIRECTORY": str(tmp_path / "gone")}) == []


def _readme_settings() -> dict[str, str]:
    """variable → its documented default, from the README's configuration table."""
    from tests.conftest import ROOT

    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1]
    table = next(block for block in section.split("\n\n") if block.startswith("| variable"))
    documented = {}
    for row in table.splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        defaults = cells[1].split(" / ")
        for index, name in enumerate(names):
            documented[name] = defaults[index] if len(defaults) == len(names) else cells[1]
    return documented


def _documented_as(default, text: str) -> bool:
    from decimal import Decimal

    from shop.config import PROJECT_ROOT
    from shop.domain.taxes import parse_tax_rates

    quoted = re.match(r"`([^`]*)`", text)
    word = quoted.group(1) if quoted else text.split()[0]
    if default in (None, "", ()):
        return word in ("unset", "–")
    if isinstance(default, bool):
        return word in (("on", "1") if default else ("off", "0"))
    if isinstance(default, Path):
        return (PROJECT_ROOT / word).resolve() == default.resolve()
    if isinstance(default, dict):
        return parse_tax_rates(word) == default
    if isinstance(default, int | float | Decimal):
        return float(word) == default
    return word == default


# Documented, but not settings of the shop's process; or settings whose default is worked out at start-up.
_NOT_SETTINGS = {"CREDENTIALS_DIRECTORY", "TEST_DATABASE_URL", "TEST_MONGODB_URL"}
_WORKED_OUT = {"SECRET_KEY", "PUBLIC_URL", "TRUSTED_HOSTS", "PROMETHEUS_MULTIPROC_DIR"}


def test_every_setting_is_documented_in_the_readme_with_its_default_and_nothing_else_is():
    import dataclasses

    from shop.config import Settings

    declared = {"SHOP_ENV": Settings().env}
    for field in dataclasses.fields(Settings):
        if "variable" in field.metadata:
            default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
            declared[field.metadata["variable"]] = default
    documented = _readme_settings()
    assert set(declared) == set(documented) - _NOT_SETTINGS
    wrong = {name: (declared[name], text) for name, text in documented.items()
             if name in declared and name not in _WORKED_OUT and not _documented_as(declared[name], text)}
    assert not wrong


def test_the_shops_time_zone_is_madrid_unless_set_and_a_wrong_one_is_refused():
    assert load_settings({}, read_dotenv=False).time_zone == "Europe/Madrid"
    assert load_settings({"SHOP_TIME_ZONE": "Atlantic/Canary"}, read_dotenv=False).time_zone == "Atlantic/Canary"
    with pytest.raises(ConfigError, match="SHOP_TIME_ZONE"):
        load_settings({"SHOP_TIME_ZONE": "Madrid"}, read_dotenv=False)
