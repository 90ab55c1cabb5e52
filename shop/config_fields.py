"""How a setting is declared and read: `var(...)` declares one (its environment variable, default and
parser, each said once, as dataclass field metadata), `read_fields` reads a dataclass of them from
an environment, and the `as_…` parsers turn a variable's text into a value, or into a ConfigError
that names the variable. shop.config declares the shop's settings with these."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shop.domain.taxes import SHIPPING_TAX_RULES, parse_tax_rates

T = TypeVar("T")


class ConfigError(RuntimeError):
    """The configuration cannot run the shop; the message names the variable to fix."""


def var(variable: str, default: Any, parse: Callable[[str, str], Any] | None = None, *,
         default_for: Callable[[str], Any] | None = None) -> Any:
    """A setting, declared once: the environment variable it is read from, its default (the
    development one; `default_for(SHOP_ENV)` where the environment changes it, applied by
    load_settings) and how its text is read (`parse(text, variable)`, raising ConfigError; plain
    text when None). An unset or blank variable takes the default."""
    metadata = {"variable": variable, "parse": parse or as_text, "default_for": default_for}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def as_text(raw: str, name: str) -> str:
    return raw


def as_int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def as_bool(raw: str, name: str) -> bool:
    """A yes/no setting; anything but the usual spellings is a start-up error naming the variable
    (a typo must never quietly turn a protection such as STARTTLS off)."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of {'/'.join(_TRUE)} or {'/'.join(_FALSE)}, got {raw!r}")


def as_seconds(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def as_networks(raw: str, name: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (10.0.0.5, 10.0.0.0/24, ::1), each checked."""
    networks = []
    for part in raw.split(","):
        if part.strip():
            try:
                networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{name}: {part.strip()!r} is not an IP address or network") from None
    return tuple(networks)


def as_hosts(raw: str, name: str) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in raw.split(",") if host.strip())


def as_shipping_tax_rule(raw: str, name: str) -> str:
    value = (raw or "follow_goods").strip().lower()
    if value not in SHIPPING_TAX_RULES:
        raise ConfigError(f"{name} must be one of {', '.join(SHIPPING_TAX_RULES)}; got {raw!r}")
    return value


def as_amount(raw: str, name: str) -> Decimal:
    """An amount in euros ("400", "3000.00"), at least one cent."""
    try:
        value = Decimal(raw.strip().replace(",", "."))
    except (InvalidOperation, AttributeError):
        raise ConfigError(f"{name} must be an amount in euros such as 400.00; got {raw!r}") from None
    if not value.is_finite() or value < Decimal("0.01") or value != value.quantize(Decimal("0.01")):
        raise ConfigError(f"{name} must be an amount in euros such as 400.00; got {raw!r}")
    return value


def as_tax_rates(raw: str, name: str) -> dict:
    try:
        return parse_tax_rates(raw)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def as_time_zone(raw: str, name: str) -> str:
    """An IANA time zone name (Europe/Madrid, Atlantic/Canary), checked against the zone database."""
    zone = raw.strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be a time zone such as Europe/Madrid or Atlantic/Canary, got {raw!r}") from None
    return zone


def as_payment_provider(raw: str | None, name: str = "PAYMENT_PROVIDER") -> str:
    value = (raw or "simulated").strip().lower()
    if value not in ("simulated", "redsys", "stripe"):
        raise ConfigError(f"{name} must be simulated, redsys or stripe; got {raw!r}")
    return value


def as_web_server(raw: str | None, name: str = "WEB_SERVER") -> str:
    if not raw:
        return "waitress" if os.name == "nt" else "gunicorn"
    value = raw.strip().lower()
    if value not in ("gunicorn", "waitress"):
        raise ConfigError(f"WEB_SERVER must be gunicorn or waitress; got {raw!r}")
    if value == "gunicorn" and os.name == "nt":
        raise ConfigError("gunicorn does not run on Windows: leave WEB_SERVER unset (waitress)")
    return value


def as_public_url(raw: str, name: str) -> str | None:
    return raw.strip().rstrip("/") or None


def as_path(raw: str, name: str) -> Path:
    return Path(raw).resolve()


def as_upper(raw: str, name: str) -> str:
    return raw.strip().upper()


def read_fields(cls: type[T], environ: Mapping[str, str], env: str, /, **values: Any) -> T:
    """An instance of the dataclass `cls` from `environ`: each field declared with `var` takes its
    variable's value when set and not blank, else its default (for `env`, where it has one); `values`
    fill the fields that are not read from a variable."""
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        variable = field.metadata.get("variable")
        if variable is None:
            continue
        raw = environ.get(variable)
        if raw is not None and raw.strip() != "":
            values[field.name] = field.metadata["parse"](raw, variable)
        elif field.metadata["default_for"] is not None:
            values[field.name] = field.metadata["default_for"](env)
    return cls(**values)
